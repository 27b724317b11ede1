/**
 * The chaos suite, once per fault (scripts/chaos/run.sh repeats them): one 3-member cluster in network namespaces
 * (scripts/chaos/cluster.ts: every member's etcd, agent and Postgres in a namespace of its own) at ttl 10 /
 * loop_wait 2 / retry_timeout 4, reused from fault to fault and formed anew when a fault leaves it broken. Each
 * fault (scripts/chaos/faults.ts) runs under the continuous writer; asserted: never two nodes accepting writes, no
 * acknowledged write lost where none may be (`NO_LOSS_FAULTS`; every fault with HACTL_CHAOS_SYNC=on|strict|quorum), and 1
 * primary + 2 streaming replicas again after the heal. The figures are printed as one JSON line per fault.
 *
 * Needs root (namespaces, nftables); skipped otherwise. scripts/test.sh runs it as the `chaos` tier.
 */
import assert from "node:assert/strict";
import { type ChaosCluster, formChaosCluster } from "../../scripts/chaos/cluster.ts";
import { FAULTS, runFault } from "../../scripts/chaos/faults.ts";
import { mustLoseNothing, verdict } from "../../scripts/chaos/run.ts";
import { chaosSyncFromEnv } from "../../scripts/chaos/sync.ts";
import { TIMINGS } from "../../scripts/bench/failover.ts";

const isRoot = Deno.uid() === 0;
/** HACTL_CHAOS_SYNC=on|strict|quorum runs every fault in synchronous replication, where no fault may lose a write. */
const sync = chaosSyncFromEnv(Deno.env.get("HACTL_CHAOS_SYNC"));
let cluster: ChaosCluster | null = null;

for (const fault of FAULTS) {
  Deno.test({
    name: `chaos ${fault}: one writable primary at a time, ${
      mustLoseNothing({ fault, ...(sync === "off" ? {} : { sync }) }) ? "no acknowledged write lost, " : ""
    }back to 1 primary + 2 streaming replicas`,
    ignore: !isRoot,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      cluster ??= await formChaosCluster(TIMINGS.fast, "chaos");
      const c = cluster;
      const r = await runFault(c, fault);
      // deno-lint-ignore no-console -- the figures are worth seeing in CI logs
      console.log(JSON.stringify(r));
      try {
        assert.equal(
          r.dual_writer_acks,
          0,
          `acks inside another node's write stretch (${r.dual_writer_ms} ms)`,
        );
        assert.equal(r.dual_writer_ms, 0, "two nodes accepted writes at once");
        assert.ok(r.converged, `the cluster did not converge: ${r.error}`);
        if (mustLoseNothing(r)) assert.equal(r.lost, 0, "acknowledged writes lost");
        // Cut off from etcd and from a replica, the old primary stops taking writes within ttl (run.ts verdict).
        if (r.fault === "etcd-outage-cut-replica") assert.equal(verdict(r), null);
      } catch (err) {
        await c.dumpLogs(`chaos-${fault}`);
        if (!r.converged) {
          cluster = null;
          await c.teardown();
        }
        throw err;
      }
    },
  });
}

Deno.test({
  name: "chaos: tear the cluster and its namespaces down",
  ignore: !isRoot,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await cluster?.teardown();
    cluster = null;
  },
});
