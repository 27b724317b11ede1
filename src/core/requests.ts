/**
 * What the REST API may ask of a running agent (`POST /reinitialize`, `POST /restart`, `DELETE /restart`), as
 * domain results: whether a request is taken and, when not, why. `src/api/control.ts` turns them into Patroni's
 * status codes and bodies.
 *
 * Pure: imports `types.ts` and `restart.ts` only.
 *
 * @module
 */
import { unmetCondition } from "./restart.ts";
import type { JobState, NodeSnapshot, RestartConditions } from "./types.ts";

/** The outcome of a restart asked for now. */
export type RestartNowResult =
  /** Postgres is up again with a new postmaster. */
  | { kind: "restarted" }
  /** A job (`what`) or another restart is in progress. */
  | { kind: "busy"; what: string }
  /** Postgres is not running, or does not answer yet. */
  | { kind: "not_running" }
  /** The request's conditions do not hold (`condition` says which, for the log). */
  | { kind: "conditions_unmet"; condition: string }
  /** The restart job failed. */
  | { kind: "failed" }
  /** The restart did not finish within the time the request waits. */
  | { kind: "timed_out" };

/** The outcome of a restart asked for at a time (`schedule`). */
export type ScheduleRestartResult = { kind: "scheduled" } | { kind: "already_scheduled" };

/** The outcome of forgetting the scheduled restart. */
export type DeleteRestartResult = { kind: "deleted" } | { kind: "none_scheduled" };

/** What decides whether a restart asked for now may go ahead. */
export interface RestartNowInput {
  /** The job as it is (running or finished), or null. */
  job: JobState | null;
  /** A restart asked for now is already on its way. */
  restartInFlight: boolean;
  /** The member as the REST API sees it. */
  snapshot: Pick<NodeSnapshot, "role" | "pg">;
  conditions: RestartConditions;
  /**
   * Maintenance mode: the loop leaves a stopped Postgres alone, so a restart asked for starts it (as Patroni's
   * restart does); outside it the loop starts Postgres itself and a stopped one is refused.
   */
  paused?: boolean;
}

/**
 * Why a restart asked for now cannot go ahead (Patroni's order: a job in progress, a restart in progress, Postgres
 * not up, conditions unmet), or null when it may.
 */
export function restartNowRefusal(i: RestartNowInput): RestartNowResult | null {
  if (i.job?.status === "running") return { kind: "busy", what: i.job.description };
  if (i.restartInFlight) return { kind: "busy", what: "restart" };
  const pg = i.snapshot.pg;
  const stoppedInPause = i.paused === true && !pg.running;
  if (!stoppedInPause && (!pg.running || !pg.queryable)) return { kind: "not_running" };
  const unmet = unmetCondition(i.conditions, {
    role: i.snapshot.role,
    serverVersion: pg.serverVersion,
    pendingRestart: pg.pendingRestart,
  });
  return unmet === null ? null : { kind: "conditions_unmet", condition: unmet };
}

/**
 * Why this member cannot be reinitialised now (Patroni's messages), or null when it may: never the leader; not
 * while a job runs unless forced.
 */
export function reinitRefusal(
  i: { holdsLock: boolean; job: JobState | null; force: boolean },
): string | null {
  if (i.holdsLock) return "I am the leader, can not reinitialize";
  if (i.job?.status === "running" && !i.force) {
    return `${i.job.description} already in progress`;
  }
  return null;
}
