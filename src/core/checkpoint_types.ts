/**
 * The types of the checkpoint after a promotion (src/core/checkpoint_after_promote.ts): what an observation says of
 * the timeline of pg_control's latest checkpoint, locally and on the leader, and the action that asks for the CHECKPOINT.
 *
 * Pure types. Imports `wal_probe.ts` (types).
 *
 * @module
 */

import type { SwitchWal } from "./wal_probe.ts";

/** Part of `PgObservation`: the timeline of the running primary's latest checkpoint. */
export interface PgCheckpointFields {
  /**
   * `pg_control_checkpoint().timeline_id` of a running primary: below its timeline until the first checkpoint
   * after a promotion. Absent or null when not read (a replica, a stopped server, an adapter that does not say).
   */
  checkpointTimeline?: number | null;
}

/**
 * Part of a `LeaderTimeline` answer: whether the WAL after a stopped member's last switch point is the leader's
 * (`switchWal`), and the timeline of the leader's latest checkpoint (`checkpointTimeline`), when read.
 */
export interface LeaderRead {
  switchWal?: SwitchWal;
  checkpointTimeline?: number;
}

/**
 * Run CHECKPOINT on this primary after its promotion, beside the HA loop (not as a job: the loop keeps deciding
 * everything else meanwhile). Asked every cycle until pg_control shows the new timeline; the shell runs at most one
 * at a time and skips a request while one is in flight.
 */
export interface CheckpointAction {
  type: "checkpoint_after_promote";
}
