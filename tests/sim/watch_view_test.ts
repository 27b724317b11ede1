/**
 * The watch-fed cycle view in the simulator (src/core/watch_view.ts): an idle member's cycles decide on its watch's
 * copy of the prefix (no range), and a member whose watch lags behind the store (the fault `watch-lag`: its events
 * held back, then delivered at once) reads the prefix instead for as long as its copy is behind its keepalive's
 * revision. The rule `watchView` (watch_view_rule.ts) checks every view served from a copy against the store at
 * the cycle's keepalive, so a cycle that decided on a stale copy fails these tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { expectNoViolation } from "./expect.ts";
import { Sim } from "./sim.ts";
import { watchLag } from "./sim_faults.ts";

function cluster(): Sim {
  return new Sim({
    members: 3,
    bootstrapDcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
    startOffsets: [0, 300, 600],
    callPlan: () => ({ latencyMs: 20, outcome: "ok" }),
  });
}

const counts = (sim: Sim, name: string) => {
  const dcs = sim.member(name).dcs!;
  return { copy: dcs.watchViewCount, range: dcs.rangeCount };
};

Deno.test("sim: idle cycles decide on the watch's copy; a lagging watch makes its member read until it caught up", async () => {
  const sim = cluster();
  await expectNoViolation(sim, 30_000);
  const leader = sim.leaderKey()!;
  const replica = sim.members.find((m) => m.name !== leader)!.name;
  const before = counts(sim, replica);
  await expectNoViolation(sim, 20_000);
  const idle = counts(sim, replica);
  assert.ok(idle.copy - before.copy >= 5, `idle cycles used the copy: ${JSON.stringify({ before, idle })}`);
  assert.ok(idle.range - before.range <= 1, `idle cycles read rarely: ${JSON.stringify({ before, idle })}`);
  // The replica's watch lags; changes it has not seen yet (the config key) reach the store meanwhile, each
  // followed by a cycle of the replica. A read brings its copy forward (the events held back are older), so a
  // cycle after a read and before the next change may use the copy again: `watchView` checks each such cycle.
  watchLag(sim, replica, 16_000);
  for (let i = 0; i < 5; i++) {
    sim.setConfig({ maximum_lag_on_failover: 2048 + i });
    await expectNoViolation(sim, 3_000);
  }
  const lagging = counts(sim, replica);
  assert.ok(
    lagging.range - idle.range >= 5,
    `a read after each change: ${JSON.stringify({ idle, lagging })}`,
  );
  await expectNoViolation(sim, 10_000);
  assert.ok(counts(sim, replica).copy > lagging.copy, "the copy is used again once the watch caught up");
  assert.equal(sim.leaderKey(), leader, "no failover");
});

Deno.test("sim: the leader's host dies while a replica's watch lags: the lagging replica reads, a replica leads", async () => {
  const sim = cluster();
  await expectNoViolation(sim, 30_000);
  const old = sim.leaderKey()!;
  for (const m of sim.members) if (m.name !== old) watchLag(sim, m.name, 25_000);
  sim.hostCrash(old);
  let leader: string | null = null;
  for (let i = 0; i < 60 && !leader; i++) {
    await expectNoViolation(sim, 1_000);
    const now = sim.leaderKey();
    if (now && now !== old && sim.member(now).pg.isRunningPrimary()) leader = now;
  }
  assert.ok(leader, "a new primary within 60 s although every replica's watch lagged");
});
