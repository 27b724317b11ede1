/**
 * `primary_stop_timeout` on a real cluster in synchronous mode (3 agents, real etcd and PostgreSQL, ttl 10 /
 * loop_wait 2 / retry_timeout 4): the leader's checkpointer is frozen (SIGSTOP), so a fast shutdown can never write
 * its shutdown checkpoint; the leader's agent is then stopped. With `primary_stop_timeout: 3` the postmaster and its
 * children (the frozen checkpointer among them) are killed about 3 s into the stop, instead of pg_ctl_timeout
 * (60 s) for the fast and again for the immediate attempt (without the key, the fencing supervisor kills it when
 * the lease runs out, near ttl), and the synchronous standby takes over.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { readHealth, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";
import { formCluster, setConfig } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\)\s+[ZX]/.test(stat);
  } catch {
    return false;
  }
}

Deno.test({
  name: "stop timeout: in synchronous mode a stop that hangs past primary_stop_timeout kills Postgres",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "stoptimeout", { etcdMembers: 1 });
    const old = c.leader;
    let checkpointer = 0;
    try {
      await setConfig(c, { synchronous_mode: true, primary_stop_timeout: 3 });
      const standby = await waitFor("the sync key to name a standby", 60_000, async () => {
        const sync = (await readHealth(c.layout)).view.sync;
        return sync?.leader === old.name && sync.syncStandby.length === 1
          ? sync.syncStandby[0]!
          : { notYet: JSON.stringify(sync) };
      });
      await withSql(old, (sql) => sql`CREATE TABLE stop_rows (id int PRIMARY KEY)`);
      await withSql(old, (sql) => sql`INSERT INTO stop_rows VALUES (1)`);
      checkpointer = await withSql(old, async (sql) => {
        const rows = await sql`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`;
        return rows[0]!["pid"] as number;
      });
      Deno.kill(checkpointer, "SIGSTOP");

      const t0 = performance.now();
      const status = await stopAgent(c.agents.get(old.name)!, 90_000);
      c.agents.delete(old.name);
      const stopMs = performance.now() - t0;
      assert.equal(status.signal, null, "the agent exited by itself, not by the test's SIGKILL");
      const log = await Deno.readTextFile(old.logPath);
      assert.match(
        log,
        /killing the postmaster \(pid \d+\): the stop took longer than primary_stop_timeout \(3 s\)/,
      );
      // Before the fence (the lease of ttl 10, renewed at most loop_wait 2 s before the SIGTERM) could end it.
      assert.ok(stopMs < 7000, `the agent stopped in ${Math.round(stopMs)} ms (pg_ctl_timeout is 60 s)`);
      assert.doesNotMatch(log, /fence deadline passed/);
      assert.ok(!alive(checkpointer), "the frozen checkpointer was killed with the postmaster");

      const leader = await waitFor("the synchronous standby to lead", 60_000, async () => {
        const h = await readHealth(c.layout);
        return h.leader && h.leader !== old.name ? h.leader : { notYet: `leader=${h.leader}` };
      });
      assert.equal(leader, standby);
      const n = await withSql(c.byName(leader), async (sql) => {
        return (await sql`SELECT count(*)::int AS n FROM stop_rows`)[0]!["n"];
      });
      assert.equal(n, 1);
    } catch (err) {
      await c.dumpLogs("stoptimeout");
      throw err;
    } finally {
      if (checkpointer > 0 && alive(checkpointer)) Deno.kill(checkpointer, "SIGKILL");
    }
  },
});
