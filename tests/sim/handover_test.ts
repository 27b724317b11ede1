/**
 * Hand-overs in the simulator, asserted on what a client would see: a promotion that replays a backlog longer than
 * the ttl completes under the key (the loop renews it while the promotion runs as a job, so the member's own fence
 * never stops it), and a switchover to a candidate that runs but does not stream leaves the leader in place with
 * every acknowledged write.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SimViolation } from "./invariants.ts";
import { Sim } from "./sim.ts";

/** Run until `until`; fail with the simulator's own report when an invariant breaks. */
async function runChecked(sim: Sim, until: number): Promise<void> {
  try {
    await sim.runUntil(until);
  } catch (err) {
    if (err instanceof SimViolation) assert.fail(err.message);
    throw err;
  }
}

Deno.test("sim: a promotion replaying a backlog longer than the ttl completes without the member fencing itself", async () => {
  // ttl 30: pg_ctl promote takes 45 s of virtual time on every member.
  const sim = new Sim({ members: 3, durations: { promote: 45_000 } });
  sim.at(30_000, () => sim.write(100));
  sim.at(35_000, () => sim.requestFailover({ leader: "pg1", member: "pg2" }));
  await runChecked(sim, 100_000);
  const pg2 = sim.member("pg2").pg;
  assert.equal(sim.leaderKey(), "pg2", sim.traceTail(30).join("\n"));
  assert.ok(pg2.isRunningPrimary(), sim.traceTail(30).join("\n"));
  const promotions = sim.world.promotions.filter((p) => p.member === "pg2");
  assert.equal(promotions.length, 1, "one promotion, not a retried one after a fence stop");
  assert.ok(promotions[0]!.heldLock);
  assert.ok(
    !sim.trace.some((l) => l.member === "pg2" && /fence/.test(l.text)),
    sim.traceTail(30).join("\n"),
  );
});

Deno.test("sim: a switchover to a running but non-streaming candidate is refused and the leader keeps its writes", async () => {
  const sim = new Sim({ members: 3 });
  sim.at(30_000, () => sim.write(100));
  sim.at(32_000, () => sim.stopReceiver("pg3", true));
  sim.at(33_000, () => sim.write(100));
  sim.at(35_000, () => sim.requestFailover({ leader: "pg1", member: "pg3" }));
  await runChecked(sim, 80_000);
  assert.equal(sim.leaderKey(), "pg1", sim.traceTail(30).join("\n"));
  assert.ok(sim.member("pg1").pg.isRunningPrimary());
  assert.deepEqual(sim.world.promotions.map((p) => p.member), [], "nobody promoted");
  assert.ok(sim.trace.some((l) => l.member === "pg1" && /candidate 'pg3' is not streaming/.test(l.text)));
});
