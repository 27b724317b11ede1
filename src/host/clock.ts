/**
 * The real clock behind the `Clock` port: monotonic `performance.now()`, wall `Date.now()`, timers by
 * `setTimeout`. The simulator passes a virtual clock instead.
 *
 * @module
 */
import type { Clock } from "../core/ports.ts";

/** The real clock: monotonic `performance.now()`, wall `Date.now()`, timers by `setTimeout`. */
export const REAL_CLOCK: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};
