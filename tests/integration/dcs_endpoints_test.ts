/**
 * The etcd adapter against a 3-member etcd of which one member drops every packet (a blackholing TCP proxy in
 * front of it, as when a member is cut off or rejoining after a partition): every call must still succeed within
 * `retry_timeout`, by trying another member once its share of the budget is spent. Found by the chaos suite
 * (`cut-peers`): the client picks a random endpoint per call, so a third of the calls hung for the whole
 * retry_timeout and a healthy leader demoted itself.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import { startEtcd } from "../helpers/etcd.ts";
import { startProxy } from "../helpers/tcp_proxy.ts";

Deno.test({
  name: "dcs: every call succeeds within retry_timeout while one of three etcd members drops every packet",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd({ members: 3 });
    const first = new URL(etcd.endpoints[0]!);
    await using proxy = await startProxy({ hostname: first.hostname, port: Number(first.port) });
    proxy.cut({ mode: "blackhole" });
    await using dcs = createEtcdDcs({
      etcd: { hosts: [`http://${proxy.address}`, ...etcd.endpoints.slice(1)], protocol: "http" },
      namespace: "/service/",
      scope: "endpoints",
      name: "pg1",
      retryTimeout: 3,
      ttl: 10,
    });
    const slowest: number[] = [];
    // With one endpoint in three hanging, 15 rounds of two calls all passing by luck has odds of (2/3)^30.
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      await dcs.refreshLease(10);
      await dcs.loadCluster();
      slowest.push(performance.now() - t);
    }
    assert.ok(
      Math.max(...slowest) < 2 * 3000,
      `a round took ${Math.max(...slowest).toFixed(0)} ms (two calls, 3 s budget each)`,
    );
  },
});
