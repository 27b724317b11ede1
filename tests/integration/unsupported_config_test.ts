/**
 * Fail closed on a promise hactl cannot keep, on a real cluster (3-member etcd, three `hactl agent` processes with
 * PostgreSQL 15, ttl 10 / loop_wait 2 / retry_timeout 4): once the `config` key sets a dynamic key whose promise
 * hactl does not keep (as a Patroni cluster's may before a migration; such a key is not in force at all), the
 * leader keeps leading and logs the error every cycle; after it stops, no member takes the leader key and none
 * becomes a primary; once the setting is removed, a replica takes over.
 *
 * Every promise of Patroni's dynamic keys is implemented today (the last, standby_cluster.create_replica_methods,
 * with the standby cluster), so `UNKEPT` names none and the test is ignored; the same path runs in the unit tests
 * (tests/unit/decide_unsupported_config_test.ts, agent_unsupported_config_test.ts) and the simulator
 * (tests/sim/testdata/unsupported_config.txt) with a key of their own. A key marked `guarantee` in
 * src/config/keys.ts goes into `UNKEPT`.
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
/** A dynamic key of src/config/keys.ts marked `guarantee`, and a `config` patch setting it; none today. */
const UNKEPT: { key: string; set: Record<string, unknown>; unset: Record<string, unknown> } | null = null;

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
    "unsupported config: under a promise hactl cannot keep the leader keeps leading, and nobody takes over " +
    "after it stops",
  ignore: UNKEPT === null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const unkept = UNKEPT!;
    await using c = await formCluster(TIMING, SCOPE);
    const etcd = new Etcd3({ hosts: c.etcd.endpoints });
    try {
      const old = c.leader;
      await setConfig(etcd, unkept.set);
      await waitFor(`the leader to say it keeps leading under ${unkept.key}`, 20_000, async () => {
        const log = await logOf(old.logPath);
        return log.includes(`still leading although the cluster's dynamic config sets ${unkept.key}`) ||
          { notYet: "no such line in its log yet" };
      });
      assert.equal((await readHealth({ etcdEndpoints: c.etcd.endpoints, scope: SCOPE })).leader, old.name);

      // A clean stop releases the key; the others must not take it while the key is set.
      await stopAgent(c.agents.get(old.name)!, 60_000);
      c.agents.delete(old.name);
      const others = c.members.filter((m) => m.name !== old.name);
      // An absence can only be observed over a window: the key's ttl plus three cycles and a margin, polled.
      const until = Date.now() + (TIMING.ttl + 3 * TIMING.loopWait + 5) * 1000;
      while (Date.now() < until) {
        const h = await readHealth({ etcdEndpoints: c.etcd.endpoints, scope: SCOPE });
        assert.equal(h.leader, null, `${h.leader} took the leader key under ${unkept.key}`);
        assert.deepEqual(h.primaries.filter((n) => n !== old.name), [], "a replica became a primary");
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const m of others) {
        assert.ok(
          (await logOf(m.logPath)).includes(
            `not taking the leader key: the cluster's dynamic config sets ${unkept.key}`,
          ),
          `${m.name} says why it does not take the key`,
        );
      }

      await setConfig(etcd, unkept.unset);
      const next = await waitFor(
        `a replica to take over once ${unkept.key} is removed`,
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
