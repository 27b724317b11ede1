/**
 * The types of the `hot_standby_feedback` decision (src/core/hot_standby_feedback.ts): the action that hands the
 * decided value to the Postgres adapter, and the memory of the value handed last.
 *
 * Pure types. Imports nothing.
 *
 * @module
 */

/**
 * Run a replica with `hot_standby_feedback = on` (`value`), or as configured: kept for every postgresql.conf the
 * adapter writes from now on (the replica's `follow` of this cycle rewrites it and reloads when it changed).
 */
export interface HsfAction {
  type: "set_hot_standby_feedback";
  value: boolean;
}

/** Part of `Memory`: the value last handed to the adapter; absent before any (the adapter starts with false). */
export interface HsfMemoryPart {
  hotStandbyFeedback?: boolean;
}
