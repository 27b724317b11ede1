/**
 * A cleanly stopped former primary rejoins, for real: a 3-member cluster (ttl 10 / loop_wait 2 / retry_timeout 4)
 * is stopped member by member with SIGTERM, the replicas first, so the primary takes rows the replicas never get
 * and then writes its shutdown checkpoint. A replica behind it takes over (it is within
 * `maximum_lag_on_failover` of the last position the primary published). The former primary must not stay a
 * standby on its own history: it must follow the new leader (rewound) and stream from it, holding exactly the
 * new leader's rows; the third member joins too. Two orders:
 *
 * - the replica starts alone and leads before the former primary's agent starts again;
 * - the former primary's agent starts first, tagged `nofailover` (it may not lead), so it starts as a standby
 *   while nobody leads; then the replica starts and wins the race although it is behind.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import {
  type MemberLayout,
  readHealth,
  waitFor,
  waitHealthy,
  withSql,
} from "../../scripts/lib/local_cluster.ts";
import { parseLsn } from "../../src/core/types.ts";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

const count = (m: MemberLayout) =>
  withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM rejoin`)[0]!.n as number);

async function stop(agents: Map<string, Deno.ChildProcess>, m: MemberLayout): Promise<void> {
  const status = await stopAgent(agents.get(m.name)!, 30_000);
  agents.delete(m.name);
  assert.equal(status.code, 0, `${m.name}'s agent stopped cleanly`);
}

/** Stop the replicas, write 50 rows only the primary gets, wait until it published its position, stop it. */
async function stopReplicasFirst(c: LocalCluster): Promise<void> {
  const old = c.leader;
  await withSql(old, async (sql) => {
    await sql`CREATE TABLE rejoin (id int PRIMARY KEY)`;
    await sql`INSERT INTO rejoin SELECT generate_series(1, 100)`;
  });
  for (const r of c.replicas) {
    await waitFor(`100 rows on ${r.name}`, 30_000, async () => (await count(r)) === 100);
  }
  for (const r of c.replicas) await stop(c.agents, r);
  await withSql(old, (sql) => sql`INSERT INTO rejoin SELECT generate_series(101, 150)`);
  const published = parseLsn(
    await withSql(old, async (sql) => (await sql`SELECT pg_current_wal_lsn()::text AS l`)[0]!.l as string),
  );
  await waitFor(`${old.name} publishing its position ${published}`, 30_000, async () => {
    const optime = (await readHealth(c.layout)).view.status?.optime ?? 0;
    return optime >= published ? true : { notYet: `optime ${optime}` };
  });
  await stop(c.agents, old);
}

/** `first` leads; the former primary and the third member stream from it and hold exactly its rows. */
async function assertRejoined(c: LocalCluster, first: MemberLayout): Promise<void> {
  const old = c.leader;
  const healthy = await waitHealthy(c.layout, 2, 120_000);
  assert.equal(healthy.leader, first.name, "the leader did not change when the others came back");
  await waitFor(
    `${first.name} showing ${old.name} streaming`,
    30_000,
    () =>
      withSql(
        first,
        async (sql) =>
          (await sql`SELECT 1 FROM pg_stat_replication WHERE application_name = ${old.name}
            AND state = 'streaming'`).length === 1,
      ),
  );
  await withSql(first, (sql) => sql`INSERT INTO rejoin VALUES (1000)`);
  for (const m of c.members.filter((x) => x !== first)) {
    await waitFor(`${m.name} holding exactly ${first.name}'s 101 rows`, 30_000, async () => {
      const n = await count(m);
      return n === 101 ? true : { notYet: `${n} rows` };
    });
  }
}

Deno.test({
  name:
    "clean stop: a former primary stopped with SIGTERM after its replicas, restarted once a replica behind it " +
    "leads, is rewound and streams from it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "cleanstop");
    const old = c.leader;
    const [first, second] = c.replicas as [MemberLayout, MemberLayout];
    try {
      await stopReplicasFirst(c);
      // A replica behind the former primary starts alone and takes over.
      await c.spawn(first.name);
      const took = await waitHealthy(c.layout, 0, 90_000);
      assert.equal(took.leader, first.name, `${first.name}, started alone, leads`);
      assert.equal(await count(first), 100, `${first.name} never had the former primary's last rows`);
      // The former primary comes back and follows it; then the third member.
      await c.spawn(old.name);
      await c.spawn(second.name);
      await assertRejoined(c, first);
    } catch (err) {
      await c.dumpLogs("clean-stop");
      throw err;
    }
  },
});

Deno.test({
  name:
    "clean stop: a former primary stopped with SIGTERM after its replicas, restarted as a standby while nobody " +
    "leads, is rewound and streams from the replica behind it that wins the race",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "cleanstop2");
    const old = c.leader;
    const [first, second] = c.replicas as [MemberLayout, MemberLayout];
    try {
      await stopReplicasFirst(c);
      // The former primary may not lead now: it starts Postgres as a standby while nobody leads.
      const yaml = await Deno.readTextFile(old.configPath);
      assert.ok(yaml.includes("nofailover: false"), "the layout writes nofailover: false");
      await Deno.writeTextFile(old.configPath, yaml.replace("nofailover: false", "nofailover: true"));
      await c.spawn(old.name);
      await waitFor(`${old.name} running as a standby`, 60_000, async () => {
        const rec = await withSql(old, async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r);
        return rec === true;
      });
      assert.equal((await readHealth(c.layout)).leader, null, "nobody leads yet");
      // The replica behind it starts and wins the race.
      await c.spawn(first.name);
      const took = await waitFor(`${first.name} leading`, 90_000, async () => {
        const h = await readHealth(c.layout);
        return h.leader === first.name && h.primaries.includes(first.name)
          ? h
          : { notYet: `leader ${h.leader}` };
      });
      assert.equal(took.leader, first.name);
      assert.equal(await count(first), 100, `${first.name} never had the former primary's last rows`);
      await c.spawn(second.name);
      await assertRejoined(c, first);
    } catch (err) {
      await c.dumpLogs("clean-stop-standby");
      throw err;
    }
  },
});
