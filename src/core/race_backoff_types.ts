/**
 * What a member carries between cycles for `primary_race_backoff` (part of `Memory`; the rule is in
 * src/core/race_backoff.ts).
 *
 * Pure: imports nothing (src/core/types.ts extends this interface).
 *
 * @module
 */

/** The backoff's memory: the previous cycle's WAL position and the start of the current leaderless spell. */
export interface RaceBackoffMemory {
  /** This member's WAL position as the previous cycle saw it (null: unknown). */
  lastWalPosition?: number | null;
  /** When (monotonic ms) the backoff of the current leaderless spell began. */
  raceBackoffSince?: number;
}
