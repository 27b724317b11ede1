/**
 * Cascading replication in the simulator: pg3 is tagged `replicatefrom: pg2`, so it streams from pg2, which must hold
 * pg3's slot (the fake Postgres refuses a replica whose slot its upstream does not have, as Postgres does); through
 * switchovers that make pg2 the leader and back, pg3 keeps streaming (from pg2 as a replica, or as the leader).
 * Invariants are checked after every step.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SimViolation } from "./invariants.ts";
import { DEFAULT_BOOTSTRAP_DCS, Sim } from "./sim.ts";

async function runChecked(sim: Sim, until: number): Promise<void> {
  try {
    await sim.runUntil(until);
  } catch (err) {
    if (err instanceof SimViolation) assert.fail(err.message);
    throw err;
  }
}

function streamsFrom(sim: Sim, name: string, from: string): void {
  assert.equal(
    sim.member(name).pg.streamSource()?.name,
    from,
    `${name} does not stream from ${from}:\n${sim.traceTail(30).join("\n")}`,
  );
}

Deno.test("sim: a replicatefrom replica streams from its upstream replica, which holds its slot, across switchovers", async () => {
  const sim = new Sim({
    members: 3,
    seed: 14,
    bootstrapDcs: DEFAULT_BOOTSTRAP_DCS,
    startOffsets: [0, 500, 1000],
    tags: { pg3: { replicatefrom: "pg2" } },
  });
  for (let t = 20_000; t < 400_000; t += 5_000) sim.at(t, () => sim.write(500));
  await runChecked(sim, 90_000);
  assert.equal(sim.leaderKey(), "pg1");
  streamsFrom(sim, "pg2", "pg1");
  streamsFrom(sim, "pg3", "pg2");
  sim.at(100_000, () => sim.requestFailover({ leader: "pg1", member: "pg2" }));
  await runChecked(sim, 200_000);
  assert.equal(
    sim.leaderKey(),
    "pg2",
    `the switchover to pg2 did not happen:\n${sim.traceTail(30).join("\n")}`,
  );
  streamsFrom(sim, "pg3", "pg2");
  streamsFrom(sim, "pg1", "pg2");
  sim.at(210_000, () => sim.requestFailover({ leader: "pg2", member: "pg1" }));
  await runChecked(sim, 330_000);
  assert.equal(
    sim.leaderKey(),
    "pg1",
    `the switchover back did not happen:\n${sim.traceTail(30).join("\n")}`,
  );
  streamsFrom(sim, "pg2", "pg1");
  streamsFrom(sim, "pg3", "pg2");
});
