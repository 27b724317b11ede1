/**
 * The run loop's fixed numbers: the virtual wall clock's epoch, how much may happen at one instant before a run
 * fails as stuck, and the microtask flush that lets settled promises run on.
 *
 * Imports nothing.
 *
 * @module
 */

/** Wall-clock epoch ms of virtual time 0. */
export const WALL_EPOCH = 1_700_000_000_000;
/** Cycles of one member at one instant before the run fails. */
export const MAX_CYCLES_PER_INSTANT = 50;
/** Steps of the run loop at one instant before the run fails (a loop that never moves virtual time on). */
export const MAX_STEPS_PER_INSTANT = 10_000;

/** Let settled promises run their continuations (job completion chains are a few dozen ticks deep). */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 64; i++) await null;
}
