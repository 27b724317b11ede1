/**
 * Maintenance mode (`pause: true` in the dynamic config): no automatic action on Postgres. The leader keeps its
 * key while its Postgres runs as primary; a running primary without the key takes it when nobody holds it; nobody
 * races, promotes, demotes, starts, stops, bootstraps or clones; replicas keep following the leader. A restart
 * asked for now still runs, a reinit too, reloads still apply, the leader keeps synchronous replication up, and a
 * switchover to a named candidate runs as Patroni runs it in pause (`paused_switchover.ts`).
 *
 * Pure. May import: `src/core/` (types, context, member state, topology, in-place changes, sync plan, paused
 * switchover, the replica's reinit rule).
 *
 * @module
 */
import type { Action, Decision, Memory, Observation } from "./types.ts";
import { type Cycle, type HaContext, noChange } from "./ha_context.ts";
import { isNoFailover, isValidSysid } from "./member_state.ts";
import { updateMembersSeen, upstreamFor } from "./topology.ts";
import { memberSlotPlan } from "./member_slots.ts";
import { slotSyncFields } from "./slot_rules.ts";
import { memberSlotsTtlMs } from "./settings.ts";
import { planRestart, withReload } from "./decide_in_place.ts";
import { leaderSyncStep } from "./sync_plan.ts";
import { pausedStandbyLeader } from "./decide_standby.ts";
import { pausedCandidate, pausedHandover, pausedLeaderSwitchover } from "./paused_switchover.ts";
import { reinitRequested } from "./decide_replica.ts";

/** One cycle's decision in maintenance mode (the caller prefixes its reason with `PAUSE: `). */
export function decidePaused(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  const mem: Memory = { ...memory, primaryDownSince: null };
  if (obs.dcs.kind === "unreachable") return noChange({ ...mem, isLeader: false }, "DCS is not accessible");
  const view = obs.dcs.cluster;
  const holdsLock = view.leader?.name === ctx.name;
  mem.isLeader = holdsLock;
  const c: Cycle = { obs, mem, ctx, view, holdsLock };
  const pg = obs.pg;
  if (obs.job?.status === "running") {
    return noChange(mem, `${obs.job.description} in progress`, holdsLock ? [{ type: "renew_leader" }] : []);
  }
  // A switchover's hand-over is over once Postgres runs again without the key.
  if (!holdsLock && (pg.running || pg.dataDir !== "initialized")) delete mem.handover;
  const handover = pausedHandover(c);
  if (handover) return handover;
  // A reinit asked for runs in pause too (an operator's explicit act, as with Patroni); the fresh copy is then
  // started as a replica, as after a hand-over.
  const reinit = reinitRequested(c);
  if (reinit) return { ...reinit, memory: { ...reinit.memory, handover: true } };
  // Maintenance mode runs a restart asked for now (an operator's explicit act), never a scheduled one.
  const restartable = pg.running && pg.queryable &&
    (holdsLock ? pg.role === "primary" : pg.role === "replica");
  // A replica's Postgres that is not running is started by a restart asked for now (Patroni's restart starts it).
  const stoppedReplica = !pg.running && !holdsLock;
  if (obs.restart?.at === null && (restartable || stoppedReplica) && pg.dataDir === "initialized") {
    return planRestart(c, "restarting postgres on request");
  }
  return withReload(c, pausedStandbyLeader(c) ?? decidePausedRest(c));
}

function decidePausedRest({ obs, mem, ctx, view, holdsLock }: Cycle): Decision {
  const pg = obs.pg;
  const isPrimary = pg.running && pg.queryable && pg.role === "primary";
  if (pg.dataDir !== "initialized") {
    return noChange(
      { ...mem, isLeader: false },
      "running with empty data directory",
      holdsLock ? [{ type: "release_leader" }] : [],
    );
  }
  if (holdsLock) {
    if (!isPrimary) {
      return noChange(
        { ...mem, isLeader: false },
        "removed the leader key: postgres is not running as primary",
        [{ type: "release_leader" }],
      );
    }
    const actions: Action[] = [{ type: "renew_leader" }];
    if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
    // As Patroni's paused leader: synchronous replication is kept up (standbys named and replaced) in pause too.
    const sync = leaderSyncStep(ctx, view, pg, mem);
    actions.push(...sync.actions);
    // As Patroni's paused leader: the member slots are kept (a former leader must find its slot to stream).
    if (ctx.dynamic.useSlots) {
      const fields = slotSyncFields(ctx.dynamic, "primary", isNoFailover(ctx.tags), {});
      const membersSeen = updateMembersSeen(mem.membersSeen, view, obs.now, memberSlotsTtlMs(ctx.dynamic));
      sync.mem = { ...sync.mem, membersSeen };
      const plan = memberSlotPlan(view, ctx.name, "primary", {
        nofailover: isNoFailover(ctx.tags),
        memberSlotsTtl: ctx.dynamic.memberSlotsTtl,
        seen: membersSeen,
      });
      const inactive = Object.keys(plan.inactive).length > 0 ? { memberInactive: plan.inactive } : {};
      actions.push({ type: "sync_slots", slots: plan.keep, ...fields, ...inactive });
    }
    const switchover = pausedLeaderSwitchover({ obs, mem: sync.mem, ctx, view, holdsLock }, actions);
    if (switchover) return switchover;
    const note = sync.note ? `; ${sync.note}` : "";
    const d = noChange(sync.mem, `no action. I am (${ctx.name}), the leader with the lock${note}`, actions);
    return sync.warning ? { ...d, warning: sync.warning } : d;
  }
  if (!pg.running) return noChange(mem, "postgres is not running");
  if (isPrimary) {
    if (!view.leader && (!isValidSysid(view.initialize) || view.initialize === pg.sysid)) {
      return noChange(mem, "acquired session lock as a leader", [{ type: "acquire_leader" }]);
    }
    return noChange(mem, "continue to run as primary without lock");
  }
  const candidate = pausedCandidate({ obs, mem, ctx, view, holdsLock });
  if (candidate) return candidate;
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  if (!upstream) return noChange(mem, `no action. I am (${ctx.name}), a secondary, and there is no leader`);
  return noChange(
    mem,
    `no action. I am (${ctx.name}), a secondary, and following a leader (${upstream.name})`,
    [{ type: "follow", upstream }],
  );
}
