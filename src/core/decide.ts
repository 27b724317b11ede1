/**
 * The HA core: `decide(observation, memory, context) -> { actions, memory, reason }`.
 *
 * Pure and deterministic. It reads one cycle's observation (DCS view or "unreachable since", local Postgres,
 * the running job, peers' statuses during a leader race, the clock) and returns the ordered actions the shell
 * executes plus the one sentence that is the cycle's log line. No I/O, no clock, no randomness here.
 *
 * Ordering contract (see src/core/types.ts `Action`): the executor stops at the first failed action, and `promote`
 * is only ever planned after `acquire_leader` or `renew_leader` in the same plan (in synchronous mode with the
 * `sync` key's compare-and-set and `synchronous_standby_names` in between: src/core/sync.ts), so a promotion
 * happens only while this member holds the lock it took or verified in this very cycle.
 *
 * This file is the dispatcher: maintenance mode (`decide_paused.ts`), the DCS out of reach (`decide_offline.ts`),
 * then a table of rules tried in order (the data directory in `decide_bootstrap.ts`, the key holder in
 * `decide_leader.ts`, the others in `decide_replica.ts`), and for a running, answering Postgres the leader race
 * (`leader_race.ts`), leading or following, with restarts and reloads from `decide_in_place.ts`.
 *
 * Imports: `src/core/` only.
 *
 * @module
 */
import type { Action, ClusterView, Decision, Memory, Observation } from "./types.ts";
import { withAcquireGuard } from "./acquire_guard.ts";
import { type Cycle, type HaContext, noChange } from "./ha_context.ts";
import { updateMembersSeen } from "./topology.ts";
import { restartStep } from "./restart.ts";
import { memberSlotsTtlMs } from "./settings.ts";
import { retainedOnLeadership } from "./retain_slots.ts";
import { decidePaused } from "./decide_paused.ts";
import { decideDcsUnreachable } from "./decide_offline.ts";
import {
  cloneFailed,
  dataDirInaccessible,
  decideAfterBootstrap,
  decideWithoutData,
  foreignSystemId,
} from "./decide_bootstrap.ts";
import {
  decideAsLeader,
  handoverShutdown,
  primaryStartTimeout,
  startAsLeader,
  startFailedWithLock,
  watchdogUnusableWithLock,
} from "./decide_leader.ts";
import { decideAsReplica, reinitRequested, startAsReplica } from "./decide_replica.ts";
import { decideLeaderRace } from "./leader_race.ts";
import { fenceUnusableDuringJob, fenceUnusableInRace, fenceUnusableWithLock } from "./fence_gate.ts";
import { planRestart, withReload } from "./decide_in_place.ts";
import { refuseUnsupportedGuarantees } from "./unsupported_config.ts";
import { withLeaseMove } from "./lease_ttl.ts";
import { finalPositionWait } from "./handover_wait.ts";
import { withHistoryBeforeRelease } from "./history_on_release.ts";
import { withTimelineReservation } from "./history_reservation.ts";
import { decideFailsafeOffline, failsafeHoldsRace } from "./failsafe.ts";
import {
  decideStandbyRunning,
  standbyStart,
  standbyWithoutData,
  withStandbyCloneMethods,
} from "./decide_standby.ts";
import { trackRaceBackoff } from "./race_backoff.ts";
import { prePromoteBackoff, prePromoteRefused } from "./pre_promote.ts";
import { withCheckpointAfterPromote } from "./checkpoint_after_promote.ts";
import { withHotStandbyFeedback } from "./hot_standby_feedback.ts";

export type { HaContext } from "./ha_context.ts";
export { isNoFailover, memberRole, postgresStateName } from "./member_state.ts";
export { healthiestVerdict, peerVerdicts } from "./leader_race.ts";

/** One rule of a cycle with the DCS in reach: its decision, or null to let the next rule decide. */
type Rule = (c: Cycle) => Decision | null;

/** The rules tried in order before the steady state; the first decision wins. */
const RULES: readonly Rule[] = [
  fenceUnusableDuringJob,
  jobInFlight,
  prePromoteRefused,
  handoverShutdown,
  primaryStartTimeout,
  startFailedWithLock,
  watchdogUnusableWithLock,
  fenceUnusableWithLock,
  reinitRequested,
  (c) => c.obs.job?.kind === "bootstrap" ? decideAfterBootstrap(c) : null,
  dataDirInaccessible,
  cloneFailed,
  (c) => c.obs.pg.dataDir === "empty" ? standbyWithoutData(c) ?? decideWithoutData(c) : null,
  foreignSystemId,
  standbyStart,
  (c) => c.obs.pg.running ? null : c.holdsLock ? startAsLeader(c) : startAsReplica(c),
  notAcceptingConnections,
];

/**
 * One HA cycle's decision: never taking the leader key under a promise hactl cannot keep
 * (src/core/unsupported_config.ts), a standby cluster's clones by its own methods (`withStandbyCloneMethods`), a
 * promotion only once its timeline number is reserved in `history` (src/core/history_reservation.ts), a new
 * primary's checkpoint after its promotion (src/core/checkpoint_after_promote.ts), `hot_standby_feedback` handed
 * to the adapter when its value changes (src/core/hot_standby_feedback.ts), and when the lease held has another TTL
 * than the configured one, the plan also moves the keys to a lease of the new TTL (src/core/lease_ttl.ts); the race
 * for the key is guarded by the view's `config` and `sync` revisions (src/core/acquire_guard.ts).
 */
export function decide(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  return withAcquireGuard(withHotStandbyFeedback(decideWithLease(obs, memory, ctx), obs, ctx), obs);
}

function decideWithLease(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  return withLeaseMove(
    refuseUnsupportedGuarantees(
      obs,
      ctx,
      withHistoryBeforeRelease(
        withTimelineReservation(
          withStandbyCloneMethods(withCheckpointAfterPromote(decideCycle(obs, memory, ctx), obs), ctx),
          obs,
          ctx.name,
          ctx.dynamic.maxTimelinesHistory,
        ),
        obs,
        ctx.name,
        ctx.dynamic.maxTimelinesHistory,
      ),
    ),
    obs,
    ctx.dynamic.ttl,
  );
}

function decideCycle(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  if (ctx.dynamic.pause) {
    const d = decidePaused(obs, memory, ctx);
    return { ...d, reason: `PAUSE: ${d.reason}` };
  }
  if (obs.dcs.kind === "unreachable") {
    return decideFailsafeOffline(obs, memory, ctx) ?? decideDcsUnreachable(obs, memory, ctx);
  }
  // etcd answers: an offline demotion's read-only start is no longer due (the ordinary rules start or follow).
  const { offlineDemoted: _, ...kept } = memory;
  const c = cycleOf(obs, kept, ctx, obs.dcs.cluster);
  for (const rule of RULES) {
    const d = rule(c);
    if (d !== null) return d;
  }
  return decideRunning(c);
}

/** The cycle's inputs, with the memory updated for this view (leadership, primary down since, members seen). */
function cycleOf(obs: Observation, memory: Memory, ctx: HaContext, view: ClusterView): Cycle {
  const holdsLock = view.leader?.name === ctx.name;
  const downSince = primaryDownSince(obs, memory, holdsLock, ctx.dynamic.standbyCluster !== undefined);
  const backoff = trackRaceBackoff(memory, view.leader !== null, obs.pg.walPosition);
  const mem: Memory = {
    ...backoff.mem,
    isLeader: holdsLock,
    primaryDownSince: downSince,
    membersSeen: updateMembersSeen(memory.membersSeen, view, obs.now, memberSlotsTtlMs(ctx.dynamic)),
  };
  // Taking the key: the slots the former leader retained are kept for another member_slots_ttl, as in Patroni.
  if (holdsLock && !memory.isLeader && ctx.dynamic.memberSlotsTtl > 0) {
    mem.membersSeen = retainedOnLeadership(
      mem.membersSeen,
      view.status?.retainSlots ?? [],
      obs.now,
      ctx.name,
    );
  }
  // A restart's `timeout` stands in for primary_start_timeout until Postgres is up again.
  if (downSince === null && mem.startTimeout !== undefined) delete mem.startTimeout;
  // A switchover's shutdown is over once the key is not ours any more.
  if (!holdsLock && mem.handover !== undefined) delete mem.handover;
  // A switchover's race is over once someone holds the key or the request is gone (handover_wait.ts).
  if (view.leader || !view.failover?.leader) delete mem.finalPositionWaitSince;
  // Counted only while Postgres runs as a replica (decide_replica.ts sets and clears it).
  if (!(obs.pg.running && obs.pg.role === "replica")) delete mem.notStreamingSince;
  return { obs, mem, ctx, view, holdsLock, previousWal: backoff.previous };
}

/**
 * When this leader's Postgres went down, carried while it stays down; null when it is up or we do not lead. In a
 * standby cluster the leader's Postgres is up in recovery (the standby leader).
 */
function primaryDownSince(
  obs: Observation,
  memory: Memory,
  holdsLock: boolean,
  standby: boolean,
): number | null {
  const up = obs.pg.running && obs.pg.queryable && (obs.pg.role === "primary" || standby);
  if (!holdsLock || up || obs.pg.dataDir !== "initialized") return null;
  return memory.primaryDownSince ?? obs.now;
}

/**
 * A job in flight (start, restart...) is never answered by releasing the key beside it: `demote` would find no
 * postmaster yet and return at once, and the job would then start Postgres as a primary without the key. So the
 * primary_start_timeout and watchdog rules after this one wait until the job has ended.
 */
function jobInFlight({ obs, mem, holdsLock }: Cycle): Decision | null {
  const job = obs.job;
  if (job?.status !== "running") return null;
  if (holdsLock && obs.watchdogUnusable !== undefined) {
    // No renewal either: it needs a working watchdog (the executor would refuse it and retry at once). The
    // fence armed at the last renewal stops Postgres before the lease can run out.
    return noChange(
      mem,
      `${job.description} in progress; the watchdog is required but not usable (${obs.watchdogUnusable}): ` +
        "not renewing the leader key, giving it up once the job has ended",
    );
  }
  const actions: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
  return noChange(mem, `${job.description} in progress`, actions);
}

/**
 * Postgres runs but does not answer: without an answer we cannot tell its role; without standby.signal it may be
 * a writable primary, so if someone else holds the lock it must not stay up.
 */
function notAcceptingConnections({ obs, mem, view, holdsLock }: Cycle): Decision | null {
  const pg = obs.pg;
  if (pg.queryable) return null;
  if (view.leader && !holdsLock && !pg.standbySignal) {
    return noChange(
      mem,
      `demoting self because postgres does not answer, may be a primary, and '${view.leader.name}' has the lock`,
      [{ type: "demote", mode: "immediate" }],
    );
  }
  const actions: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
  return noChange(mem, "postgres is running but not accepting connections yet", actions);
}

/**
 * Postgres runs and answers: a due restart in place, else the leader race (no key), leading (our key) or following
 * (another's key), with a dropped restart noted and a pending reload appended.
 */
function decideRunning(c: Cycle): Decision {
  const standby = decideStandbyRunning(c);
  if (standby !== null) return standby;
  const { obs, ctx, view, holdsLock } = c;
  const pg = obs.pg;
  const restart = restartStep(
    obs.restart,
    pg,
    holdsLock ? "primary" : "replica",
    obs.wallNow,
    ctx.dynamic.loopWait,
  );
  const restartable = holdsLock ? pg.role === "primary" : pg.role === "replica";
  if (restart.kind === "restart" && restartable) return planRestart(c, restart.reason);

  let d: Decision;
  if (!view.leader) {
    d = fenceUnusableInRace(c) ?? prePromoteBackoff(c) ?? failsafeHoldsRace(c) ?? finalPositionWait(c) ??
      decideLeaderRace(c);
  } else if (holdsLock) d = decideAsLeader(c);
  else d = decideAsReplica(c);
  if (restart.kind === "drop") {
    d = {
      ...d,
      actions: [{ type: "drop_restart", reason: restart.reason }, ...d.actions],
      reason: `${d.reason}; ${restart.reason}`,
    };
  }
  return withReload(c, d);
}
