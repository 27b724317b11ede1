/**
 * The short lease in the simulator: a 3-member cluster at ttl 5 / loop_wait 1 / retry_timeout 2 (hactl's floor)
 * with a required watchdog at `safety_margin: -1` (2 s), the margin docs/fencing.md asks for at ttl 5. Every
 * invariant is checked after every step (among them (g): every fence deadline of the key holder at or before the
 * expiry of the lease that holds the key). Without a fault the leader keeps its key (no false failover in the
 * model, whose calls take 50 ms); when the leader's host dies a replica leads within the lease and a few cycles.
 *
 * @module
 */
import { expectNoViolation } from "./expect.ts";
import assert from "node:assert/strict";
import { Sim } from "./sim.ts";

const SHORT = { ttl: 5, loop_wait: 1, retry_timeout: 2, maximum_lag_on_failover: 1048576 };

function cluster(): Sim {
  return new Sim({
    members: 3,
    bootstrapDcs: SHORT,
    startOffsets: [0, 300, 600],
    watchdog: -1,
    callPlan: () => ({ latencyMs: 50, outcome: "ok" }),
  });
}

Deno.test("sim: at ttl 5/1/2 the leader keeps its key for 5 minutes without a fault, every fence within the lease", async () => {
  const sim = cluster();
  await expectNoViolation(sim, 30_000);
  const leader = sim.leaderKey();
  assert.ok(leader, "a leader after 30 s");
  assert.equal(sim.settings.ttl, 5, "ttl 5 is taken as written");
  for (let i = 0; i < 300; i++) {
    await expectNoViolation(sim, 1_000);
    assert.equal(sim.leaderKey(), leader, `the leader changed at ${sim.now} ms without a fault`);
  }
  assert.ok(sim.member(leader).pg.isRunningPrimary());
});

Deno.test("sim: at ttl 5/1/2 a replica leads within the lease and a few cycles after the leader's host dies", async () => {
  const sim = cluster();
  await expectNoViolation(sim, 30_000);
  const old = sim.leaderKey()!;
  const t0 = sim.now;
  sim.at(t0, () => sim.hostCrash(old));
  let promotedAt: number | null = null;
  for (let i = 0; i < 200 && promotedAt === null; i++) {
    await expectNoViolation(sim, 100);
    const leader = sim.leaderKey();
    if (leader && leader !== old && sim.member(leader).pg.isRunningPrimary()) promotedAt = sim.now;
  }
  assert.notEqual(promotedAt, null, "no new primary within 20 s");
  // The lease (5 s) plus a cycle to see it gone, the race and the promotion (the model's calls take 50 ms each).
  assert.ok(promotedAt! - t0 <= 5_000 + 3 * 1_000, `new primary ${promotedAt! - t0} ms after the host died`);
});
