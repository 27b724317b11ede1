/**
 * Maintenance mode does what it promises, for real: a 3-member cluster (ttl 10 / loop_wait 2 / retry_timeout 4)
 * is paused with `PATCH /config {"pause": true}`, then its primary's postmaster is killed. For three TTLs nobody
 * acts: no replica promotes or takes the leader key, and the dead primary is not started again (its `GET /health`
 * answers 503 at once, not from a status up to a second old). Once resumed,
 * the cluster recovers by itself: 1 primary + 2 streaming replicas, holding every row written before the crash.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { postmasterPid } from "../../scripts/bench/failover.ts";
import { type MemberLayout, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import { formCluster } from "../helpers/cluster.ts";
import { processAlive } from "../helpers/processes.ts";
import { watchLeaderKey } from "../helpers/writer.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

async function patroni(m: MemberLayout): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}/patroni`, { signal: AbortSignal.timeout(3000) });
  return await res.json();
}

async function patchConfig(m: MemberLayout, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}/config`, {
    method: "PATCH",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
}

/** Whether a postmaster runs in `m`'s data directory (its postmaster.pid names a live process). */
async function postgresRuns(m: MemberLayout): Promise<boolean> {
  try {
    return processAlive(await postmasterPid(m));
  } catch {
    return false;
  }
}

const inRecovery = (m: MemberLayout) =>
  withSql(m, async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r as boolean);

Deno.test({
  name:
    "pause: a paused cluster takes no automatic action when its primary's Postgres dies; resumed, it recovers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "pausetest");
    const old = c.leader;
    const watch = await watchLeaderKey(c.etcd.endpoints, "pausetest");
    try {
      await withSql(old, async (sql) => {
        await sql`CREATE TABLE before_crash (id int PRIMARY KEY)`;
        await sql`INSERT INTO before_crash SELECT generate_series(1, 100)`;
      });
      const count = (m: MemberLayout) =>
        withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM before_crash`)[0]!.n as number);
      for (const r of c.replicas) {
        await waitFor(`100 rows on ${r.name}`, 30_000, async () => (await count(r)) === 100);
      }

      await patchConfig(old, { pause: true });
      for (const m of c.members) {
        await waitFor(`${m.name} reporting pause`, 30_000, async () => (await patroni(m)).pause === true);
      }

      // Kill the primary's postmaster; watch for three TTLs that nothing happens.
      const t0 = performance.now();
      const pid = await postmasterPid(old);
      Deno.kill(pid, "SIGKILL");
      // The REST API does not wait for its next snapshot (up to a second away) to stop calling it healthy.
      await waitFor(`${old.name}'s postmaster gone`, 5000, () => Promise.resolve(!processAlive(pid)), 10);
      const health = await fetch(`http://127.0.0.1:${old.apiPort}/health`, {
        signal: AbortSignal.timeout(3000),
      });
      const body = await health.json();
      const after = `${(performance.now() - t0).toFixed(0)} ms after the kill`;
      assert.equal(health.status, 503, `GET /health ${after}: ${JSON.stringify(body)}`);
      assert.equal(body.state, "unknown", `state ${after}`);
      const observeMs = 3 * TIMING.ttl * 1000;
      let checks = 0;
      while (performance.now() - t0 < observeMs) {
        const at = `${((performance.now() - t0) / 1000).toFixed(1)} s after the crash`;
        for (const r of c.replicas) {
          assert.equal(await inRecovery(r), true, `${r.name} was promoted in pause (${at})`);
        }
        assert.equal(
          await postgresRuns(old),
          false,
          `${old.name}'s Postgres was started again in pause (${at})`,
        );
        const taken = watch.events.filter((e) => e.at > t0 && e.type === "put" && e.value !== old.name);
        assert.deepEqual(taken, [], `another member took the leader key in pause (${at})`);
        checks++;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(checks >= 10, `only ${checks} checks in ${observeMs} ms`);
      for (const r of c.replicas) assert.equal((await patroni(r)).pause, true, `${r.name} still paused`);

      // Resume: the cluster recovers by itself and keeps every row.
      await patchConfig(c.replicas[0]!, { pause: null });
      const healthy = await waitHealthy(c.layout, 2, 120_000);
      const leader = c.byName(healthy.leader!);
      assert.equal(await inRecovery(leader), false, `${leader.name} is the writable primary`);
      assert.equal(await count(leader), 100, `${leader.name} holds every row written before the crash`);
      await withSql(leader, (sql) => sql`INSERT INTO before_crash VALUES (101)`);
      for (const m of c.members.filter((x) => x !== leader)) {
        await waitFor(`row 101 on ${m.name}`, 30_000, async () => (await count(m)) === 101);
      }
    } catch (err) {
      await c.dumpLogs("pause");
      throw err;
    } finally {
      await watch.close();
    }
  },
});
