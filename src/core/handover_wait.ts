/**
 * A switchover's last step, on both sides of the hand-over:
 *
 * - the former leader, once its clean shutdown is over, publishes where its WAL ends (pg_controldata's latest
 *   checkpoint, the shutdown checkpoint) in `status` before it releases the key (Patroni releases the key with the
 *   shutdown checkpoint as the last known position);
 * - a member that would take the key in the race that follows (any member but the former leader: the named
 *   candidate, or one that does not wait for it) first waits until its own WAL position (receive or replay) reaches that position: a
 *   candidate whose WAL receiver stalled never promotes without the writes the former leader acknowledged last.
 *   The wait is bounded by the switchover wait (2 * max(10, loop_wait) s, as long as `hactl switchover` watches
 *   for the outcome); past it the member does not promote, clears the request and says why: the cluster then
 *   races as after an unplanned failover, where members that hold more of the former leader's WAL win.
 *
 * Pure. May import: `src/core/` (types, context, member state, settings, switchover rules).
 *
 * @module
 */
import type { Action, ClusterView, Decision, PgObservation } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { isNoFailover } from "./member_state.ts";
import { switchoverWaitMs } from "./settings.ts";
import { raceLimitation } from "./switchover.ts";

/**
 * The `write_status` that publishes the former leader's final position after its clean shutdown, planned before
 * `release_leader`: the latest checkpoint of its stopped server (the shutdown checkpoint, where its WAL ends), when
 * pg_controldata says it stopped as a primary and the position is past what `status` already holds (a crash
 * leaves an older checkpoint: the last published position stands then). Empty when there is nothing to publish.
 */
export function finalPositionStatus(pg: PgObservation, view: ClusterView): Action[] {
  const at = pg.controlPosition;
  if (pg.running || !at || at.inRecovery) return [];
  const published = view.status?.optime ?? null;
  if (published !== null && at.lsn <= published) return [];
  return [{ type: "write_status", optime: at.lsn }];
}

/**
 * Could this member take the key in a switchover's race: any member but the former leader (the named candidate,
 * or another one that does not wait for it, e.g. because it cannot reach it)?
 */
function takesPart({ obs, ctx, view }: Cycle): boolean {
  const f = view.failover;
  if (!f?.leader || view.leader !== null || f.leader === ctx.name) return false;
  if (isNoFailover(ctx.tags) || obs.watchdogUnusable !== undefined || obs.fenceUnusable !== undefined) {
    return false;
  }
  return obs.pg.running && obs.pg.queryable && obs.pg.role === "replica";
}

/**
 * The race after a switchover (no leader key, a `failover` key naming the former leader): a member that would
 * take the key while its WAL position is below the last position the former leader published waits for it, at
 * most the switchover wait from when it first saw the key gone; past that it clears the request and stays a
 * replica. Null when this member may race as usual (not part of a switchover, or its position is there).
 */
export function finalPositionWait(c: Cycle): Decision | null {
  const { obs, mem, ctx, view } = c;
  if (!takesPart(c)) return null;
  const target = view.status?.optime ?? null;
  const mine = obs.pg.walPosition ?? 0;
  if (target === null || mine >= target) return null;
  // A named candidate that may not take over at all (too far behind, older timeline) refuses at once (raceStep).
  const check = {
    maximumLagOnFailover: ctx.dynamic.maximumLagOnFailover,
    checkTimeline: ctx.dynamic.checkTimeline,
  };
  if (view.failover!.member === ctx.name && raceLimitation(view, mine, obs.pg.timeline, check) !== null) {
    return null;
  }
  const since = mem.finalPositionWaitSince ?? obs.now;
  const limit = switchoverWaitMs(ctx.dynamic);
  const behind = `my WAL position ${mine} has not reached the former leader's final position ${target}`;
  if (obs.now - since < limit) {
    const left = Math.ceil((limit - (obs.now - since)) / 1000);
    return noChange(
      { ...mem, finalPositionWaitSince: since },
      `waiting before taking the leader key for the switchover from '${view.failover!.leader}': ${behind} ` +
        `(${left} s left of the switchover wait)`,
    );
  }
  const { finalPositionWaitSince: _, ...rest } = mem;
  return noChange(
    rest,
    `not taking the leader key for the switchover from '${view.failover!.leader}': ${behind} within the ` +
      `switchover wait (${limit / 1000} s); cleared the failover key`,
    [{ type: "clear_failover", modRevision: view.failover!.modRevision }],
  );
}
