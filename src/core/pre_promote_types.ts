/**
 * The fields `postgresql.pre_promote` adds to a job's state and to the memory a cycle carries on
 * (src/core/pre_promote.ts acts on them).
 *
 * Pure types. Imports nothing.
 *
 * @module
 */

/** A promotion job the pre_promote script refused (it exited non-zero, so `pg_ctl promote` never ran). */
export interface PrePromoteJobPart {
  prePromoteRefused?: boolean;
}

/** When (monotonic ms) this member's pre_promote script last refused a promotion; it stays out of races for a ttl. */
export interface PrePromoteMemoryPart {
  prePromoteFailedAt?: number;
}
