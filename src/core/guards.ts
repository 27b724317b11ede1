/**
 * What happens to the fence and the watchdog at the end of a cycle, decided from what the cycle saw, planned and
 * carried out. Both guard a primary that may still accept writes; both stand down in pause, and once this member
 * does not hold the lock, no job is in flight, Postgres cannot accept writes (stopped, or a running standby) and
 * nothing planned could make it a primary again. The shell only carries the verdicts out.
 *
 * Pure: imports `types.ts` only.
 *
 * @module
 */
import type { Action, Decision, Observation, PgObservation } from "./types.ts";

/** What the end-of-cycle rule looks at. */
export interface GuardInput {
  obs: Observation;
  decision: Decision;
  /** Index of the first failed action of the plan, or -1 when all ran (what ran is the executed prefix). */
  failedAt: number;
  /** This member believes it holds the leader key (after the plan ran). */
  holdsLock: boolean;
  /** A job (start, stop, clone, ...) is in flight right now. */
  jobBusy: boolean;
  /** The dynamic configuration's `pause`. */
  paused: boolean;
  /** The in-process fence timer is armed. */
  fenceArmed: boolean;
  /** The watchdog device is open. */
  watchdogRunning: boolean;
}

/** `disarm`: cancel the fence timer and stand the fencing supervisor down. */
export type FenceVerdict = { action: "keep" } | { action: "disarm" };
/** `close`: magic-close the watchdog, logging `reason`. */
export type WatchdogVerdict = { action: "keep" } | { action: "close"; reason: string };

/** The verdicts for both guards; the shell carries out the fence's first, then the watchdog's. */
export function guardVerdicts(i: GuardInput): { fence: FenceVerdict; watchdog: WatchdogVerdict } {
  return { fence: fenceVerdict(i), watchdog: watchdogVerdict(i) };
}

/**
 * The fence is disarmed in pause, and once a cycle saw Postgres unable to accept writes with no job in flight (nor
 * one still running in the observation) and without holding the lock, and planned nothing that could make it a
 * primary again.
 */
function fenceVerdict(i: GuardInput): FenceVerdict {
  if (!i.fenceArmed) return { action: "keep" };
  if (i.paused) return { action: "disarm" };
  if (i.holdsLock || i.jobBusy || i.obs.job?.status === "running") return { action: "keep" };
  const safe = cannotWrite(i.obs.pg) && !mayBecomePrimary(i.decision.actions);
  return safe ? { action: "disarm" } : { action: "keep" };
}

/**
 * The watchdog is closed (magic `V`) in pause, and once this member does not hold the lock and its Postgres cannot
 * accept writes: it is stopped or a running standby (as observed, or because this plan stopped it: a `demote`
 * before the first failure), with no job in flight and nothing planned that could make it a primary. While a
 * lockless primary may still be writable the device stays open without keepalives, so it fires before another
 * member can be promoted.
 */
function watchdogVerdict(i: GuardInput): WatchdogVerdict {
  if (!i.watchdogRunning) return { action: "keep" };
  if (i.paused) return { action: "close", reason: "paused" };
  if (i.holdsLock || i.jobBusy) return { action: "keep" };
  const actions = i.decision.actions;
  const stoppedNow = actions.some((a, n) => a.type === "demote" && (i.failedAt < 0 || n < i.failedAt));
  if ((stoppedNow || cannotWrite(i.obs.pg)) && !mayBecomePrimary(actions)) {
    return { action: "close", reason: "this member is not the leader and postgres is not a primary" };
  }
  return { action: "keep" };
}

/** Postgres as observed cannot accept writes: stopped, or a running standby that answers. */
function cannotWrite(pg: PgObservation): boolean {
  return !pg.running || (pg.queryable && pg.role === "replica" && pg.standbySignal);
}

/** The plan could make this member a primary: a promotion, or a start as primary. */
function mayBecomePrimary(actions: readonly Action[]): boolean {
  return actions.some((a) =>
    a.type === "promote" || (a.type === "start_job" && a.job.kind === "start" && a.job.role === "primary")
  );
}
