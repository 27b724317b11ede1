/**
 * Which members' physical slots a server keeps, and which of them are expected to be in use, as Patroni decides it
 * for cascading replication (a member tagged `replicatefrom` streams from that member, not from the leader):
 * - a `nostream` member streams from nobody and has no slot anywhere; a member named in no `replicatefrom` of an
 *   existing member, or naming a member that does not exist, streams from the leader;
 * - the leader keeps a slot for every other streaming member (with `member_slots_ttl: 0`, only for those that
 *   stream from it); the slot of a member that streams from another member is not expected to be in use there, so
 *   it is advanced to that member's reported position (`xlog_location`, or the position the `status` key
 *   publishes, whichever is ahead) and does not hold WAL for nothing;
 * - a replica that may become primary (not `nofailover`) keeps, with `member_slots_ttl` above 0, a slot for every
 *   other streaming member (the leader's included) and for each slot the leader lists in `status` `retain_slots`,
 *   as Patroni 4 does, so that after a failover the new primary already holds a slot for every member: the slots
 *   of the members that stream from it (`replicatefrom` naming it; never the leader) are expected to be in use, the
 *   others are advanced to the position the leader publishes in `status` (or the member's own position for a
 *   cascaded member), never past the replica's replay position (src/core/slot_rules.ts);
 * - a `nofailover` replica, and with `member_slots_ttl: 0` every replica, keeps only the slots of the members that
 *   stream from it; the other member slots it has (from when it was primary) are dropped as unknown when inactive;
 * - a slot that is not expected to be in use and carries an `xmin` (left by hot_standby_feedback of a former
 *   consumer) would hold back the xmin horizon for good: it is dropped (and created again where it is wanted).
 * Deliberate differences: a leader tagged `nofailover` (tags changed after it was promoted) keeps every member's
 * slot, where Patroni 4 would keep only those of members streaming from it and cut the others off.
 *
 * Pure. May import: `./types.ts`, `./slots.ts`, `./topology.ts`.
 *
 * @module
 */
import type { ClusterView, Member, Tags } from "./types.ts";
import { slotNameFor } from "./slots.ts";
import { memberSlotsWanted } from "./topology.ts";

/** The member slots of one server (slot names). */
export interface MemberSlotPlan {
  /** Slots kept and created where missing. */
  create: string[];
  /** Every member slot kept where it exists (`create` included). */
  keep: string[];
  /** The kept slots not expected to be in use here, each with the position it is advanced to (0: none known). */
  inactive: Record<string, number>;
}

/** Whether `m` streams from the server of `me` when `me` is the leader (Patroni's `leader_filter`). */
function streamsFromLeader(view: ClusterView, m: Member, me: string): boolean {
  const from = m.data.tags?.replicatefrom;
  if (typeof from !== "string" || from === "" || from === m.name || from === me) return true;
  return !view.members.some((o) => o.name === from);
}

/** The position to advance `m`'s slot to where `m` does not use it: the published one or, cascading, its own. */
function targetFor(m: Member | undefined, slot: string, published: Readonly<Record<string, number>>): number {
  const at = published[slot] ?? 0;
  const from = m?.data.tags?.replicatefrom;
  return typeof from === "string" && from !== "" ? Math.max(at, m?.data.xlog_location ?? 0) : at;
}

/**
 * The member slots of `me`'s server as `role`: see the module comment. `seen` are the members seen recently (the
 * memory's `membersSeen`, cut to `member_slots_ttl`); `nofailover`: `me` never becomes primary, so it keeps only
 * the slots of members that stream from it (as a replica).
 */
export function memberSlotPlan(
  view: ClusterView,
  me: string,
  role: "primary" | "replica",
  opts: { nofailover: boolean; memberSlotsTtl: number; seen: Readonly<Record<string, number>> },
): MemberSlotPlan {
  const published = view.status?.slots ?? {};
  const streaming = view.members.filter((m) => m.name !== me && m.data.tags?.nostream !== true);
  const bySlot = new Map(streaming.map((m) => [slotNameFor(m.name), m]));
  const fromMe = (m: Member): boolean => m.data.tags?.replicatefrom === me && m.name !== view.leader?.name;
  let keep = memberSlotsWanted(view, me, opts.seen as Record<string, number>);
  if (opts.nofailover && role === "replica") {
    keep = streaming.filter(fromMe).map((m) => slotNameFor(m.name)).sort();
  }
  const inactive: Record<string, number> = {};
  if (role === "primary") {
    const cascaded = streaming.filter((m) => !streamsFromLeader(view, m, me)).map((m) => slotNameFor(m.name));
    if (opts.memberSlotsTtl === 0) keep = keep.filter((n) => !cascaded.includes(n));
    for (const n of cascaded) if (keep.includes(n)) inactive[n] = targetFor(bySlot.get(n), n, published);
    return { create: keep, keep, inactive };
  }
  const active = streaming.filter(fromMe).map((m) => slotNameFor(m.name)).sort();
  // Without member slot retention a replica keeps only the slots of the members streaming from it (Patroni).
  if (opts.memberSlotsTtl === 0) keep = [];
  if (opts.memberSlotsTtl > 0 && !opts.nofailover) {
    const own = slotNameFor(me);
    keep = [...new Set([...keep, ...(view.status?.retainSlots ?? []).filter((n) => n !== own)])].sort();
  }
  const all = [...new Set([...keep, ...active])].sort();
  for (const n of all) if (!active.includes(n)) inactive[n] = targetFor(bySlot.get(n), n, published);
  const create = opts.memberSlotsTtl > 0 && !opts.nofailover ? all : active;
  return { create, keep: all, inactive };
}

/**
 * The slot through which `me`'s WAL leaves the primary (Patroni's `get_slot_name_on_primary`): its own when it
 * streams from the leader, else that of the first member of its `replicatefrom` chain that does; null when the
 * chain reaches a `nostream` member (or loops), whose cascade gets no feedback to the primary: such a member keeps
 * no copies of logical slots, as in Patroni.
 */
export function slotNameOnPrimary(view: ClusterView, me: string, tags: Tags): string | null {
  const seen = new Set<string>();
  let name = me;
  let t: Tags = tags;
  for (;;) {
    seen.add(name);
    if (t.nostream === true) return null;
    const from = typeof t.replicatefrom === "string" && t.replicatefrom !== name ? t.replicatefrom : null;
    const up = from === null ? undefined : view.members.find((m) => m.name === from);
    if (!up) return slotNameFor(name);
    if (seen.has(up.name)) return null;
    name = up.name;
    t = up.data.tags ?? {};
  }
}
