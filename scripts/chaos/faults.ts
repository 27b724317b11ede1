/**
 * The chaos suite's faults and what each run measures, on a `ChaosCluster` (scripts/chaos/cluster.ts).
 *
 * A run: a fresh table, the continuous writer of tests/helpers/writer.ts inserting into every member every 20 ms
 * from the root namespace (recording each acknowledged write and which node took it), one fault injected into
 * the current leader's namespace (or into etcd), held until another member has taken writes (or for a fixed time),
 * healed, then the wait for 1 primary + 2 streaming replicas. Reported per run:
 *
 * - `dual_writer_ms` / `dual_writer_acks`: time during which two nodes were accepting writes (the intersection of
 *   their write stretches; a stretch is a run of acks from one node without a 3 s gap), and the acks that fell
 *   inside another node's stretch;
 * - `lost`: acknowledged writes the converged leader does not hold;
 * - `unavailable_s`: the longest stretch without any acknowledged write, from the fault to the end of the run;
 * - `converge_s`: from the heal to 1 primary + 2 streaming replicas (`converged: false` when that took over
 *   `convergeDeadlineMs`).
 *
 * Faults (P is the leader when the run starts):
 * - `freeze`: SIGSTOP of P's agent until a replica took over and at least ttl + 2 s passed, then SIGCONT;
 * - `job-freeze`: SIGSTOP of P's agent's whole job (every process in its session or process group, as Ctrl-Z or
 *   `kill -STOP -PGID` does; Postgres keeps running) for 25 s and until a replica took over, then SIGCONT;
 * - `agent-kill`: SIGKILL of P's agent alone (Postgres and the fencing supervisor keep running), restarted after
 *   the takeover;
 * - `cut-peers`: P's namespace drops all traffic with the other two members (its etcd member loses the quorum);
 *   the writer in the root namespace still reaches P;
 * - `cut-all`: P's namespace drops all traffic on its bridge link (writer included);
 * - `cut-etcd`: P's namespace drops outgoing connections to etcd's client port (its own etcd member's too; the etcd
 *   cluster itself stays whole);
 * - `etcd-outage`: every etcd member SIGKILLed for ttl + 5 s, then restarted (failsafe mode only with
 *   HACTL_CHAOS_FAILSAFE=on);
 * - `etcd-outage-60`: every etcd member SIGKILLed for 60 s, then restarted (the failsafe figure: the primary keeps
 *   taking writes while every member answers its `POST /failsafe`);
 * - `etcd-outage-cut-replica`: every etcd member SIGKILLed and P's namespace dropping all traffic with one replica,
 *   for 2 x ttl + 10 s: with failsafe mode that replica cannot confirm P, so P must stop taking writes within ttl
 *   (`old_primary_last_ack_s`);
 * - `etcd-leader-kill`: SIGKILL of the etcd raft leader, restarted after 5 s;
 * - `ttl-increase-cut-etcd`: `hactl edit-config -s ttl=<3 x ttl>` (10 -> 30), and as soon as P has run a
 *   cycle with it, P's namespace drops outgoing connections to etcd's client port (as `cut-etcd`); the ttl is set
 *   back once the run is measured;
 * - `ttl-increase-freeze`: the same ttl increase, then, as soon as P has run a cycle with it, SIGSTOP of P's agent
 *   (as `freeze`: only its fencing supervisor can stop Postgres) until a replica took over, then SIGCONT;
 * - `replica-ahead`: a replica ahead of the new leader. Replica A is cut off from P (it stops receiving WAL) until
 *   the other replica B has replayed past it; then P is cut off from everything and B's agent is stopped (SIGSTOP;
 *   its Postgres keeps running), so A, the only member left to race, takes over from behind. Healed once A takes
 *   writes and at least ttl + 2 s passed: B (SIGCONT) is on the old timeline past A's switch point and P is a
 *   former primary; both must be rewound from A. The writes only B and P had are lost (asynchronous replication).
 *   In synchronous replication A is the standby the `sync` key names (the only replica allowed to take over), so
 *   P's commits wait for A from the first cut on and none of the writes only B and P had is acknowledged. In
 *   strict mode A blocks every commit once it leads (no replica streams from it until the heal), so the fault is
 *   held until A holds the leader key (and at least ttl + 2 s), not until it takes writes.
 *
 * Synchronous replication (`HACTL_CHAOS_SYNC=on|strict|quorum`, scripts/chaos/sync.ts): every run waits, before the
 * fault, until the leader's `sync` key names a standby its Postgres reports `sync`, and the writer runs without a
 * server-side statement timeout. Lost writes are counted as in asynchronous mode.
 *
 * @module
 */
import {
  type AckRecord,
  createWriteTable,
  longestGap,
  missingOn,
  startWriter,
  type Writer,
  type WriterTarget,
} from "../../tests/helpers/writer.ts";
import { mainModule, readHealth, waitFor } from "../lib/local_cluster.ts";
import { type ChaosCluster, type ChaosMember, ETCD_CLIENT_PORT, sqlTo, waitConverged } from "./cluster.ts";
import { parseLsn } from "../../src/core/types.ts";
import { timingLabel } from "../bench/failover.ts";
import { syncWriterOptions, waitSyncStandby } from "./sync.ts";

export const FAULTS = [
  "freeze",
  "job-freeze",
  "agent-kill",
  "cut-peers",
  "cut-all",
  "cut-etcd",
  "etcd-outage",
  "etcd-outage-60",
  "etcd-outage-cut-replica",
  "etcd-leader-kill",
  "ttl-increase-cut-etcd",
  "ttl-increase-freeze",
  "replica-ahead",
] as const;
export type Fault = typeof FAULTS[number];

export function isFault(s: string): s is Fault {
  return (FAULTS as readonly string[]).includes(s);
}

/** One run's figures (one JSON line of scripts/chaos/run.sh). */
export interface ChaosResult {
  fault: Fault;
  /** `ttl/loop_wait/retry_timeout`. */
  timing: string;
  /** Synchronous replication's mode (HACTL_CHAOS_SYNC); absent in asynchronous mode. */
  sync?: "on" | "strict" | "quorum";
  old_leader: string;
  new_leader: string | null;
  acked: number;
  dual_writer_ms: number;
  dual_writer_acks: number;
  lost: number;
  unavailable_s: number;
  /** How long the fault was held. */
  fault_s: number;
  converge_s: number | null;
  converged: boolean;
  /** From the injection to the old primary's last acknowledged write before the heal (null: none after it). */
  old_primary_last_ack_s?: number | null;
  /** What first stopped the old primary's writes, from its agent log (see `stoppedBy`); null when nothing did. */
  old_primary_stopped_by: string | null;
  error?: string;
}

/** Log lines that mark how a primary stopped taking writes, in the words of `old_primary_stopped_by`. */
const STOPS: [RegExp, string][] = [
  [/isolation fence:/, "isolation fence"],
  [/fence-supervisor: fence deadline passed/, "fencing supervisor"],
  [/fence deadline passed without a lease renewal/, "fence deadline"],
  [/demoting self because DCS is not accessible/, "DCS unreachable: demoted"],
  [/demoting self because/, "demoted"],
];

/** The first stop marker in a piece of an agent log. */
export function stoppedBy(log: string): string | null {
  let best: { at: number; what: string } | null = null;
  for (const [re, what] of STOPS) {
    const m = re.exec(log);
    if (m && (!best || m.index < best.at)) best = { at: m.index, what };
  }
  return best?.what ?? null;
}

/** A stretch of acks from one node with no gap over `gapMs`. */
export interface Stretch {
  node: string;
  first: number;
  last: number;
}

/** Each node's write stretches (a gap over `gapMs` between two of its acks starts a new one). */
export function writeStretches(acks: readonly AckRecord[], gapMs = 3000): Stretch[] {
  const out: Stretch[] = [];
  const open = new Map<string, Stretch>();
  for (const a of [...acks].sort((x, y) => x.ackAt - y.ackAt)) {
    const s = open.get(a.node);
    if (s && a.ackAt - s.last <= gapMs) s.last = a.ackAt;
    else {
      const n = { node: a.node, first: a.ackAt, last: a.ackAt };
      out.push(n);
      open.set(a.node, n);
    }
  }
  return out;
}

/**
 * Two nodes accepting writes at once: the summed intersections of stretches of different nodes (ms), and the acks
 * of one node that fall inside a stretch of another (a lone ack has a zero-length stretch, hence both figures).
 */
export function dualWriters(acks: readonly AckRecord[], gapMs = 3000): { ms: number; acks: number } {
  const stretches = writeStretches(acks, gapMs);
  let ms = 0;
  for (let i = 0; i < stretches.length; i++) {
    for (let j = i + 1; j < stretches.length; j++) {
      const a = stretches[i]!;
      const b = stretches[j]!;
      if (a.node === b.node) continue;
      ms += Math.max(0, Math.min(a.last, b.last) - Math.max(a.first, b.first));
    }
  }
  const inside =
    acks.filter((r) => stretches.some((s) => s.node !== r.node && r.ackAt >= s.first && r.ackAt <= s.last))
      .length;
  return { ms, acks: inside };
}

export interface RunOptions {
  /** Deadline for 1 primary + 2 streaming replicas after the heal (default 120 s). */
  convergeDeadlineMs?: number;
  log?: (line: string) => void;
}

/** The cluster was not 1 primary + 2 streaming replicas when the run was to start. */
export class NotConvergedBefore extends Error {
  constructor(detail: string) {
    super(`not converged before the fault: ${detail}`);
    this.name = "NotConvergedBefore";
  }
}

/** `hactl edit-config -s ttl=<ttl> --force` with `m`'s configuration, from the root namespace. */
async function editTtl(c: ChaosCluster, m: ChaosCluster["members"][number], ttl: number): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      mainModule(),
      "edit-config",
      "-c",
      m.configPath,
      c.scope,
      "-s",
      `ttl=${ttl}`,
      "--force",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`edit-config ttl=${ttl} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Wait until `m`'s log shows a cycle of the leader after byte `offset` (its first look at what changed since). */
async function leaderCycleAfter(m: ChaosCluster["members"][number], offset: number): Promise<void> {
  await waitFor("a cycle of the leader after the change", 15_000, async () => {
    const bytes = await Deno.readFile(m.logPath).catch(() => new Uint8Array());
    return new TextDecoder().decode(bytes.subarray(offset)).includes("the leader with the lock");
  }, 50);
}

let tableCounter = 0;
const secs = (ms: number) => +(ms / 1000).toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One fault's run in progress: the cluster, the leader it started from, the writer, and how to undo the fault. */
interface FaultRun {
  c: ChaosCluster;
  fault: Fault;
  log: (line: string) => void;
  /** The leader when the run started. */
  P: ChaosMember;
  others: ChaosMember[];
  /** In synchronous mode, the standbys the leader's commits wait for (the members it may promote). */
  syncStandbys: string[];
  writer: Writer;
  ttlMs: number;
  /** When the fault was injected (0: not yet). */
  t0: number;
  /** When the fault was healed (0: not yet). */
  tHeal: number;
  /** Undoes the fault (null once healed). */
  heal: (() => Promise<void>) | null;
  /** What the fault changed that must be set back once the run is measured (the next fault starts from it). */
  restore: (() => Promise<void>) | null;
}

/**
 * Wait until a member other than P acknowledged a write after the fault, then `extraMs`, and at least `minMs` from
 * the fault. With `byKey`, a member other than P holding the leader key ends the wait too.
 */
async function holdUntilTakeover(r: FaultRun, minMs: number, extraMs = 2000, byKey = false): Promise<void> {
  const { c, P } = r;
  await waitFor(
    byKey ? "another member taking writes or the leader key" : "another member taking writes",
    3 * r.ttlMs + 60_000,
    async () =>
      r.writer.acks.some((a) => a.node !== P.name && a.ackAt > r.t0) ||
      (byKey && ![null, P.name].includes((await readHealth(c)).leader)),
    100,
  );
  await sleep(Math.max(extraMs, minMs - (performance.now() - r.t0)));
}

async function injectFreeze(r: FaultRun): Promise<void> {
  r.c.signalAgent(r.P.name, "SIGSTOP");
  r.heal = () => Promise.resolve(r.c.signalAgent(r.P.name, "SIGCONT"));
  await holdUntilTakeover(r, r.ttlMs + 2000);
}

async function injectJobFreeze(r: FaultRun): Promise<void> {
  const pids = r.c.signalJob(r.P.name, "SIGSTOP");
  r.log(`${r.fault}: stopped ${pids.length} processes of ${r.P.name}'s job: ${pids.join(" ")}`);
  r.heal = () => Promise.resolve(void r.c.signalPids(pids, "SIGCONT"));
  await holdUntilTakeover(r, 25_000);
}

async function injectAgentKill(r: FaultRun): Promise<void> {
  await r.c.killAgent(r.P.name);
  r.heal = () => r.c.spawnAgent(r.P.name);
  await holdUntilTakeover(r, 0);
}

/** A network fault in P's namespace (healed by clearing its rules), held until another member takes writes. */
async function injectCut(r: FaultRun, cut: (net: ChaosMember["net"]) => Promise<void>): Promise<void> {
  await cut(r.P.net);
  r.heal = () => r.P.net.heal();
  await holdUntilTakeover(r, 0);
}

async function injectEtcdOutage(r: FaultRun): Promise<void> {
  const { c } = r;
  for (const m of c.members) await c.killEtcd(m.name);
  r.heal = async () => {
    await Promise.all(c.members.map((m) => c.startEtcd(m.name)));
  };
  await sleep(r.ttlMs + 5000);
}

/** `etcd-outage-60` and `etcd-outage-cut-replica`. */
async function injectLongEtcdOutage(r: FaultRun): Promise<void> {
  const { c, P, fault } = r;
  const cut = fault === "etcd-outage-cut-replica" ? r.others[0]! : null;
  for (const m of c.members) await c.killEtcd(m.name);
  if (cut) {
    await P.net.cutFrom([cut.host]);
    r.log(`${fault}: etcd down, ${P.name} cut off from ${cut.name}`);
  }
  r.heal = async () => {
    await Promise.all(c.members.map((m) => c.startEtcd(m.name)));
    if (cut) await P.net.heal();
  };
  await sleep(cut ? 2 * r.ttlMs + 10_000 : 60_000);
}

/** `ttl-increase-cut-etcd` and `ttl-increase-freeze`. */
async function injectTtlIncrease(r: FaultRun): Promise<void> {
  const { c, P } = r;
  r.restore = () => editTtl(c, P, c.timing.ttl);
  await editTtl(c, P, 3 * c.timing.ttl);
  // Counted from the written change (edit-config takes seconds to start): the next cycle line is P's first
  // look at the new ttl (the change wakes it at once).
  const offset = await Deno.stat(P.logPath).then((st) => st.size, () => 0);
  await leaderCycleAfter(P, offset);
  if (r.fault === "ttl-increase-freeze") {
    c.signalAgent(P.name, "SIGSTOP");
    r.heal = () => Promise.resolve(c.signalAgent(P.name, "SIGCONT"));
  } else {
    await P.net.cutTcpPort(ETCD_CLIENT_PORT);
    r.heal = () => P.net.heal();
  }
  await holdUntilTakeover(r, 0);
}

async function injectReplicaAhead(r: FaultRun): Promise<void> {
  const { c, P, others, syncStandbys } = r;
  // In synchronous mode A is the standby the sync key names: the replica that may take over.
  const [A, B] =
    (syncStandbys.length
      ? [...others].sort((x, y) =>
        Number(syncStandbys.includes(y.name)) - Number(syncStandbys.includes(x.name))
      )
      : others) as [ChaosMember, ChaosMember];
  await A.net.cutFrom([P.host]);
  r.heal = () => A.net.heal();
  await waitFor(`${B.name} replaying past ${A.name}`, 20_000, async () => {
    const [a, b] = await Promise.all([replayPosition(A), replayPosition(B)]);
    return b > a + 1024;
  });
  r.log(`${r.fault}: ${B.name} is ahead of ${A.name}; isolating ${P.name}, stopping ${B.name}'s agent`);
  await P.net.cutAll();
  c.signalAgent(B.name, "SIGSTOP");
  r.heal = async () => {
    c.signalAgent(B.name, "SIGCONT");
    await P.net.heal();
    await A.net.heal();
  };
  // In strict mode A cannot acknowledge a write before a replica streams from it, and the only other one
  // (B, its agent stopped) cannot follow it before the heal: A holding the leader key is the takeover.
  await holdUntilTakeover(r, r.ttlMs + 2000, 2000, c.sync === "strict");
}

async function injectEtcdLeaderKill(r: FaultRun): Promise<void> {
  const { c } = r;
  const etcdLeader = await waitFor("an etcd leader", 20_000, () => c.etcdLeader());
  r.log(`${r.fault}: etcd leader is ${etcdLeader}`);
  await c.killEtcd(etcdLeader);
  r.heal = () => c.startEtcd(etcdLeader);
  await sleep(5000);
}

/** How each fault is injected and held; each sets `heal` (and `restore` where it changes the configuration). */
const INJECT: Record<Fault, (r: FaultRun) => Promise<void>> = {
  "freeze": injectFreeze,
  "job-freeze": injectJobFreeze,
  "agent-kill": injectAgentKill,
  "cut-peers": (r) => injectCut(r, (net) => net.cutFrom(r.others.map((m) => m.host))),
  "cut-all": (r) => injectCut(r, (net) => net.cutAll()),
  "cut-etcd": (r) => injectCut(r, (net) => net.cutTcpPort(ETCD_CLIENT_PORT)),
  "etcd-outage": injectEtcdOutage,
  "etcd-outage-60": injectLongEtcdOutage,
  "etcd-outage-cut-replica": injectLongEtcdOutage,
  "etcd-leader-kill": injectEtcdLeaderKill,
  "ttl-increase-cut-etcd": injectTtlIncrease,
  "ttl-increase-freeze": injectTtlIncrease,
  "replica-ahead": injectReplicaAhead,
};

/**
 * The leader of a converged cluster and, in synchronous mode, the standbys its commits wait for. A cluster that
 * does not converge before the fault is reported as such (the runner forms a new one).
 */
async function convergedBefore(c: ChaosCluster): Promise<{ leaderName: string; syncStandbys: string[] }> {
  const leaderName = await waitConverged(c, 60_000).catch((err) => {
    throw new NotConvergedBefore(String(err));
  });
  // In synchronous mode the fault waits for a standby the leader's commits wait for (the members it may promote).
  const syncStandbys = c.sync === "off" ? [] : await waitSyncStandby(c, leaderName, 60_000).catch((err) => {
    throw new NotConvergedBefore(String(err));
  });
  return { leaderName, syncStandbys };
}

function emptyResult(c: ChaosCluster, fault: Fault, P: ChaosMember): ChaosResult {
  return {
    fault,
    timing: timingLabel(c.timing),
    ...(c.sync === "off" ? {} : { sync: c.sync }),
    old_leader: P.name,
    new_leader: null,
    acked: 0,
    dual_writer_ms: 0,
    dual_writer_acks: 0,
    lost: 0,
    unavailable_s: 0,
    fault_s: 0,
    converge_s: null,
    converged: false,
    old_primary_stopped_by: null,
  };
}

/** Heal the fault, wait for 1 primary + 2 streaming replicas, then (bounded) for writes on the new leader. */
async function healAndConverge(r: FaultRun, result: ChaosResult, convergeDeadlineMs: number): Promise<void> {
  r.tHeal = performance.now();
  result.fault_s = secs(r.tHeal - r.t0);
  r.log(`${r.fault}: healing after ${result.fault_s} s`);
  await r.heal?.();
  r.heal = null;
  try {
    result.new_leader = await waitConverged(r.c, convergeDeadlineMs);
    result.converged = true;
    result.converge_s = secs(performance.now() - r.tHeal);
  } catch (err) {
    result.error = String(err);
  }
  if (result.converged) {
    const tConv = performance.now();
    await waitFor(
      "writes on the converged leader",
      20_000,
      () => Promise.resolve(r.writer.acks.some((a) => a.node === result.new_leader && a.ackAt > tConv)),
      100,
    ).catch(() => {});
  }
}

/** The run's figures from the acks and P's log since `logOffset`; lost writes counted on the converged leader. */
async function measureRun(
  r: FaultRun,
  result: ChaosResult,
  acks: AckRecord[],
  logOffset: number,
  table: string,
): Promise<void> {
  const { c, P, t0 } = r;
  const tEnd = acks.at(-1)?.ackAt ?? performance.now();
  const logBytes = await Deno.readFile(P.logPath).catch(() => new Uint8Array());
  result.old_primary_stopped_by = stoppedBy(new TextDecoder().decode(logBytes.subarray(logOffset)));
  const dual = dualWriters(acks);
  result.acked = acks.length;
  result.dual_writer_ms = Math.round(dual.ms);
  result.dual_writer_acks = dual.acks;
  result.unavailable_s = t0 ? secs(longestGap(acks, t0, tEnd).ms) : 0;
  result.old_primary_last_ack_s = lastAckAfter(acks, P.name, t0, r.tHeal);
  if (result.converged && result.new_leader) {
    const L = c.byName(result.new_leader);
    try {
      result.lost = (await missingOn({ name: L.name, host: L.host, pgPort: L.pgPort }, acks, table)).length;
    } catch (err) {
      result.error ??= `could not count lost writes: ${err}`;
      result.lost = -1;
    }
  } else result.lost = -1;
}

/** Run one fault on a converged cluster and measure it; see the module comment. Never leaves a fault in place. */
export async function runFault(c: ChaosCluster, fault: Fault, opts: RunOptions = {}): Promise<ChaosResult> {
  const log = opts.log ?? (() => {});
  const { leaderName, syncStandbys } = await convergedBefore(c);
  const P = c.byName(leaderName);
  const targets: WriterTarget[] = c.members.map((m) => ({ name: m.name, host: m.host, pgPort: m.pgPort }));
  const table = `chaos_${Deno.pid}_${++tableCounter}`;
  await createWriteTable({ name: P.name, host: P.host, pgPort: P.pgPort }, table);
  const r: FaultRun = {
    c,
    fault,
    log,
    P,
    others: c.members.filter((m) => m !== P),
    syncStandbys,
    writer: startWriter(targets, { table, ...syncWriterOptions(c.sync) }),
    ttlMs: c.timing.ttl * 1000,
    t0: 0,
    tHeal: 0,
    heal: null,
    restore: null,
  };
  const result = emptyResult(c, fault, P);
  const logOffset = await Deno.stat(P.logPath).then((s) => s.size, () => 0);
  let acks: AckRecord[] = [];
  try {
    await waitFor("writes on the leader", 15_000, () => Promise.resolve(r.writer.acks.length >= 25));
    r.t0 = performance.now();
    log(`${fault}: injecting into ${P.name}`);
    await INJECT[fault](r);
    await healAndConverge(r, result, opts.convergeDeadlineMs ?? 120_000);
  } catch (err) {
    result.error ??= String(err);
  } finally {
    if (r.heal) await r.heal().catch(() => {});
    acks = await r.writer.stop();
    if (r.restore) {
      await r.restore().catch((err) => void (result.error ??= `could not set the ttl back: ${err}`));
    }
  }
  await measureRun(r, result, acks, logOffset, table);
  return result;
}

/** Seconds from `t0` to `node`'s last ack before `tEnd` (null: none in between, or no fault was injected). */
export function lastAckAfter(
  acks: readonly AckRecord[],
  node: string,
  t0: number,
  tEnd: number,
): number | null {
  if (!t0 || !tEnd) return null;
  const own = acks.filter((a) => a.node === node && a.ackAt >= t0 && a.ackAt <= tEnd);
  return own.length === 0 ? null : secs(Math.max(...own.map((a) => a.ackAt)) - t0);
}

/** A replica's replay position in bytes. */
async function replayPosition(m: ChaosMember): Promise<number> {
  const sql = sqlTo(m);
  try {
    const [r] = await sql`SELECT pg_last_wal_replay_lsn()::text AS lsn`;
    return parseLsn(String(r?.["lsn"] ?? "0/0"));
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** A markdown table with the min–max of each figure per fault. */
export function summaryTable(results: readonly ChaosResult[]): string {
  const range = (xs: number[], unit = "") => {
    if (xs.length === 0) return "-";
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    return lo === hi ? `${lo}${unit}` : `${lo}–${hi}${unit}`;
  };
  const lines = [
    "| fault (timing) | runs | two nodes accepting writes | acknowledged writes lost | writes unavailable | converged (time after heal) | old primary's last write after the fault |",
    "|---|---|---|---|---|---|---|",
  ];
  const keyOf = (r: ChaosResult) => `${r.fault}${r.sync ? `, sync ${r.sync}` : ""} (${r.timing})`;
  const keys = [...new Set(results.map(keyOf))];
  for (const key of keys) {
    const rs = results.filter((r) => keyOf(r) === key);
    const conv = rs.filter((r) => r.converged);
    lines.push(
      `| ${key} | ${rs.length} | ${range(rs.map((r) => r.dual_writer_ms / 1000), " s")} | ${
        range(rs.map((r) => r.lost))
      } | ${range(rs.map((r) => r.unavailable_s), " s")} | ${conv.length}/${rs.length} (${
        range(conv.map((r) => r.converge_s!), " s")
      }) | ${range(rs.flatMap((r) => r.old_primary_last_ack_s ?? []), " s")} |`,
    );
  }
  return lines.join("\n");
}
