/**
 * Fail-closed fencing with real agents, etcd and PostgreSQL (ttl 10 / loop_wait 2 / retry_timeout 4):
 *
 * 1. The leader's fencing supervisor is frozen (SIGSTOP): it stops answering, so the leader demotes and gives the
 *    key up, saying why, and the replica takes over. Thawed, the supervisor answers again.
 * 2. An agent whose supervisor cannot start (`HACTL_FENCE_SUPERVISOR_CMD` naming a program that does not exist)
 *    is the only member left: it never takes the leader key, says why in its log and in `GET /patroni`
 *    (`fence_supervisor.usable: false`) and `/metrics` (`hactl_fence_supervisor_up 0`), and keeps trying to start it.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";
import { readHealth, waitFor } from "../../scripts/lib/local_cluster.ts";
import { watchLeaderKey } from "../helpers/writer.ts";

async function patroni(apiPort: number): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/patroni`);
  return await res.json();
}

async function countIn(path: string, re: RegExp): Promise<number> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => re.test(l)).length;
}

Deno.test({
  name:
    "fencing supervisor: a leader whose supervisor freezes gives the key up; an agent without one never leads",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, "fencesup", { members: 2 });
    const pg1 = c.leader;
    const pg2 = c.replicas[0]!;
    const watch = await watchLeaderKey(c.etcd.endpoints, "fencesup");
    let frozenPid: number | null = null;
    try {
      // 1. Freeze the leader's supervisor.
      const before = await patroni(pg1.apiPort);
      const sup = before.fence_supervisor as { state: string; usable: boolean; pid: number };
      assert.equal(sup.state, "running", JSON.stringify(before.fence_supervisor));
      assert.equal(sup.usable, true);
      Deno.kill(sup.pid, "SIGSTOP");
      frozenPid = sup.pid;
      await waitFor("the leader giving the key up", 30_000, async () =>
        await countIn(
          pg1.logPath,
          /demoting self because the fencing supervisor is not running \(it has not answered for/,
        ) > 0);
      await waitFor("the replica taking over", 60_000, async () => {
        const h = await readHealth(c.layout);
        return h.leader === pg2.name && h.primaries.includes(pg2.name) ? h : null;
      });
      Deno.kill(sup.pid, "SIGCONT");
      frozenPid = null;
      await waitFor("pg1's supervisor answering again", 30_000, async () => {
        const s = (await patroni(pg1.apiPort)).fence_supervisor as { state: string };
        return s.state === "running";
      });

      // 2. pg1's agent again, now with a supervisor that cannot start; then pg2's agent goes away.
      assert.equal((await stopAgent(c.agents.get(pg1.name)!, 30_000)).code, 0);
      c.agents.delete(pg1.name);
      Deno.env.set("HACTL_FENCE_SUPERVISOR_CMD", "/nonexistent/hactl-fence-supervisor");
      try {
        await c.spawn(pg1.name);
      } finally {
        Deno.env.delete("HACTL_FENCE_SUPERVISOR_CMD");
      }
      const status = await waitFor("pg1's API reporting its supervisor", 60_000, async () => {
        const body = await patroni(pg1.apiPort).catch(() => null);
        return body?.fence_supervisor ? body : null;
      });
      const fs = status.fence_supervisor as { state: string; usable: boolean; problem: string };
      assert.equal(fs.usable, false, JSON.stringify(fs));
      assert.equal(fs.state, "not running");
      assert.match(fs.problem, /could not start \/nonexistent\/hactl-fence-supervisor/);
      const metrics = await (await fetch(`http://127.0.0.1:${pg1.apiPort}/metrics`)).text();
      assert.match(metrics, /^hactl_fence_supervisor_up\{[^}]*\} 0$/m);
      assert.match(metrics, /^hactl_fence_supervisor_enabled\{[^}]*\} 1$/m);

      const stoppedAt = performance.now();
      assert.equal((await stopAgent(c.agents.get(pg2.name)!, 30_000)).code, 0);
      c.agents.delete(pg2.name);
      const refusal =
        /not taking the leader key because the fencing supervisor is not running \(could not start/;
      await waitFor(
        "pg1 refusing the free key three times",
        60_000,
        async () => await countIn(pg1.logPath, refusal) >= 3,
      );
      assert.equal((await readHealth(c.layout)).leader, null, "nobody holds the leader key");
      assert.ok(
        !watch.events.some((e) => e.type === "put" && e.value === pg1.name && e.at > stoppedAt),
        "pg1 never took the leader key",
      );
      assert.match(
        await Deno.readTextFile(pg1.logPath),
        /the fencing supervisor is not running \(could not start .*\); starting it again in/,
      );
    } catch (err) {
      await c.dumpLogs("fence-supervisor");
      throw err;
    } finally {
      if (frozenPid !== null) Deno.kill(frozenPid, "SIGCONT");
      await watch.close();
    }
  },
});
