/**
 * Holding the leader key: renew it and keep the cluster keys current (initialize, config, status, history, slots),
 * promote a replica that holds it, hand over for a switchover, start a stopped Postgres under it, and give it up
 * when a start failed, when Postgres does not come back (primary_start_timeout) or the required watchdog is not
 * usable.
 *
 * Pure. May import: `src/core/` (types, context, member state, topology, switchover rules).
 *
 * @module
 */
import type { Action, ClusterView, Decision, HistoryEntry, PgObservation } from "./types.ts";
import { type Cycle, mayBeWritable, noChange } from "./ha_context.ts";
import { isNoFailover, isValidSysid } from "./member_state.ts";
import { clusterTimeline } from "./topology.ts";
import { confirmedClusterTimeline, historyStamp, ownReservationPending } from "./history_reservation.ts";
import { memberSlotPlan } from "./member_slots.ts";
import { isHealthyCandidate, leaderStep } from "./switchover.ts";
import { secondsToMs } from "./settings.ts";
import { finalPositionStatus } from "./handover_wait.ts";
import { failsafeKeyAction } from "./failsafe.ts";
import { slotSyncFields } from "./slot_rules.ts";
import { statusSlotFields } from "./retain_slots.ts";
import {
  leaderSyncStep,
  quorumHandoverGate,
  syncBeforePromote,
  syncBeforeStartAsLeader,
  syncHandoverStandbys,
} from "./sync_plan.ts";

/**
 * primary_start_timeout: a leader whose Postgres does not come back (crashed and not restarting, stuck in
 * recovery, not answering) gives the lock up so that a healthy replica can take over; with 0, at once.
 */
export function primaryStartTimeout({ obs, mem, ctx, view, holdsLock }: Cycle): Decision | null {
  const down = mem.primaryDownSince;
  const limit = mem.startTimeout ?? ctx.dynamic.primaryStartTimeout;
  // 0: fail over at once rather than restart, when a replica can take over (Patroni's "Primary crashed. Failing
  // over."), before any start attempt; without one, Postgres is started again as with any other value.
  const atOnce = limit === 0 && obs.job === null && view.members.some((m) => isHealthyCandidate(m, ctx.name));
  if (!(holdsLock && down !== null && (atOnce || obs.now - down > secondsToMs(limit)))) return null;
  const { startTimeout: _, ...rest } = mem;
  return noChange(
    { ...rest, isLeader: false, primaryDownSince: null },
    `released the leader key: postgres has not been up for ${Math.round((obs.now - down) / 1000)} s ` +
      `(${mem.startTimeout !== undefined ? "restart timeout" : "primary_start_timeout"} ${limit} s)`,
    [{ type: "demote", mode: "immediate" }, { type: "release_leader" }],
  );
}

/**
 * A start of Postgres under the key failed (a crashed primary that does not come back, e.g. a broken setting):
 * remove the key at once so that a healthy replica takes over, rather than retrying under it until
 * primary_start_timeout (Patroni's `post_recover`). Postgres is not running, so nothing writable is left behind.
 */
export function startFailedWithLock({ obs, mem, holdsLock }: Cycle): Decision | null {
  const job = obs.job;
  if (!holdsLock || job?.kind !== "start" || job.status !== "failed" || obs.pg.running) return null;
  const { startTimeout: _, ...rest } = mem;
  return noChange(
    { ...rest, isLeader: false, primaryDownSince: null },
    `removed leader key after trying and failing to start postgres${job.error ? `: ${job.error}` : ""}`,
    // Nothing runs (as observed); the immediate stop makes sure of it before the key goes, as on a timeout.
    [{ type: "demote", mode: "immediate" }, { type: "release_leader" }],
  );
}

/**
 * watchdog.mode required: without a working watchdog this member may not hold the key (Patroni demotes a
 * primary whose watchdog cannot be activated, and a replica that just took the key gives it back).
 */
export function watchdogUnusableWithLock({ obs, mem, holdsLock }: Cycle): Decision | null {
  const wd = obs.watchdogUnusable;
  if (!holdsLock || wd === undefined) return null;
  const writable = mayBeWritable(obs.pg);
  return noChange(
    { ...mem, isLeader: false, primaryDownSince: null },
    writable
      ? `demoting self because the watchdog is required but not usable: ${wd}`
      : `released the leader key because the watchdog is required but not usable: ${wd}`,
    writable
      ? [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]
      : [{ type: "release_leader" }],
  );
}

/**
 * A switchover's clean shutdown (the `demote` job) ended: with Postgres down, release the key (and keep trying
 * until it is gone, never starting Postgres as a primary under it again); a shutdown that failed with Postgres
 * still up leaves this member leading and clears the request, saying why.
 */
export function handoverShutdown({ obs, mem, view, holdsLock }: Cycle): Decision | null {
  if (!mem.handover || !holdsLock) return null;
  const { handover: _, ...rest } = mem;
  const job = obs.job?.kind === "demote" ? obs.job : null;
  if (job?.status === "failed" && obs.pg.running) {
    const actions: Action[] = [{ type: "renew_leader" }];
    if (view.failover) actions.push({ type: "clear_failover", modRevision: view.failover.modRevision });
    const why = job.error ?? "postgres did not stop";
    return noChange(rest, `switchover failed: ${why}; cleared the failover key`, actions);
  }
  if (obs.pg.running) return null;
  const final = finalPositionStatus(obs.pg, view);
  return noChange(
    { ...mem, isLeader: false, primaryDownSince: null },
    "released the leader key after a clean shutdown for the switchover" +
      (final.length > 0 ? ` (final position ${obs.pg.controlPosition!.lsn} published)` : ""),
    [...final, { type: "release_leader" }],
  );
}

/** Postgres is stopped while this member holds the key: start it under the key, as a primary unless it is a standby. */
export function startAsLeader({ obs, mem, ctx, view }: Cycle): Decision {
  if (!obs.pg.standbySignal) {
    return noChange(mem, "starting primary after failure", [
      { type: "renew_leader" },
      ...syncBeforeStartAsLeader(ctx, view),
      { type: "start_job", job: { kind: "start", role: "primary", upstream: null } },
    ]);
  }
  return noChange(mem, "starting as readonly because I had the session lock", [
    { type: "renew_leader" },
    { type: "start_job", job: { kind: "start", role: "replica", upstream: null } },
  ]);
}

/** Postgres answers and this member holds the key: renew it, promote, hand over or keep the cluster keys current. */
export function decideAsLeader({ obs, mem, ctx, view }: Cycle): Decision {
  const pg = obs.pg;
  const actions: Action[] = [{ type: "renew_leader" }];
  if (pg.sysid && !isValidSysid(view.initialize)) actions.push({ type: "write_initialize", sysid: pg.sysid });
  if (!view.config) actions.push({ type: "write_config", value: ctx.bootstrapDcs });
  if (pg.role === "replica") {
    actions.push(...syncBeforePromote(ctx, view), { type: "promote" });
    return noChange(mem, "promoted self to leader because I had the session lock", actions);
  }
  if (pg.walPosition !== null) {
    const fields = statusSlotFields({
      view,
      me: ctx.name,
      seen: mem.membersSeen,
      memberSlotsTtl: ctx.dynamic.memberSlotsTtl,
      useSlots: ctx.dynamic.useSlots,
      permanent: ctx.dynamic.permanentSlots ?? [],
      logical: (ctx.dynamic.logicalSlots ?? []).map((l) => l.name),
      positions: pg.slotPositions ?? {},
      walPosition: pg.walPosition,
      existing: pg.slots,
    });
    actions.push({ type: "write_status", optime: pg.walPosition, ...fields });
  }
  // Before a hand-over too: the switch point replaces this promotion's reservation (history_reservation.ts).
  const history = historyToPublish(view, pg, obs.wallNow, ctx.name, ctx.dynamic.maxTimelinesHistory);
  if (history) actions.push({ type: "write_history", history });
  const check = {
    peers: obs.peers,
    position: pg.walPosition,
    timeline: pg.timeline,
    maximumLagOnFailover: ctx.dynamic.maximumLagOnFailover,
    syncStandbys: syncHandoverStandbys(ctx, view),
  };
  let step = leaderStep(view, ctx.name, obs.wallNow, ctx.dynamic.loopWait, check);
  const noVotes = step.kind === "handover" ? quorumHandoverGate(ctx, view, step.candidate, check) : null;
  if (noVotes !== null) step = { kind: "clear", reason: noVotes };
  if (step.kind === "handover") {
    // Stop cleanly first: a fast shutdown sends every WAL record up to the shutdown checkpoint to the streaming
    // replicas, so the candidate has every acknowledged transaction before the key is released. The stop runs as
    // a job (Patroni's graceful demote in its async executor): the loop keeps renewing the key meanwhile, so a
    // long shutdown checkpoint never lets the fence turn it into an immediate stop; `handoverShutdown` releases
    // the key once Postgres is down.
    // The failsafe key names the members registered now first: one it left out would not race for the released
    // key (found by the simulator: members that came back since the key was written never took over).
    const failsafe = failsafeKeyAction(view, ctx);
    if (failsafe) actions.push(failsafe);
    actions.push({ type: "start_job", job: { kind: "demote" } });
    return noChange({ ...mem, handover: true }, step.reason, actions);
  }
  const failsafe = failsafeKeyAction(view, ctx);
  if (failsafe) actions.push(failsafe);
  const sync = leaderSyncStep(ctx, view, pg, mem);
  actions.push(...sync.actions);
  if (ctx.dynamic.useSlots) {
    const plan = memberSlotPlan(view, ctx.name, "primary", {
      nofailover: isNoFailover(ctx.tags),
      memberSlotsTtl: ctx.dynamic.memberSlotsTtl,
      seen: mem.membersSeen,
    });
    const fields = slotSyncFields(ctx.dynamic, "primary", isNoFailover(ctx.tags), {}, false, plan.keep);
    const inactive = Object.keys(plan.inactive).length > 0 ? { memberInactive: plan.inactive } : {};
    actions.push({ type: "sync_slots", slots: plan.keep, ...fields, ...inactive });
  }
  let reason = `no action. I am (${ctx.name}), the leader with the lock`;
  if (sync.note) reason += `; ${sync.note}`;
  if (step.kind === "wait") reason += `; ${step.reason}`;
  if (step.kind === "clear") {
    actions.push({ type: "clear_failover", modRevision: view.failover!.modRevision });
    reason += `; cleared the failover key: ${step.reason}`;
  }
  const d = noChange(sync.mem, reason, actions);
  return sync.warning ? { ...d, warning: sync.warning } : d;
}

/**
 * The `history` value the leader should publish when its timeline T is newer than the cluster's, or when the key's
 * newest entry is this member's reservation (history_reservation.ts): the entries already in the key below T-1 (or,
 * for a cluster adopted without one, the earlier lines of the timeline history file), then
 * `[T-1, switch_lsn, reason, now, me]` for the switch into T (Patroni's 5-field form). The first field is T-1 even
 * when Postgres branched from an older parent (a timeline number skipped because another member had used it), so
 * the cluster's timeline, last entry + 1, is T. With `max` (`max_timelines_history`) above 0, only the last `max`
 * entries (as Patroni trims the key). Null when there is nothing to publish.
 */
export function historyToPublish(
  view: ClusterView,
  pg: PgObservation,
  wallNow: number,
  me: string,
  max = 0,
): HistoryEntry[] | null {
  const last = pg.timelineHistory.at(-1);
  if (pg.timeline === null || !last) return null;
  const reserved = ownReservationPending(view, me) && pg.timeline > confirmedClusterTimeline(view);
  if (pg.timeline <= clusterTimeline(view) && !reserved) return null;
  const known = (view.history ?? []).filter((e) => e[0] < pg.timeline! - 1);
  const earlier: HistoryEntry[] = known.length > 0
    ? known
    : pg.timelineHistory.slice(0, -1).map((s): HistoryEntry => [s.timeline, s.switchLsn, s.reason]);
  const all: HistoryEntry[] = [...earlier, [
    pg.timeline - 1,
    last.switchLsn,
    last.reason,
    historyStamp(wallNow),
    me,
  ]];
  return max > 0 ? all.slice(-max) : all;
}
