/**
 * The fields that `postgresql.pre_promote` adds to a job's state and to the memory a cycle carries on
 * (src/core/pre_promote.ts acts on them), and the dynamic key about stopping the primary (`primary_stop_timeout`,
 * src/core/stop_timeout.ts).
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

/** Dynamic keys read into `DynamicSettings`; absent when not set (or 0). Not only about stopping: `pg_ident` too. */
export interface DynamicStopPart {
  /**
   * `primary_stop_timeout` (older name `master_stop_timeout`), seconds: in synchronous mode, a demotion or shutdown
   * of Postgres that takes longer is ended with SIGKILL.
   */
  primaryStopTimeout?: number;
  /** `postgresql.pg_ident` of the dynamic configuration (a local `postgresql.pg_ident` wins over it). */
  pgIdent?: string[];
}
