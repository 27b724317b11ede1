/**
 * Replication slots while etcd is out of reach in failsafe mode, as Patroni handles them: the leader's
 * `POST /failsafe` carries its slot positions (`slots`: what it writes to the `status` key, its own slot name at
 * its WAL position included), the replica remembers them with the call it accepted, and while that call is fresh
 * it advances its copies of the permanent slots (physical and logical) and the member slots it already has to
 * those positions, never past its own replay position, so their WAL does not pile up during the outage. Unlike a
 * cycle with etcd, nothing is created or dropped then (`advanceOnly`): the replica does not know the members.
 * The leader kept by a round advances its inactive slots of the members that answered to their WAL position.
 *
 * Pure. May import: `src/core/` (types, slot rules, failsafe predicates).
 *
 * @module
 */
import type { Action, ClusterView, DynamicSettings, Observation, PgObservation } from "./types.ts";
import type { HaContext } from "./ha_context.ts";
import { acceptanceFresh, failsafeEnabled } from "./failsafe_fresh.ts";
import { slotSyncFields, statusSlots } from "./slot_rules.ts";
import { statusSlotFields } from "./retain_slots.ts";
import { slotNameFor } from "./slots.ts";
import { isNoFailover } from "./member_state.ts";

/**
 * The `slots` of the leader's `POST /failsafe` body: the same map it writes to the `status` key (from the last
 * cluster view it read, with this cycle's positions); only the permanent slots and its own name without a view.
 */
export function failsafeRoundSlots(
  view: ClusterView | null,
  dynamic: DynamicSettings,
  me: string,
  pg: PgObservation,
): Record<string, number> {
  if (!dynamic.useSlots) return {};
  const permanent = dynamic.permanentSlots ?? [];
  const logical = (dynamic.logicalSlots ?? []).map((l) => l.name);
  const positions = pg.slotPositions ?? {};
  if (view === null) return statusSlots(permanent, positions, me, pg.walPosition, logical);
  return statusSlotFields({
    view,
    me,
    seen: {},
    memberSlotsTtl: dynamic.memberSlotsTtl,
    useSlots: true,
    permanent,
    logical,
    positions,
    walPosition: pg.walPosition,
  }).slots ?? {};
}

/**
 * The `slots` field of a leader's `POST /failsafe` body: an object of slot name -> non-negative integer position;
 * anything else is a problem (the call is accepted all the same, without positions). Absent: nothing, no problem.
 */
export function parseFailsafeSlots(raw: unknown): { slots?: Record<string, number>; problem?: string } {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return { problem: `'slots' is not an object of slot positions: ${JSON.stringify(raw)}` };
  }
  const slots: Record<string, number> = {};
  for (const [name, lsn] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof lsn !== "number" || !Number.isSafeInteger(lsn) || lsn < 0) {
      return { problem: `'slots.${name}' is not a non-negative integer position: ${JSON.stringify(lsn)}` };
    }
    slots[name] = lsn;
  }
  return { slots };
}

/**
 * A replica without etcd that accepted its leader's call within `ttl`, with failsafe mode on: the `sync_slots`
 * action that advances its permanent slots, logical slot copies and existing member slots to the positions of that
 * call (only advances), when one of them is behind; else none.
 */
export function failsafeReplicaSlotActions(obs: Observation, ctx: HaContext): Action[] {
  const pg = obs.pg;
  const acc = obs.failsafe?.accepted;
  if (
    !ctx.dynamic.useSlots || !failsafeEnabled(ctx.dynamic) || !acc?.slots ||
    !acceptanceFresh(acc, obs.now, ctx.dynamic.ttl) || !(pg.running && pg.queryable && pg.role === "replica")
  ) {
    return [];
  }
  const published = acc.slots;
  const fields = slotSyncFields(
    ctx.dynamic,
    "replica",
    isNoFailover(ctx.tags),
    published,
    ctx.tags.nostream === true,
    [],
  );
  const named = new Set([
    ...(fields.permanent ?? []),
    ...(fields.logical ?? []).map((l) => l.name),
    slotNameFor(ctx.name),
  ]);
  const members = pg.slots.filter((n) => !named.has(n) && published[n] !== undefined);
  const inactive: Record<string, number> = {};
  for (const n of members) inactive[n] = published[n]!;
  const targets = { ...fields.advance, ...inactive };
  const behind = Object.entries(targets).some(([name, lsn]) => {
    const at = pg.slotPositions?.[name];
    return pg.slotPositions === undefined || (at !== undefined && Math.min(lsn, pg.replayLsn ?? lsn) > at);
  });
  if (!behind) return [];
  return [{
    type: "sync_slots",
    slots: members,
    ...fields,
    ...(members.length > 0 ? { memberInactive: inactive } : {}),
    advanceOnly: true,
  }];
}

/**
 * The leader kept by a failsafe round: its inactive slots of the members that answered with their WAL position
 * (`lsn`) are advanced to it (only advances), as Patroni does for members that stream from another member, so
 * their WAL does not pile up on the primary during the outage; none when no such slot is behind.
 */
export function failsafeLeaderSlotActions(obs: Observation, ctx: HaContext): Action[] {
  const pg = obs.pg;
  const answers = obs.failsafe?.round?.answers ?? [];
  if (!ctx.dynamic.useSlots || !(pg.running && pg.queryable && pg.role === "primary")) return [];
  const inactive: Record<string, number> = {};
  for (const a of answers) {
    const name = slotNameFor(a.name);
    const at = pg.slotPositions?.[name];
    if (!a.accepted || typeof a.lsn !== "number" || a.lsn <= 0 || !pg.slots.includes(name)) continue;
    if (at === undefined || a.lsn > at) inactive[name] = a.lsn;
  }
  const members = Object.keys(inactive).sort();
  if (members.length === 0) return [];
  return [{ type: "sync_slots", slots: members, memberInactive: inactive, advanceOnly: true }];
}
