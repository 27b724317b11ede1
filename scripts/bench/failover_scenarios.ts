/**
 * The fault scenarios behind the failover benchmark (`scripts/bench/failover.ts`), which
 * `tests/integration/failover_test.ts` and `partition_test.ts` assert on: each runs on a fresh local cluster
 * (`formCluster` of `tests/helpers/cluster.ts`) with the continuous writer of `tests/helpers/writer.ts`, injects one
 * fault (`kill`, `term`, `crash`, `partition`, `switchover`) and returns what happened, with times from
 * `performance.now()`; `figures` turns a result into the benchmark's JSON fields.
 *
 * @module
 */
import type { LocalCluster, Timing } from "../../tests/helpers/cluster.ts";
import { stopAgent } from "../../tests/helpers/processes.ts";
import { supervisorPids } from "./host_processes.ts";
import type { CutMode } from "../../tests/helpers/tcp_proxy.ts";
import {
  type AckOverlap,
  type AckRecord,
  createWriteTable,
  firstAckAfter,
  type LeaderEvent,
  type LeaderWatch,
  longestGap,
  missingOn,
  overlappingWindows,
  startWriter,
  watchLeaderKey,
  type Writer,
} from "../../tests/helpers/writer.ts";
import { type MemberLayout, readHealth, waitFor, waitHealthy, withSql } from "../lib/local_cluster.ts";
import { parseLsn } from "../../src/core/types.ts";
import type { MemberRecord } from "../../src/core/types.ts";

export type { Timing };

/**
 * `slow`: Patroni's defaults. `fast`: ttl 10 / loop_wait 2 / retry_timeout 4, the short profile hactl allows
 * (its fence makes a short lease safe; Patroni's minimum is 20). `short`: ttl 5 / loop_wait 1 / retry_timeout 2,
 * hactl's floor.
 */
export const TIMINGS = {
  slow: { ttl: 30, loopWait: 10, retryTimeout: 10 },
  fast: { ttl: 10, loopWait: 2, retryTimeout: 4 },
  short: { ttl: 5, loopWait: 1, retryTimeout: 2 },
} as const satisfies Record<string, Timing>;

export function timingLabel(t: Timing): string {
  return `${t.ttl}/${t.loopWait}/${t.retryTimeout}`;
}

/** The postmaster's pid from the first line of `<data_dir>/postmaster.pid`. */
export async function postmasterPid(m: MemberLayout): Promise<number> {
  const text = await Deno.readTextFile(`${m.dataDir}/postmaster.pid`);
  const pid = Number(text.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${m.dataDir}/postmaster.pid: no pid in ${text}`);
  return pid;
}

function processAlive(pid: number): boolean {
  try {
    // A zombie is as good as gone; /proc/<pid>/stat's third field is the state.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** `role/state/replication_state tl=N` of a member key, or `absent`. */
function memberState(data: MemberRecord | undefined): string {
  if (!data) return "absent";
  return `${data.role}/${data.state}/${data.replication_state ?? "-"} tl=${data.timeline ?? "?"}`;
}

async function memberData(c: LocalCluster, name: string): Promise<MemberRecord | undefined> {
  const h = await readHealth(c.layout);
  return h.view.members.find((m) => m.name === name)?.data;
}

/**
 * Wait until `name` is a streaming replica (its member key says so) and, when `leader` is given, the leader shows it
 * streaming in pg_stat_replication. Returns the ms it took, or null at the deadline; `state` is the last seen.
 */
async function waitStreaming(
  c: LocalCluster,
  name: string,
  leader: string,
  deadlineMs: number,
): Promise<{ ms: number | null; shownMs: number | null; state: string }> {
  const t0 = performance.now();
  let state = "absent";
  let shownMs: number | null = null;
  while (performance.now() - t0 < deadlineMs) {
    try {
      const data = await memberData(c, name);
      state = memberState(data);
      if (data && shownMs === null) shownMs = performance.now() - t0;
      if (data?.role === "replica" && data.replication_state === "streaming") {
        const seen = await withSql(c.byName(leader), async (sql) => {
          const rows = await sql`SELECT 1 FROM pg_stat_replication
            WHERE application_name = ${name} AND state = 'streaming'`;
          return rows.length === 1;
        });
        if (seen) return { ms: performance.now() - t0, shownMs, state };
      }
    } catch (err) {
      state = `${state} (read failed: ${(err as Error).message})`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ms: null, shownMs, state };
}

/** Wait until the writer has `n` acks from `node`. */
function waitAcks(writer: Writer, node: string, n: number, deadlineMs: number): Promise<true> {
  return waitFor(`${n} acknowledged writes on ${node}`, deadlineMs, () => {
    const got = writer.acks.filter((r) => r.node === node).length;
    return Promise.resolve(
      got >= n ? true : { notYet: `${got} acks; failures ${JSON.stringify(writer.lastErrors)}` },
    );
  }, 50);
}

/** WAL position (max of received and replayed) of each replica once its WAL receiver stopped streaming. */
async function finalWalPositions(
  replicas: MemberLayout[],
  deadlineMs: number,
): Promise<Record<string, number>> {
  const read = (m: MemberLayout) =>
    withSql(m, async (sql) => {
      const [row] =
        await sql`SELECT pg_last_wal_receive_lsn()::text AS r, pg_last_wal_replay_lsn()::text AS p,
        (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS s`;
      const pos = Math.max(row!.r ? parseLsn(row!.r) : 0, row!.p ? parseLsn(row!.p) : 0);
      return { pos, streaming: row!.s === "streaming" };
    });
  const until = performance.now() + deadlineMs;
  let last: Record<string, number> = {};
  for (;;) {
    const rows = await Promise.all(replicas.map((m) => read(m).catch(() => null)));
    last = Object.fromEntries(replicas.map((m, i) => [m.name, rows[i]?.pos ?? 0]));
    if (rows.every((r) => r && !r.streaming) || performance.now() > until) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What every scenario reports. Times in ms; `t0` is the moment of the fault. */
export interface ScenarioBase {
  oldLeader: string;
  t0: number;
  records: AckRecord[];
  events: LeaderEvent[];
  overlaps: AckOverlap[];
  /** Longest stretch without any acknowledged write during the recording. */
  writeGapMs: number;
  /** Acknowledged writes missing on the primary at the end. */
  lost: number[];
}

export interface KillResult extends ScenarioBase {
  fault: "kill";
  newLeader: string;
  walPositions: Record<string, number>;
  /** Replicas with the highest WAL position after the kill. */
  expectedLeaders: string[];
  /** The last WAL position the old leader published in etcd (the `status` key's optime) before the kill. */
  publishedOptime: number | null;
  killToExpiryMs: number | null;
  expiryToLeaderMs: number | null;
  expiryToFirstWriteMs: number | null;
  killToFirstWriteMs: number;
  /** The remaining replica streaming from the new primary, ms after the first write there (null: not in time). */
  otherReplicaStreamingMs: number | null;
  otherReplicaState: string;
  /** After the old primary's agent restarts: when its member key showed up, when it streamed, its last state. */
  rejoinShownMs: number | null;
  rejoinStreamingMs: number | null;
  rejoinState: string;
}

export interface TermResult extends ScenarioBase {
  fault: "term";
  newLeader: string;
  walPositions: Record<string, number>;
  termToExitMs: number;
  exitToFirstWriteMs: number;
  releaseToFirstWriteMs: number | null;
  termToFirstWriteMs: number;
  rejoinStreamingMs: number | null;
  rejoinState: string;
}

export interface CrashResult extends ScenarioBase {
  fault: "crash";
  /** Leader key events after the crash (none expected: the same member keeps the lock). */
  leaderChanges: LeaderEvent[];
  crashToFirstWriteMs: number;
  replicasStreamingMs: number | null;
}

export interface PartitionResult extends ScenarioBase {
  fault: "partition";
  cutMode: CutMode;
  newLeader: string;
  /** The old primary's last acknowledged write, ms after the cut (negative: it took none after the cut). */
  cutToLastOldAckMs: number | null;
  cutToExpiryMs: number | null;
  /** From the old primary's last ack to the lease's expiry (positive: it stopped taking writes before). */
  lastOldAckToExpiryMs: number | null;
  expiryToLeaderMs: number | null;
  expiryToFirstWriteMs: number | null;
  cutToFirstWriteMs: number;
  /** What stopped the old primary first, from its log: `demoted` (DCS not accessible), `fenced`, `unknown`. */
  oldPrimaryStop: "demoted" | "fenced" | "unknown";
  otherReplicaStreamingMs: number | null;
  otherReplicaState: string;
  /** From `heal()` to the old primary streaming from the new leader (null: not within the deadline). */
  healToStreamingMs: number | null;
  rejoinState: string;
  /** Whether the old primary ran pg_rewind after the heal. */
  rewound: boolean;
}

/** Start the writer and the leader watch, wait for writes on the leader, run `body`, always clean up. */
async function withObservers<T>(
  c: LocalCluster,
  body: (writer: Writer, watch: LeaderWatch) => Promise<T>,
): Promise<T> {
  await createWriteTable(c.leader);
  const watch = await watchLeaderKey(c.etcd.endpoints, c.layout.scope);
  const writer = startWriter(c.members);
  try {
    await waitAcks(writer, c.leader.name, 25, 15_000);
    return await body(writer, watch);
  } finally {
    await writer.stop();
    await watch.close();
  }
}

function analyse(records: AckRecord[]) {
  return { overlaps: overlappingWindows(records), writeGapMs: longestGap(records).ms };
}

/**
 * After a fault at `t0` on the leader `oldName`: wait for another member to put the leader key (within
 * `deadlineMs`, by default the lease plus 20 s) and for the first write it acknowledged; also the key's
 * deletion (expiry or release) after `t0`, if the watch saw one.
 */
async function takeover(
  c: LocalCluster,
  writer: Writer,
  watch: LeaderWatch,
  oldName: string,
  t0: number,
  deadlineMs = (c.timing.ttl + c.timing.loopWait) * 1000 + 20_000,
) {
  const put = await waitFor(
    "a replica to take the leader key",
    deadlineMs,
    () => Promise.resolve(watch.firstAfter(t0, (e) => e.type === "put" && e.value !== oldName)),
    20,
  );
  const newLeader = put.value!;
  const first = await waitFor(
    `the first write acknowledged by ${newLeader}`,
    15_000,
    () => Promise.resolve(firstAckAfter(writer.acks, t0, newLeader)),
    20,
  );
  return { put, newLeader, first, expiry: watch.firstAfter(t0, (e) => e.type === "delete") };
}

/** How long after the new leader's first write (`firstAckAt`) the remaining replica streamed from it. */
async function otherReplicaFollows(c: LocalCluster, newLeader: string, firstAckAt: number) {
  const other = c.replicas.find((m) => m.name !== newLeader)!;
  const waitFrom = performance.now();
  const otherStreaming = await waitStreaming(c, other.name, newLeader, 30_000);
  const otherReplicaStreamingMs = otherStreaming.ms === null
    ? null
    : waitFrom + otherStreaming.ms - firstAckAt;
  return { otherReplicaStreamingMs, otherStreaming };
}

/**
 * SIGKILL of the primary's agent and postmaster together; with `host`, of its fencing supervisor as well (the loss
 * of every hactl and Postgres process of the host at once); see the module comment.
 */
export function killScenario(
  c: LocalCluster,
  opts: { rejoinDeadlineMs: number; host?: boolean },
): Promise<KillResult> {
  const old = c.leader;
  return withObservers(c, async (writer, watch) => {
    const agent = c.agents.get(old.name)!;
    const pid = await postmasterPid(old);
    const supervisors = opts.host ? supervisorPids(agent.pid) : [];
    if (opts.host && supervisors.length !== 1) {
      throw new Error(
        `${old.name}'s agent ${agent.pid} has ${supervisors.length} fencing supervisors, expected 1`,
      );
    }
    const publishedOptime = (await readHealth(c.layout)).view.status?.optime ?? null;
    const t0 = performance.now();
    agent.kill("SIGKILL");
    Deno.kill(pid, "SIGKILL");
    for (const s of supervisors) Deno.kill(s, "SIGKILL");
    c.agents.delete(old.name);
    await agent.status;
    const walPositions = await finalWalPositions(c.replicas, 5_000);
    const top = Math.max(...Object.values(walPositions));
    const expectedLeaders = c.replicas.filter((m) => walPositions[m.name] === top).map((m) => m.name);
    const leaseMs = (c.timing.ttl + c.timing.loopWait) * 1000;
    const { put, newLeader, first, expiry } = await takeover(
      c,
      writer,
      watch,
      old.name,
      t0,
      leaseMs + 20_000,
    );
    const { otherReplicaStreamingMs, otherStreaming } = await otherReplicaFollows(c, newLeader, first.ackAt);
    await c.spawn(old.name);
    const rejoin = await waitStreaming(c, old.name, newLeader, opts.rejoinDeadlineMs);
    const records = await writer.stop();
    return {
      fault: "kill",
      oldLeader: old.name,
      newLeader,
      t0,
      records,
      events: [...watch.events],
      ...analyse(records),
      lost: await missingOn(c.byName(newLeader), records),
      walPositions,
      expectedLeaders,
      publishedOptime,
      killToExpiryMs: expiry ? expiry.at - t0 : null,
      expiryToLeaderMs: expiry ? put.at - expiry.at : null,
      expiryToFirstWriteMs: expiry ? first.ackAt - expiry.at : null,
      killToFirstWriteMs: first.ackAt - t0,
      otherReplicaStreamingMs,
      otherReplicaState: otherStreaming.state,
      rejoinShownMs: rejoin.shownMs,
      rejoinStreamingMs: rejoin.ms,
      rejoinState: rejoin.state,
    };
  });
}

/** SIGTERM of the primary's agent; see the module comment. */
export function termScenario(c: LocalCluster, opts: { rejoinDeadlineMs: number }): Promise<TermResult> {
  const old = c.leader;
  return withObservers(c, async (writer, watch) => {
    const agent = c.agents.get(old.name)!;
    const t0 = performance.now();
    c.agents.delete(old.name);
    await stopAgent(agent, 30_000);
    const exitAt = performance.now();
    const { newLeader, first, expiry: release } = await takeover(c, writer, watch, old.name, t0);
    // Read the replicas' positions now (both stopped receiving when the old primary shut down).
    const walPositions = await finalWalPositions(c.replicas.filter((m) => m.name !== newLeader), 2_000);
    await c.spawn(old.name);
    const rejoin = await waitStreaming(c, old.name, newLeader, opts.rejoinDeadlineMs);
    const records = await writer.stop();
    return {
      fault: "term",
      oldLeader: old.name,
      newLeader,
      t0,
      records,
      events: [...watch.events],
      ...analyse(records),
      lost: await missingOn(c.byName(newLeader), records),
      walPositions,
      termToExitMs: exitAt - t0,
      exitToFirstWriteMs: first.ackAt - exitAt,
      releaseToFirstWriteMs: release ? first.ackAt - release.at : null,
      termToFirstWriteMs: first.ackAt - t0,
      rejoinStreamingMs: rejoin.ms,
      rejoinState: rejoin.state,
    };
  });
}

/** What a planned switchover through `POST /switchover` cost a writing client. */
export interface SwitchoverResult {
  fault: "switchover";
  oldLeader: string;
  newLeader: string;
  answer: string;
  requestToFirstWriteMs: number;
  requestToOldStreamingMs: number | null;
  writeGapMs: number;
  overlaps: number;
  lost: number;
}

/**
 * A planned switchover to the first replica through the leader's REST API under the writer: time from the request
 * to the first write acknowledged by the candidate and to the old primary streaming again, the write gap, and
 * whether any acknowledged write is missing on the new primary.
 */
export function switchoverScenario(c: LocalCluster, candidateName?: string): Promise<SwitchoverResult> {
  const old = c.leader;
  const candidate = c.replicas.find((r) => r.name === candidateName) ?? c.replicas[0]!;
  return withObservers(c, async (writer) => {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
      method: "POST",
      body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
    });
    const answer = await res.text();
    const first = await waitFor(
      `the first write acknowledged by ${candidate.name}`,
      30_000,
      () => Promise.resolve(firstAckAfter(writer.acks, t0, candidate.name)),
      20,
    );
    const streaming = await waitStreaming(c, old.name, candidate.name, 30_000);
    const records = await writer.stop();
    return {
      fault: "switchover",
      oldLeader: old.name,
      newLeader: candidate.name,
      answer,
      requestToFirstWriteMs: first.ackAt - t0,
      requestToOldStreamingMs: streaming.ms === null ? null : performance.now() - t0,
      writeGapMs: longestGap(records, t0 - 1000).ms,
      overlaps: overlappingWindows(records).length,
      lost: (await missingOn(candidate, records)).length,
    };
  });
}

/** SIGKILL of the primary's postmaster only; see the module comment. */
export function crashScenario(c: LocalCluster): Promise<CrashResult> {
  const leader = c.leader;
  return withObservers(c, async (writer, watch) => {
    const pid = await postmasterPid(leader);
    const t0 = performance.now();
    Deno.kill(pid, "SIGKILL");
    await waitFor("the postmaster to exit", 10_000, () => Promise.resolve(!processAlive(pid)), 10);
    const deadAt = performance.now();
    // The first write sent after the postmaster was gone and acknowledged: Postgres is back.
    const first = await waitFor(
      `a write acknowledged by ${leader.name} after the crash`,
      60_000,
      () => Promise.resolve(writer.acks.find((r) => r.node === leader.name && r.sentAt > deadAt) ?? null),
      20,
    );
    const t1 = performance.now();
    await waitHealthy(c.layout, 2, 30_000).catch(() => null);
    const streamingAt = performance.now();
    const healthy = await readHealth(c.layout);
    const records = await writer.stop();
    return {
      fault: "crash",
      oldLeader: leader.name,
      t0,
      records,
      events: [...watch.events],
      ...analyse(records),
      lost: await missingOn(leader, records),
      leaderChanges: watch.events.filter((e) => e.at > t0),
      crashToFirstWriteMs: first.ackAt - t0,
      replicasStreamingMs: healthy.streaming.length === 2 ? streamingAt - t1 : null,
    };
  });
}

/**
 * The primary's agent cut off from etcd (its proxies cut, in `mode`), then healed; see the module comment. Needs a
 * cluster formed with `{ proxied: true }`.
 */
export function partitionScenario(
  c: LocalCluster,
  opts: { rejoinDeadlineMs: number; mode?: CutMode },
): Promise<PartitionResult> {
  const old = c.leader;
  const mode = opts.mode ?? "refuse";
  const proxies = c.proxies.get(old.name);
  if (!proxies?.length) {
    return Promise.reject(new Error("partitionScenario: form the cluster with { proxied: true }"));
  }
  return withObservers(c, async (writer, watch) => {
    const logFrom = (await Deno.readTextFile(old.logPath)).length;
    const t0 = performance.now();
    for (const p of proxies) p.cut({ mode });
    const { put, newLeader, first, expiry } = await takeover(c, writer, watch, old.name, t0);
    const { otherReplicaStreamingMs, otherStreaming } = await otherReplicaFollows(c, newLeader, first.ackAt);
    for (const p of proxies) p.heal();
    const rejoin = await waitStreaming(c, old.name, newLeader, opts.rejoinDeadlineMs);
    const records = await writer.stop();
    const log = (await Deno.readTextFile(old.logPath)).slice(logFrom);
    const demotedAt = log.indexOf("demoting self because DCS is not accessible");
    const fencedAt = log.indexOf("fence deadline passed without a lease renewal");
    const oldPrimaryStop = demotedAt < 0 && fencedAt < 0
      ? "unknown"
      : fencedAt < 0 || (demotedAt >= 0 && demotedAt < fencedAt)
      ? "demoted"
      : "fenced";
    const oldAcks = records.filter((r) => r.node === old.name);
    const lastOld = oldAcks.length ? Math.max(...oldAcks.map((r) => r.ackAt)) : null;
    return {
      fault: "partition",
      cutMode: mode,
      oldLeader: old.name,
      newLeader,
      t0,
      records,
      events: [...watch.events],
      ...analyse(records),
      lost: await missingOn(c.byName(newLeader), records),
      cutToLastOldAckMs: lastOld === null ? null : lastOld - t0,
      cutToExpiryMs: expiry ? expiry.at - t0 : null,
      lastOldAckToExpiryMs: expiry && lastOld !== null ? expiry.at - lastOld : null,
      expiryToLeaderMs: expiry ? put.at - expiry.at : null,
      expiryToFirstWriteMs: expiry ? first.ackAt - expiry.at : null,
      cutToFirstWriteMs: first.ackAt - t0,
      oldPrimaryStop,
      otherReplicaStreamingMs,
      otherReplicaState: otherStreaming.state,
      healToStreamingMs: rejoin.ms,
      rejoinState: rejoin.state,
      rewound: /pg_rewind from /.test(log),
    };
  });
}

/** The figures of one result, in seconds (3 decimals), for JSON output and test reports. */
export function figures(r: KillResult | TermResult | CrashResult | PartitionResult): Record<string, unknown> {
  const s = (ms: number | null) => (ms === null ? null : Math.round(ms) / 1000);
  const common = {
    write_gap_s: s(r.writeGapMs),
    acked_writes: r.records.length,
    lost_acked_writes: r.lost.length,
    overlapping_primaries: r.overlaps.length,
  };
  switch (r.fault) {
    case "kill":
      return {
        old_leader: r.oldLeader,
        new_leader: r.newLeader,
        expected_leaders: r.expectedLeaders,
        published_optime: r.publishedOptime,
        wal_positions: r.walPositions,
        kill_to_first_write_s: s(r.killToFirstWriteMs),
        kill_to_expiry_s: s(r.killToExpiryMs),
        expiry_to_leader_s: s(r.expiryToLeaderMs),
        expiry_to_first_write_s: s(r.expiryToFirstWriteMs),
        ...common,
        other_replica_streaming: r.otherReplicaStreamingMs !== null,
        other_replica_state: r.otherReplicaState,
        rejoin_shown_s: s(r.rejoinShownMs),
        rejoin_streaming_s: s(r.rejoinStreamingMs),
        rejoin_state: r.rejoinState,
      };
    case "term":
      return {
        old_leader: r.oldLeader,
        new_leader: r.newLeader,
        term_to_exit_s: s(r.termToExitMs),
        exit_to_first_write_s: s(r.exitToFirstWriteMs),
        release_to_first_write_s: s(r.releaseToFirstWriteMs),
        term_to_first_write_s: s(r.termToFirstWriteMs),
        ...common,
        rejoin_streaming_s: s(r.rejoinStreamingMs),
        rejoin_state: r.rejoinState,
      };
    case "crash":
      return {
        leader: r.oldLeader,
        leader_changes: r.leaderChanges.length,
        crash_to_first_write_s: s(r.crashToFirstWriteMs),
        ...common,
        replicas_streaming_again: r.replicasStreamingMs !== null,
      };
    case "partition":
      return {
        old_leader: r.oldLeader,
        new_leader: r.newLeader,
        cut_mode: r.cutMode,
        cut_to_last_old_ack_s: s(r.cutToLastOldAckMs),
        cut_to_expiry_s: s(r.cutToExpiryMs),
        last_old_ack_to_expiry_s: s(r.lastOldAckToExpiryMs),
        expiry_to_leader_s: s(r.expiryToLeaderMs),
        expiry_to_first_write_s: s(r.expiryToFirstWriteMs),
        cut_to_first_write_s: s(r.cutToFirstWriteMs),
        old_primary_stop: r.oldPrimaryStop,
        ...common,
        other_replica_streaming: r.otherReplicaStreamingMs !== null,
        heal_to_streaming_s: s(r.healToStreamingMs),
        rewound: r.rewound,
        rejoin_state: r.rejoinState,
      };
  }
}
