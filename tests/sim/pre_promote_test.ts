/**
 * `postgresql.pre_promote` in the simulator: a member whose script refuses every promotion (its promotion call
 * fails with `PrePromoteRefusedError` before `pg_ctl promote`) takes the key in a switchover, releases it, stays out
 * of the race for a ttl, and another member takes over with every acknowledged write; the refusing member is never
 * promoted and follows the new leader. The invariants are checked after every step.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PrePromoteRefusedError } from "../../src/core/pre_promote.ts";
import { SimViolation } from "./invariants.ts";
import { Sim } from "./sim.ts";

Deno.test("sim: a member whose pre_promote script fails releases the key it took and another member takes over", async () => {
  const sim = new Sim({
    members: 3,
    callPlan: (member, port, method) => ({
      latencyMs: 0,
      outcome: "ok",
      ...(member === "pg2" && port === "pg" && method === "promote"
        ? { refuse: () => new PrePromoteRefusedError("pre_promote script /bin/false exited with 1") }
        : {}),
    }),
  });
  sim.at(30_000, () => sim.write(100));
  sim.at(35_000, () => sim.requestFailover({ leader: "pg1", member: "pg2" }));
  sim.at(40_000, () => sim.write(100));
  try {
    await sim.runUntil(150_000);
  } catch (err) {
    if (err instanceof SimViolation) assert.fail(err.message);
    throw err;
  }
  const tail = sim.traceTail(40).join("\n");
  const released = sim.trace.find((l) =>
    l.member === "pg2" && /promotion cancelled because the pre_promote script failed/.test(l.text)
  );
  assert.ok(released, `pg2 took the key and the script refused: ${tail}`);
  assert.ok(sim.trace.some((l) => l.member === "pg2" && /^backoff: skip leader race/.test(l.text)), tail);
  assert.deepEqual(sim.world.promotions.filter((p) => p.member === "pg2"), [], "pg2 never promoted");
  const leader = sim.leaderKey();
  assert.ok(leader === "pg1" || leader === "pg3", `a leader other than pg2: ${leader}\n${tail}`);
  assert.ok(sim.member(leader!).pg.isRunningPrimary(), tail);
  assert.ok(!sim.member("pg2").pg.isRunningPrimary());
});
