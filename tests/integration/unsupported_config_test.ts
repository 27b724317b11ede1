/**
 * Fail closed on a promise hactl cannot keep, on a real cluster (3-member etcd, three `hactl agent` processes with
 * PostgreSQL 15, ttl 10 / loop_wait 2 / retry_timeout 4): once the `config` key sets `standby_cluster` with a
 * `create_replica_methods` hactl cannot run (not implemented yet; as a Patroni cluster's may before a migration;
 * such a section is not in force at all), the leader keeps leading and logs the error
 * every cycle; after it stops, no member takes the leader key and none becomes a primary; once the setting is
 * removed, a replica takes over.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { TIMINGS } from "../../scripts/bench/failover.ts";
import { readHealth, waitFor } from "../../scripts/lib/local_cluster.ts";
import { formCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";

const TIMING = TIMINGS.fast;
const SCOPE = "unsupported-config";

async function setConfig(etcd: Etcd3, patch: Record<string, unknown>): Promise<void> {
  const key = `/service/${SCOPE}/config`;
  const current = JSON.parse((await etcd.get(key).string()) ?? "{}") as Record<string, unknown>;
  await etcd.put(key).value(JSON.stringify({ ...current, ...patch }));
}

async function logOf(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch(() => "");
}

Deno.test({
  name:
    "unsupported config: under standby_cluster the leader keeps leading, and nobody takes over after it stops",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, SCOPE);
    const etcd = new Etcd3({ hosts: c.etcd.endpoints });
    try {
      const old = c.leader;
      await setConfig(etcd, {
        standby_cluster: { host: "10.1.0.1", port: 5432, create_replica_methods: ["wal_e"] },
      });
      await waitFor("the leader to say it keeps leading under standby_cluster", 20_000, async () => {
        const log = await logOf(old.logPath);
        return log.includes(
          "still leading although the cluster's dynamic config sets standby_cluster.create_replica_methods",
        ) ||
          { notYet: "no such line in its log yet" };
      });
      assert.equal((await readHealth({ etcdEndpoints: c.etcd.endpoints, scope: SCOPE })).leader, old.name);

      // A clean stop releases the key; the others must not take it while standby_cluster is set.
      await stopAgent(c.agents.get(old.name)!, 60_000);
      c.agents.delete(old.name);
      const others = c.members.filter((m) => m.name !== old.name);
      // An absence can only be observed over a window: the key's ttl plus three cycles and a margin, polled.
      const until = Date.now() + (TIMING.ttl + 3 * TIMING.loopWait + 5) * 1000;
      while (Date.now() < until) {
        const h = await readHealth({ etcdEndpoints: c.etcd.endpoints, scope: SCOPE });
        assert.equal(h.leader, null, `${h.leader} took the leader key under standby_cluster`);
        assert.deepEqual(h.primaries.filter((n) => n !== old.name), [], "a replica became a primary");
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const m of others) {
        assert.match(
          await logOf(m.logPath),
          /not taking the leader key: the cluster's dynamic config sets standby_cluster\.create_replica_methods/,
          `${m.name} says why it does not take the key`,
        );
      }

      await setConfig(etcd, { standby_cluster: null });
      const next = await waitFor(
        "a replica to take over once standby_cluster is removed",
        60_000,
        async () => {
          const h = await readHealth({ etcdEndpoints: c.etcd.endpoints, scope: SCOPE });
          return h.leader !== null && h.primaries.includes(h.leader)
            ? h.leader
            : { notYet: JSON.stringify(h.leader) };
        },
      );
      assert.ok(others.some((m) => m.name === next), `${next} is one of the replicas`);
    } catch (err) {
      await c.dumpLogs(SCOPE);
      throw err;
    } finally {
      etcd.close();
    }
  },
});
