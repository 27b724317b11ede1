/**
 * The types of the checkpoint after a promotion (src/core/checkpoint_after_promote.ts): what an observation says of
 * the timeline of pg_control's latest checkpoint, locally and on the leader, and the job that runs the CHECKPOINT.
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

/** The job that runs CHECKPOINT on this primary once after a promotion (the loop keeps renewing meanwhile). */
export interface CheckpointJob {
  kind: "checkpoint";
}
