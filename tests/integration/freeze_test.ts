/**
 * A frozen primary agent (SIGSTOP): its event loop and its own fence timer are frozen too, so only the fencing
 * supervisor process can stop Postgres before the lease expires. Asserts that no two members ever acknowledge
 * writes at once, that the old primary's postmaster exits (the fence stopped it) and its last acknowledged write
 * comes before the leader key expires, that a replica takes over without losing an acknowledged write, and that
 * after SIGCONT the old primary comes back as a streaming replica.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { postmasterPid } from "../../scripts/bench/failover.ts";
import { waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import { type ExitWatch, watchExit } from "../helpers/processes.ts";
import {
  type AckRecord,
  createWriteTable,
  describeOverlaps,
  type LeaderEvent,
  missingOn,
  overlappingWindows,
  startWriter,
  watchLeaderKey,
} from "../helpers/writer.ts";

/**
 * What a fenced primary must show once another member leads: its postmaster exited before the lease expired (the
 * fence stopped it, not the new leader's arrival), it acknowledged nothing after that, and the new leader holds
 * every acknowledged write (the old primary streamed to its replicas until the fence stopped it, as the chaos
 * suite's freeze and agent-kill faults also require).
 */
async function assertFenced(
  old: string,
  pgExit: ExitWatch,
  expiry: LeaderEvent,
  acks: AckRecord[],
  newLeader: { name: string; pgPort: number },
): Promise<void> {
  assert.notEqual(pgExit.exitedAt, null, `${old}'s postmaster still runs after a new leader took over`);
  assert.ok(
    pgExit.exitedAt! < expiry.at,
    `${old}'s postmaster exited ${(pgExit.exitedAt! - expiry.at).toFixed(0)} ms after its lease expired`,
  );
  const lastOld = acks.filter((a) => a.node === old).at(-1)!;
  assert.ok(lastOld.ackAt < expiry.at, "the old primary stopped taking writes before its lease expired");
  const lost = await missingOn(newLeader, acks);
  assert.deepEqual(lost, [], `acknowledged writes missing on the new leader ${newLeader.name}`);
}

Deno.test({
  name:
    "freeze: SIGSTOP of the primary's agent: the fencing supervisor stops Postgres before the lease expires, " +
    "no acknowledged write lost",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, "freezetest");
    const old = c.leader;
    const agent = c.agents.get(old.name)!;
    let stopped = false;
    const watch = await watchLeaderKey(c.etcd.endpoints, "freezetest");
    try {
      await createWriteTable(old);
      const writer = startWriter(c.members);
      await waitFor("writes on the leader", 10_000, () => Promise.resolve(writer.acks.length > 20));

      const pgExit = watchExit(await postmasterPid(old));
      const t0 = performance.now();
      agent.kill("SIGSTOP");
      stopped = true;
      const after = await waitFor("a new leader", 60_000, async () => {
        const h = await waitHealthy(c.layout, 1, 30_000).catch(() => null);
        return h && h.leader !== old.name ? h : null;
      });
      await waitFor(
        "writes on the new leader",
        20_000,
        () => Promise.resolve(writer.acks.some((a) => a.node === after.leader && a.ackAt > t0)),
      );
      const acks = await writer.stop();

      const overlaps = overlappingWindows(acks);
      assert.deepEqual(overlaps, [], `two writable primaries: ${describeOverlaps(overlaps, t0)}`);
      const expiry = watch.firstAfter(t0, (e) => e.type === "delete");
      assert.ok(expiry, "the frozen leader's key expired");
      pgExit.stop();
      await assertFenced(old.name, pgExit, expiry, acks, c.byName(after.leader!));
      const lastOld = acks.filter((a) => a.node === old.name).at(-1)!;
      const log = await Deno.readTextFile(old.logPath);
      assert.match(log, /fence-supervisor: fence deadline passed/, "the supervisor fenced");

      // Thaw: the agent finds someone else leading and rejoins as a replica.
      agent.kill("SIGCONT");
      stopped = false;
      await waitFor(`${old.name} streaming again`, 60_000, () =>
        withSql(old, async (sql) => {
          const rows = await sql`SELECT status FROM pg_stat_wal_receiver`;
          return rows[0]?.status === "streaming";
        }).catch(() => false));
      // deno-lint-ignore no-console -- figures for the closing note
      console.log(JSON.stringify({
        freeze_to_last_old_write_s: +((lastOld.ackAt - t0) / 1000).toFixed(3),
        freeze_to_expiry_s: +((expiry.at - t0) / 1000).toFixed(3),
        fenced_before_expiry_s: +((expiry.at - lastOld.ackAt) / 1000).toFixed(3),
      }));
    } catch (err) {
      await c.dumpLogs("freeze");
      throw err;
    } finally {
      if (stopped) agent.kill("SIGCONT");
      await watch.close();
    }
  },
});

Deno.test({
  name:
    "freeze: SIGKILL of the primary's agent alone: the orphaned supervisor stops Postgres before expiry, " +
    "no acknowledged write lost",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, "agentkill");
    const old = c.leader;
    const watch = await watchLeaderKey(c.etcd.endpoints, "agentkill");
    try {
      await createWriteTable(old);
      const writer = startWriter(c.members);
      await waitFor("writes on the leader", 10_000, () => Promise.resolve(writer.acks.length > 20));
      const pgExit = watchExit(await postmasterPid(old));
      const t0 = performance.now();
      const agent = c.agents.get(old.name)!;
      agent.kill("SIGKILL");
      await agent.status;
      c.agents.delete(old.name);
      const after = await waitFor("a new leader", 60_000, async () => {
        const h = await waitHealthy(c.layout, 1, 30_000).catch(() => null);
        return h && h.leader !== old.name ? h : null;
      });
      await waitFor(
        "writes on the new leader",
        20_000,
        () => Promise.resolve(writer.acks.some((a) => a.node === after.leader && a.ackAt > t0)),
      );
      const acks = await writer.stop();
      const overlaps = overlappingWindows(acks);
      assert.deepEqual(overlaps, [], `two writable primaries: ${describeOverlaps(overlaps, t0)}`);
      const expiry = watch.firstAfter(t0, (e) => e.type === "delete");
      assert.ok(expiry, "the killed agent's leader key expired");
      pgExit.stop();
      await assertFenced(old.name, pgExit, expiry, acks, c.byName(after.leader!));

      // A new agent on the old host rejoins as a replica.
      await c.spawn(old.name);
      await waitFor(
        `${old.name} streaming again`,
        60_000,
        () =>
          withSql(
            old,
            async (sql) => (await sql`SELECT status FROM pg_stat_wal_receiver`)[0]?.status === "streaming",
          )
            .catch(() => false),
      );
    } catch (err) {
      await c.dumpLogs("agentkill");
      throw err;
    } finally {
      await watch.close();
    }
  },
});
