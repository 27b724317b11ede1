/**
 * The checkpoint after a promotion, as Patroni makes it. A promoted primary records its new timeline in pg_control
 * only at its first checkpoint on it (Postgres asks for one at the end of recovery, spread over
 * `checkpoint_completion_target` of `checkpoint_timeout`); until then pg_rewind against it takes its timeline from
 * pg_control and sees the old one (PostgreSQL 15: "could not find previous WAL record"), so a former primary cannot
 * be rewound from it yet.
 *
 * - The leader asks for CHECKPOINT after each promotion (`withCheckpointAfterPromote`): a `checkpoint_after_promote`
 *   action, planned in every cycle that renews the key and neither promotes, demotes, releases the key nor starts a
 *   job, while the primary's latest checkpoint (`pg_control_checkpoint()`) is on an older timeline than the one it
 *   writes. The shell runs it beside the loop, as Patroni runs it in a thread of its own: it holds nothing back (the
 *   sync standby, slots, status, a switchover, a demotion go on meanwhile), one at a time (asked again while one
 *   runs, it is skipped), and a failed one is simply asked again the next cycle; a checkpoint Postgres made by itself
 *   ends it too. Meanwhile its member key says `checkpoint_after_promote: false` (`checkpointPending`), as a Patroni
 *   leader's does, so Patroni members wait too.
 * - A member that needs pg_rewind first checks the leader (`rewindCheckpointWait`): its member key does not say
 *   `checkpoint_after_promote: false`, and its latest checkpoint, read from its server with the timeline history,
 *   is on the timeline it writes; otherwise it waits (the cycle's sentence says why) and checks again next cycle.
 *
 * Pure. May import: `src/core/` (types).
 *
 * @module
 */
import type { Action, ClusterView, Decision, Observation, PgObservation, Upstream } from "./types.ts";

/** A running primary whose latest checkpoint is on an older timeline than the one it writes. */
export function checkpointPending(pg: PgObservation): boolean {
  const cp = pg.checkpointTimeline;
  return pg.running && pg.queryable && pg.role === "primary" && typeof pg.timeline === "number" &&
    typeof cp === "number" && cp < pg.timeline;
}

/** Plans of these actions stop, promote or hand over Postgres or the key: no checkpoint is asked in them. */
const BUSY: ReadonlySet<Action["type"]> = new Set(["start_job", "promote", "demote", "release_leader"]);

/**
 * `d` with a `checkpoint_after_promote` action appended when this member renews the key as a primary whose latest
 * checkpoint is still on the timeline it was promoted from, no job (a stop, a restart, a switchover's shutdown)
 * runs and the plan neither promotes, demotes, releases the key nor starts a job. The rest of the plan stands.
 */
export function withCheckpointAfterPromote(d: Decision, obs: Observation): Decision {
  const pg = obs.pg;
  if (!checkpointPending(pg) || obs.job?.status === "running") return d;
  if (!d.actions.some((a) => a.type === "renew_leader") || d.actions.some((a) => BUSY.has(a.type))) return d;
  return {
    ...d,
    actions: [...d.actions, { type: "checkpoint_after_promote" }],
    reason: `${d.reason}; checkpoint after promotion (the latest checkpoint is on timeline ` +
      `${pg.checkpointTimeline}, the primary writes timeline ${pg.timeline})`,
  };
}

/**
 * Why pg_rewind from `source` must wait for its checkpoint after a promotion (Patroni's "Waiting for checkpoint on
 * <leader> before rewind"), or null: its member key says `checkpoint_after_promote: false`, or the cycle read its
 * latest checkpoint on an older timeline than the one it writes. Not knowing (no answer, an older adapter) does not
 * hold the rewind back: the rewind asks the source for a CHECKPOINT itself first.
 */
export function rewindCheckpointWait(obs: Observation, view: ClusterView, source: Upstream): string | null {
  const wait = `waiting for checkpoint on '${source.name}' before rewind`;
  const member = view.members.find((m) => m.name === source.name);
  if (member?.data.checkpoint_after_promote === false) {
    return `${wait} (its member key says checkpoint_after_promote: false)`;
  }
  const lt = obs.leaderTimeline;
  if (!lt || lt.member !== source.name || "error" in lt) return null;
  const cp = lt.checkpointTimeline;
  return typeof cp === "number" && cp < lt.timeline
    ? `${wait} (its latest checkpoint is on timeline ${cp}, it writes timeline ${lt.timeline})`
    : null;
}
