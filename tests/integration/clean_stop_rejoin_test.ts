/**
 * A cleanly stopped former primary rejoins, for real: a 3-member cluster (ttl 10 / loop_wait 2 / retry_timeout 4)
 * is stopped member by member with SIGTERM, the replicas first, so the primary takes rows the replicas never get
 * and then writes its shutdown checkpoint. A replica started alone takes over (it is within
 * `maximum_lag_on_failover` of the last position the primary published). When the former primary's agent starts
 * again, it must not stay a standby on its own history: it must follow the new leader (rewound) and stream from
 * it, holding exactly the new leader's rows; the third member joins too.
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
import { formCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

const count = (m: MemberLayout) =>
  withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM rejoin`)[0]!.n as number);

async function stop(agents: Map<string, Deno.ChildProcess>, m: MemberLayout): Promise<void> {
  const status = await stopAgent(agents.get(m.name)!, 30_000);
  agents.delete(m.name);
  assert.equal(status.code, 0, `${m.name}'s agent stopped cleanly`);
}

Deno.test({
  name:
    "clean stop: a former primary stopped with SIGTERM after its replicas rejoins a replica that took over, " +
    "streaming from it with its rows",
  // Fails on main: the former primary stays "in archive recovery" on its own timeline-1 history after losing the
  // race to a replica behind it (a cleanly stopped former primary is never compared with the new leader's
  // history, so it is not rewound). Enable once that is fixed.
  ignore: false,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "cleanstop");
    const old = c.leader;
    const [first, second] = c.replicas as [MemberLayout, MemberLayout];
    try {
      await withSql(old, async (sql) => {
        await sql`CREATE TABLE rejoin (id int PRIMARY KEY)`;
        await sql`INSERT INTO rejoin SELECT generate_series(1, 100)`;
      });
      for (const r of c.replicas) {
        await waitFor(`100 rows on ${r.name}`, 30_000, async () => (await count(r)) === 100);
      }
      // The replicas stop first; the primary takes 50 rows they never see, publishes its position, then stops.
      await stop(c.agents, first);
      await stop(c.agents, second);
      await withSql(old, (sql) => sql`INSERT INTO rejoin SELECT generate_series(101, 150)`);
      const published = parseLsn(
        await withSql(
          old,
          async (sql) => (await sql`SELECT pg_current_wal_lsn()::text AS l`)[0]!.l as string,
        ),
      );
      await waitFor(`${old.name} publishing its position ${published}`, 30_000, async () => {
        const optime = (await readHealth(c.layout)).view.status?.optime ?? 0;
        return optime >= published ? true : { notYet: `optime ${optime}` };
      });
      await stop(c.agents, old);

      // A replica behind the former primary starts alone and takes over.
      await c.spawn(first.name);
      const took = await waitHealthy(c.layout, 0, 90_000);
      assert.equal(took.leader, first.name, `${first.name}, started alone, leads`);
      assert.equal(await count(first), 100, `${first.name} never had the former primary's last rows`);

      // The former primary comes back and follows it; then the third member.
      await c.spawn(old.name);
      await c.spawn(second.name);
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
      for (const m of [old, second]) {
        await waitFor(`${m.name} holding exactly ${first.name}'s 101 rows`, 30_000, async () => {
          const n = await count(m);
          return n === 101 ? true : { notYet: `${n} rows` };
        });
      }
    } catch (err) {
      await c.dumpLogs("clean-stop");
      throw err;
    }
  },
});
