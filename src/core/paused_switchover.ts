/**
 * A switchover in maintenance mode (`pause: true`), as Patroni runs one: only to a named candidate, and only when
 * it is not scheduled (a scheduled one waits for the end of maintenance mode). The paused leader stops Postgres
 * cleanly and releases the key (the same hand-over as outside maintenance mode, `decide_leader.ts`); the named
 * candidate, and nobody else (there is no leader race in pause), takes the free key and promotes; the former
 * leader then starts again as a replica of the new one. A request without a candidate is refused in Patroni's
 * words and cleared.
 *
 * Pure. May import: `src/core/` (types, context, switchover rules, the leader's, replica's and race's rules).
 *
 * @module
 */
import type { Action, Decision } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { leaderStep } from "./switchover.ts";
import { handoverShutdown } from "./decide_leader.ts";
import { startAsReplica } from "./decide_replica.ts";
import { decideLeaderRace } from "./leader_race.ts";
import { fenceUnusableInRace } from "./fence_gate.ts";
import { syncHandoverStandbys } from "./sync_plan.ts";

/**
 * The paused leader, a running primary holding the key, and the `failover` key: a decision when the request is
 * acted on (hand over, or refuse and clear), else null (no request, or a scheduled one left for later).
 * `actions` are the leader's actions of this cycle (the key's renewal first), kept when the request is refused.
 */
export function pausedLeaderSwitchover(c: Cycle, actions: Action[]): Decision | null {
  const { obs, mem, ctx, view } = c;
  const f = view.failover;
  if (!f || (!f.leader && !f.member) || f.scheduledAt) return null;
  if (!f.member) {
    return noChange(
      mem,
      `no action. I am (${ctx.name}), the leader with the lock; cleared the failover key: ` +
        "Switchover is possible only to a specific candidate in a paused state",
      [...actions, { type: "clear_failover", modRevision: f.modRevision }],
    );
  }
  const step = leaderStep(view, ctx.name, obs.wallNow, ctx.dynamic.loopWait, {
    peers: obs.peers,
    position: obs.pg.walPosition,
    timeline: obs.pg.timeline,
    maximumLagOnFailover: ctx.dynamic.maximumLagOnFailover,
    syncStandbys: syncHandoverStandbys(ctx, view),
  });
  if (step.kind === "handover") {
    return noChange({ ...mem, handover: true }, step.reason, [
      { type: "renew_leader" },
      { type: "start_job", job: { kind: "demote" } },
    ]);
  }
  if (step.kind !== "clear") return null;
  return noChange(
    mem,
    `no action. I am (${ctx.name}), the leader with the lock; cleared the failover key: ${step.reason}`,
    [...actions, { type: "clear_failover", modRevision: f.modRevision }],
  );
}

/**
 * After the paused leader's clean stop: release the key (`handoverShutdown`); then, without the key (also after a
 * reinit's fresh copy, `decide_paused.ts`), start
 * Postgres again as a replica of the new leader (Patroni's graceful demote follows the new leader in pause too),
 * waiting for the candidate while the request is still there and nobody holds the key. Null otherwise (the
 * caller forgets the hand-over once Postgres runs again without the key).
 */
export function pausedHandover(c: Cycle): Decision | null {
  const { obs, mem, view, holdsLock } = c;
  if (!mem.handover) return null;
  if (holdsLock) return handoverShutdown(c);
  if (obs.pg.running || obs.pg.dataDir !== "initialized") return null;
  if (!view.leader && view.failover?.member) {
    return noChange(mem, `waiting for the candidate '${view.failover.member}' to take the leader key`);
  }
  return startAsReplica(c);
}

/**
 * The named candidate of an unscheduled switchover finds the key free: it takes it and promotes (with the checks
 * of a manual failover's candidate: nofailover, lag, timeline, synchronous mode, watchdog, fence). Null for every
 * other member, which does not race in maintenance mode.
 */
export function pausedCandidate(c: Cycle): Decision | null {
  const { obs, ctx, view } = c;
  const f = view.failover;
  if (view.leader || !f?.member || f.member !== ctx.name || f.scheduledAt) return null;
  if (!obs.pg.running || !obs.pg.queryable || obs.pg.role !== "replica") return null;
  return fenceUnusableInRace(c) ?? decideLeaderRace(c);
}
