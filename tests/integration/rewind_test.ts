/**
 * A former primary that diverged comes back through pg_rewind, for real: the primary's WAL senders are frozen
 * while it takes writes the replicas never get (as when a primary is cut off under load), then the primary's
 * agent, postmaster and WAL senders are killed. A replica takes over without those writes. The old primary's agent
 * restarts: it must not become writable, must run pg_rewind (use_pg_rewind is on in the local cluster's YAML)
 * and stream from the new leader on its new timeline (the leader shows it streaming), holding exactly the new
 * leader's rows afterwards. The dynamic `postgresql.rewind` asks for `--progress`: pg_rewind's progress report
 * (which only that option prints) shows it was passed.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { postmasterPid } from "../../scripts/bench/failover.ts";
import { Etcd3 } from "etcd3";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import type { MemberLayout } from "../../scripts/lib/local_cluster.ts";

async function count(m: MemberLayout): Promise<number> {
  return await withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM diverge`)[0]!.n as number);
}

/** The timeline a primary writes on, from the name of its current WAL file. */
async function timelineOf(m: MemberLayout): Promise<number> {
  return await withSql(m, async (sql) => {
    const [row] = await sql`SELECT pg_walfile_name(pg_current_wal_lsn()) AS f`;
    return parseInt((row!.f as string).slice(0, 8), 16);
  });
}

/** `m` receives WAL on `leader`'s (new) timeline, and `leader` shows it streaming. */
async function assertFollowsNewTimeline(m: MemberLayout, leader: MemberLayout): Promise<void> {
  const leaderTli = await timelineOf(leader);
  assert.ok(leaderTli > 1, `the new leader runs on timeline ${leaderTli} after a promotion`);
  await waitFor(
    `${m.name} receiving on timeline ${leaderTli}, shown streaming by ${leader.name}`,
    30_000,
    async () => {
      const received = await withSql(
        m,
        async (sql) =>
          (await sql`SELECT received_tli FROM pg_stat_wal_receiver WHERE status = 'streaming'`)[0]
            ?.received_tli,
      );
      const shown = await withSql(
        leader,
        async (sql) =>
          (await sql`SELECT 1 FROM pg_stat_replication WHERE application_name = ${m.name}
        AND state = 'streaming'`).length === 1,
      );
      return received === leaderTli && shown ? true : { notYet: `received_tli ${received}, shown ${shown}` };
    },
  );
}

/** Add `rewind` to the `postgresql` section of the cluster's dynamic configuration (the rest kept). */
async function setDynamicRewind(c: LocalCluster, rewind: unknown): Promise<void> {
  const etcd = new Etcd3({ hosts: c.etcd.endpoints });
  try {
    const key = `/service/${c.layout.scope}/config`;
    const current = JSON.parse((await etcd.get(key).string()) ?? "{}") as Record<string, unknown>;
    const pg = (current.postgresql ?? {}) as Record<string, unknown>;
    await etcd.put(key).value(JSON.stringify({ ...current, postgresql: { ...pg, rewind } }));
  } finally {
    etcd.close();
  }
}

async function walSenderPids(m: MemberLayout): Promise<number[]> {
  return await waitFor(`${m.name}'s two WAL senders`, 20_000, () =>
    withSql(m, async (sql) => {
      const rows = await sql`SELECT pid FROM pg_stat_replication WHERE state = 'streaming'`;
      return rows.length === 2 ? rows.map((r) => r.pid as number) : null;
    }));
}

Deno.test({
  name: "rewind: a diverged former primary is rewound by pg_rewind and streams from the new leader",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, "rewindtest");
    const frozen: number[] = [];
    try {
      const old = c.leader;
      await setDynamicRewind(c, ["progress"]);
      await withSql(old, async (sql) => {
        await sql`CREATE TABLE diverge (id int PRIMARY KEY)`;
        await sql`INSERT INTO diverge SELECT generate_series(1, 100)`;
      });
      for (const r of c.replicas) {
        await waitFor(`100 rows on ${r.name}`, 20_000, async () => (await count(r)) === 100);
      }

      // Freeze the WAL senders, then write what only the old primary will ever have.
      for (const pid of await walSenderPids(old)) {
        Deno.kill(pid, "SIGSTOP");
        frozen.push(pid);
      }
      await withSql(old, (sql) => sql`INSERT INTO diverge SELECT generate_series(101, 150)`);
      assert.equal(await count(old), 150);

      // The old primary dies with its agent and its (still frozen) WAL senders: those rows never leave it.
      c.agents.get(old.name)!.kill("SIGKILL");
      await c.agents.get(old.name)!.status;
      c.agents.delete(old.name);
      for (const pid of frozen.splice(0)) Deno.kill(pid, "SIGKILL");
      Deno.kill(await postmasterPid(old), "SIGKILL");

      const after = await waitFor("a new leader", 60_000, async () => {
        const h = await waitHealthy(c.layout, 1, 30_000).catch(() => null);
        return h && h.leader !== old.name ? h : null;
      });
      const leader = c.byName(after.leader!);
      assert.equal(await count(leader), 100, "the new leader never had the diverged rows");

      // The old primary's agent comes back: pg_rewind, then streaming from the new leader.
      await c.spawn(old.name);
      await waitHealthy(c.layout, 2, 60_000);
      await waitFor(`${old.name} streaming`, 30_000, () =>
        withSql(old, async (sql) => {
          const rows = await sql`SELECT status, sender_port FROM pg_stat_wal_receiver`;
          return rows[0]?.status === "streaming" && rows[0]?.sender_port === leader.pgPort;
        }));
      await withSql(leader, (sql) => sql`INSERT INTO diverge VALUES (1000)`);
      await waitFor(
        `${old.name} holding exactly the new leader's rows`,
        20_000,
        async () => (await count(old)) === 101,
      );
      const log = await Deno.readTextFile(old.logPath);
      assert.match(log, /pg_rewind from/, "the old primary ran pg_rewind");
      assert.match(log, /syncing target data directory/, "pg_rewind ran with --progress (postgresql.rewind)");
      await withSql(old, async (sql) => {
        const [row] = await sql`SELECT pg_is_in_recovery() AS rec`;
        assert.equal(row!.rec, true, "the old primary is a replica");
      });
      await assertFollowsNewTimeline(old, leader);
    } catch (err) {
      for (const pid of frozen) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await c.dumpLogs("rewind");
      throw err;
    }
  },
});
