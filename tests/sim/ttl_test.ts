/**
 * One TTL for the lease that holds the leader key and for every fence: a change of `ttl` by `hactl edit-config`
 * while a member leads, and an agent restarted with a local `bootstrap.dcs.ttl` smaller than the cluster's.
 * Invariant (g) (every fence deadline of the key holder at or before the expiry of the lease that holds the key,
 * as the etcd model sees it: the agent's timer, the supervisor's deadline as asked and as held, the watchdog's) is
 * checked after every step; the tests also read the key's lease in the model. Every host has a required watchdog.
 *
 * @module
 */
import { expectNoViolation } from "./expect.ts";
import assert from "node:assert/strict";
import { Sim } from "./sim.ts";

const FAST = { ttl: 10, loop_wait: 2, retry_timeout: 4, maximum_lag_on_failover: 1048576 };

/** The leader key's holder and the TTL of the lease that holds it, as the etcd model sees them. */
function keyLease(sim: Sim): { holder: string; ttl: number; expiresAt: number } {
  const kv = sim.etcd.get("test", "/service/demo/leader");
  assert.ok(kv, "nobody holds the leader key");
  const lease = sim.etcd.leaseInfo(kv.lease);
  assert.ok(lease, `the leader key's lease ${kv.lease} does not exist`);
  return { holder: kv.value, ...lease };
}

/** `hactl edit-config` now, as a scheduled event (the members' watches see it at once). */
function editNow(sim: Sim, patch: Record<string, unknown>): void {
  sim.at(sim.now, () => sim.editConfig(patch));
}

/** A 3-member cluster at ttl 10 / loop_wait 2 / retry_timeout 4, with watchdogs. */
function cluster(): Sim {
  return new Sim({ members: 3, bootstrapDcs: FAST, startOffsets: [0, 300, 600], watchdog: true });
}

/** A 3-member cluster at ttl 10 / loop_wait 2 / retry_timeout 4 with a leader. */
async function ledCluster(): Promise<{ sim: Sim; leader: string }> {
  const sim = cluster();
  await expectNoViolation(sim, 30_000);
  const { holder, ttl } = keyLease(sim);
  assert.equal(ttl, 10);
  return { sim, leader: holder };
}

Deno.test("sim: ttl 10 -> 30 by edit-config while leading moves the key to a 30 s lease before a fence uses 30 s", async () => {
  const { sim, leader } = await ledCluster();
  const before = sim.etcd.get("test", "/service/demo/leader")!.lease;
  editNow(sim, { ttl: 30 });
  // Step by step: invariant (g) is checked after each one.
  for (let i = 0; i < 50; i++) await expectNoViolation(sim, 100);
  const lease = keyLease(sim);
  assert.equal(lease.holder, leader, "the leader keeps its key through the change");
  assert.equal(lease.ttl, 30, "the key is on a lease of the new ttl");
  const m = sim.member(leader);
  const deadline = m.agent!.fenceDeadline!;
  assert.ok(
    deadline > sim.now + 15_000,
    `the fence uses the new ttl: deadline ${deadline - sim.now} ms from now`,
  );
  assert.ok(deadline <= lease.expiresAt && m.supervisor.requested! <= lease.expiresAt);
  assert.ok(m.supervisor.deadline! <= lease.expiresAt && m.device.deadline! <= lease.expiresAt);
  assert.ok(!sim.etcd.leases().includes(before), "the lease that held the key before was revoked");
});

Deno.test("sim: ttl 10 -> 30 with a slow move of the key: the fences keep the key's lease ttl until the key moved", async () => {
  // Every move of a lease takes 3 s of virtual time: for those 3 s the key is still on the 10 s lease while the
  // configured ttl is 30. The renewal just before the move must arm every fence with 10 s, not 30 s (invariant g is
  // checked while the move is under way, as other members' cycles and timers run).
  const sim = new Sim({
    members: 3,
    bootstrapDcs: FAST,
    startOffsets: [0, 300, 600],
    watchdog: true,
    callPlan: (_m, port, method) => ({
      latencyMs: port === "dcs" && method === "moveLease" ? 3000 : 0,
      outcome: "ok",
    }),
  });
  await expectNoViolation(sim, 30_000);
  const { holder } = keyLease(sim);
  editNow(sim, { ttl: 30 });
  for (let i = 0; i < 100; i++) await expectNoViolation(sim, 100);
  const lease = keyLease(sim);
  assert.deepEqual([lease.holder, lease.ttl], [holder, 30], "the key moved to a lease of the new ttl");
  assert.ok(sim.member(holder).agent!.fenceDeadline! > sim.now + 15_000, "the fences then use 30 s");
});

Deno.test("sim: ttl 30 -> 10 by edit-config shortens every fence at the leader's next renewal", async () => {
  const { sim, leader } = await ledCluster();
  editNow(sim, { ttl: 30 });
  await expectNoViolation(sim, 10_000);
  assert.equal(keyLease(sim).ttl, 30);
  editNow(sim, { ttl: 10 });
  // The change wakes the leader's watch: its cycle runs at once.
  await expectNoViolation(sim, 1);
  const m = sim.member(leader);
  assert.ok(m.agent!.fenceDeadline! <= sim.now + 7_500, "the agent's timer: renewal + 10 s - 2.5 s");
  assert.ok(m.supervisor.requested! <= sim.now + 8_750, "the supervisor: half a margin later");
  assert.ok(m.supervisor.deadline! <= sim.now + 8_750, "the supervisor holds what the agent asked for");
  assert.ok(m.device.deadline! <= sim.now + 5_000, "the watchdog: ttl - safety_margin");
  // The key moves onto the shorter lease only once the fencing supervisor acknowledged the shortened deadline
  // (src/core/lease_ttl.ts `fencesWithin`): at the next cycle, within loop_wait.
  assert.equal(keyLease(sim).ttl, 30, "the key stays on the longer lease while the fences shorten");
  await expectNoViolation(sim, 2_500);
  assert.equal(keyLease(sim).ttl, 10, "the key moved to a lease of the new ttl at the next cycle");
  await expectNoViolation(sim, 30_000);
  assert.equal(keyLease(sim).holder, leader);
});

Deno.test("sim: an agent restarted with a local bootstrap.dcs.ttl smaller than the cluster's fences within the key's lease", async () => {
  // The cluster's config key says ttl 30 before any agent starts; every agent's own bootstrap.dcs says 10.
  const sim = cluster();
  sim.editConfig({ ttl: 30 });
  await expectNoViolation(sim, 30_000);
  const first = keyLease(sim);
  assert.equal(first.ttl, 30, "the key is on a lease of the cluster's ttl");
  // The leader's agent dies and comes back while its Postgres runs on and its key lives: the fresh agent's first
  // lease comes from its local ttl 10, and it renews the key in its very first cycle.
  sim.at(sim.now, () => sim.killAgent(first.holder));
  sim.at(sim.now + 1000, () => sim.startAgent(first.holder));
  await expectNoViolation(sim, 60_000);
  const lease = keyLease(sim);
  assert.equal(lease.holder, first.holder, "the restarted agent kept its key");
  assert.equal(lease.ttl, 30, "on a lease of the cluster's ttl");
  assert.ok(sim.member(lease.holder).pg.isRunningPrimary());
});
