/**
 * The WAL compared at a timeline's switch point. Two members that promoted from the same point, unaware of each
 * other (the first stopped before it published its timeline), pick one timeline number and write one history file
 * for two timelines: neither the history nor pg_rewind ("same timeline, no rewind required") tells them apart. The
 * bytes written after the switch point do: the first records of a promotion carry its own time.
 *
 * Pure. May import: nothing.
 *
 * @module
 */

/** Where to compare: `length` bytes of WAL from `lsn` (the switch point) on `timeline`. */
export interface WalProbe {
  timeline: number;
  lsn: number;
  length: number;
}

/** The comparison of a member's WAL after its switch point with the leader's WAL at the same place. */
export interface SwitchWal {
  lsn: number;
  match: boolean;
}

/** The most WAL compared: the first records after a promotion (end of recovery, checkpoint). */
export const PROBE_BYTES = 512;
