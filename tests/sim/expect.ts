/**
 * Running a simulated scenario in a test: an invariant the simulator finds broken fails the test with the
 * simulator's own report.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SimViolation } from "./invariants.ts";
import type { Sim } from "./sim.ts";

/** Run `sim` for `ms` more milliseconds. */
export async function expectNoViolation(sim: Sim, ms: number): Promise<void> {
  try {
    await sim.run(ms);
  } catch (err) {
    if (err instanceof SimViolation) assert.fail(err.message);
    throw err;
  }
}
