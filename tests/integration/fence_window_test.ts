/**
 * Fail-closed fencing with real agents, etcd and PostgreSQL (ttl 30 / loop_wait 10 / retry_timeout 10): a leader
 * whose fencing supervisor exits and cannot be started again gives the key up (demoting first) at once, in a cycle
 * its exit wakes, not at its next regular cycle up to `loop_wait` later, while nothing outside the agent would
 * stop its Postgres if the agent froze.
 *
 * The supervisors run through `HACTL_FENCE_SUPERVISOR_CMD`: a wrapper that runs the real `hactl fence-supervisor`
 * unless `<data_dir>.no-supervisor` exists, and otherwise exits 1.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { waitFor } from "../../scripts/lib/local_cluster.ts";
import { watchLeaderKey } from "../helpers/writer.ts";

async function countIn(path: string, re: RegExp): Promise<number> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => re.test(l)).length;
}

/** A wrapper around the real supervisor that exits 1 once `<data_dir>.no-supervisor` exists. */
async function writeWrapper(dir: string): Promise<string> {
  const path = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
  const wrapper = `${dir}/fence-supervisor.sh`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh
# args: fence-supervisor --data-dir DIR
if [ -e "$3.no-supervisor" ]; then echo "supervisor disabled by the test" >&2; exit 1; fi
exec ${Deno.execPath()} run --quiet --allow-all --config=${path("../../deno.json")} ${
      path("../../main.ts")
    } "$@"
`,
  );
  await Deno.chmod(wrapper, 0o755);
  return wrapper;
}

Deno.test({
  name:
    "fencing supervisor: a leader whose supervisor exits for good gives the key up at once, not a loop_wait later",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hactl-fencewin-" });
    Deno.env.set("HACTL_FENCE_SUPERVISOR_CMD", await writeWrapper(dir));
    try {
      await using c = await formCluster({ ttl: 30, loopWait: 10, retryTimeout: 10 }, "fencewin", {
        members: 2,
      });
      const pg1 = c.leader;
      const watch = await watchLeaderKey(c.etcd.endpoints, "fencewin");
      try {
        const res = await fetch(`http://127.0.0.1:${pg1.apiPort}/patroni`);
        const sup = (await res.json()).fence_supervisor as { state: string; pid: number };
        assert.equal(sup.state, "running", JSON.stringify(sup));
        await Deno.writeTextFile(`${pg1.dataDir}.no-supervisor`, "");
        // Right after a regular cycle: the next one is loop_wait (10 s) away.
        const cycles = /no action\. I am \(pg\d\), the leader with the lock/;
        const seen = await countIn(pg1.logPath, cycles);
        await waitFor("a leader cycle of pg1", 30_000, async () => await countIn(pg1.logPath, cycles) > seen);
        const killedAt = performance.now();
        Deno.kill(sup.pid, "SIGKILL");
        const gaveUp =
          /(demoting self|released the leader key) because the fencing supervisor is not running/;
        await waitFor("pg1 giving the key up", 30_000, async () => await countIn(pg1.logPath, gaveUp) > 0);
        const deleted = await waitFor(
          "the leader key deleted",
          30_000,
          () => Promise.resolve(watch.events.find((e) => e.type === "delete" && e.at > killedAt) ?? null),
        );
        const tookMs = deleted.at - killedAt;
        assert.ok(
          tookMs < 5000,
          `pg1 gave the key up ${Math.round(tookMs)} ms after its supervisor exited (loop_wait is 10 s)`,
        );
      } catch (err) {
        await c.dumpLogs("fence-window");
        throw err;
      } finally {
        await watch.close();
      }
    } finally {
      Deno.env.delete("HACTL_FENCE_SUPERVISOR_CMD");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
