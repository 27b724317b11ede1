/**
 * A switchover in maintenance mode, for real, as Patroni runs one: a paused 3-member cluster (ttl 10 / loop_wait
 * 2 / retry_timeout 4) gets `POST /switchover {"leader", "candidate"}` on its leader. The request is answered
 * 200 once the candidate leads; the candidate is the writable primary, the former leader runs again as a replica
 * streaming from it, the third member was never promoted, every row written before is on the new primary, and
 * the cluster is still paused. Without a candidate the request is refused (400) in Patroni's words.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { type MemberLayout, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";
import { formCluster } from "../helpers/cluster.ts";
import { watchLeaderKey } from "../helpers/writer.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

async function api(m: MemberLayout, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(40_000),
  });
  return { status: res.status, text: await res.text() };
}

const inRecovery = (m: MemberLayout) =>
  withSql(m, async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r as boolean);

Deno.test({
  name:
    "paused switchover: only the named candidate takes over, the former leader follows it, pause stays on",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "pausedswitch");
    const old = c.leader;
    const [candidate, third] = c.replicas as [MemberLayout, MemberLayout];
    const watch = await watchLeaderKey(c.etcd.endpoints, "pausedswitch");
    try {
      await withSql(old, async (sql) => {
        await sql`CREATE TABLE before_switch (id int PRIMARY KEY)`;
        await sql`INSERT INTO before_switch SELECT generate_series(1, 100)`;
      });
      const count = (m: MemberLayout) =>
        withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM before_switch`)[0]!.n as number);
      await waitFor(`100 rows on ${candidate.name}`, 30_000, async () => (await count(candidate)) === 100);
      const paused = await api(old, "PATCH", "/config", { pause: true });
      assert.equal(paused.status, 200, paused.text);
      for (const m of c.members) {
        await waitFor(`${m.name} reporting pause`, 30_000, async () => {
          return JSON.parse((await api(m, "GET", "/patroni")).text).pause === true;
        });
      }

      const refused = await api(old, "POST", "/switchover", { leader: old.name });
      assert.deepEqual(refused, {
        status: 400,
        text: "Switchover is possible only to a specific candidate in a paused state",
      });

      const t0 = performance.now();
      const res = await api(old, "POST", "/switchover", { leader: old.name, candidate: candidate.name });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, `Successfully switched over to "${candidate.name}"`);
      assert.equal(await inRecovery(candidate), false, `${candidate.name} is the writable primary`);
      assert.equal(await count(candidate), 100, `${candidate.name} holds every row written before`);
      const takers = watch.events.filter((e) => e.at >= t0 && e.type === "put" && e.value !== old.name)
        .map((e) => e.value);
      assert.deepEqual([...new Set(takers)], [candidate.name], "only the candidate took the leader key");

      await withSql(candidate, (sql) => sql`INSERT INTO before_switch VALUES (101)`);
      for (const m of [old, third]) {
        await waitFor(`row 101 on ${m.name}`, 60_000, async () => {
          try {
            return (await count(m)) === 101;
          } catch {
            return false; // the former leader may still be starting as a replica
          }
        });
        assert.equal(await inRecovery(m), true, `${m.name} is a replica`);
      }
      for (const m of c.members) {
        assert.equal(
          JSON.parse((await api(m, "GET", "/patroni")).text).pause,
          true,
          `${m.name} still paused`,
        );
      }
    } catch (err) {
      await c.dumpLogs("paused-switchover");
      throw err;
    } finally {
      await watch.close();
    }
  },
});
