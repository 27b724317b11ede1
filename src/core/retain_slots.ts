/**
 * What the leader writes in the `status` key about slots, as Patroni (4.x) writes it:
 * - `slots`: with `member_slots_ttl` above 0, the position of every slot the leader manages that exists on it
 *   (members' physical slots at `restart_lsn`, permanent physical ones likewise, permanent logical ones at
 *   `confirmed_flush_lsn`) and its own slot name at its WAL position; with `member_slots_ttl: 0`, only the
 *   permanent slots (and its own name), as before Patroni 4;
 * - `retain_slots`: the member slots kept for `member_slots_ttl` (members seen less than that ago, not `nostream`,
 *   not permanent slots), with the leader's own name; a member that takes the leader key keeps the slots listed
 *   there for another `member_slots_ttl` (`retainedOnLeadership`), so the slots of members recently there survive
 *   a change of leader even when the new leader had not seen them.
 *
 * Pure. May import: `./types.ts`, `./slots.ts`, `./slot_rules.ts`, `./topology.ts`.
 *
 * @module
 */
import type { ClusterView } from "./types.ts";
import { slotNameFor } from "./slots.ts";
import { statusSlots } from "./slot_rules.ts";
import { memberSlotsWanted } from "./topology.ts";

/** The inputs of the leader's `status` slot fields. */
export interface StatusSlotInput {
  view: ClusterView;
  me: string;
  /** Members seen and when (the memory's `membersSeen`, already cut to `member_slots_ttl`). */
  seen: Readonly<Record<string, number>>;
  /** `member_slots_ttl` in seconds. */
  memberSlotsTtl: number;
  useSlots: boolean;
  permanent: readonly string[];
  logical: readonly string[];
  /** The leader's slots' positions (`PgObservation.slotPositions`) and its WAL position. */
  positions: Readonly<Record<string, number>>;
  walPosition: number | null;
}

/** The `slots` and `retain_slots` of the `status` key (each omitted when empty). */
export function statusSlotFields(
  i: StatusSlotInput,
): { slots?: Record<string, number>; retainSlots?: string[] } {
  if (!i.useSlots) return {};
  const out: { slots?: Record<string, number>; retainSlots?: string[] } = {};
  const members = i.memberSlotsTtl > 0
    ? memberSlotsWanted(i.view, i.me, i.seen as Record<string, number>)
    : [];
  const managed = [...new Set([...members, ...i.permanent])];
  const slots = statusSlots(managed, i.positions, i.me, i.walPosition, i.logical);
  if (Object.keys(slots).length > 0) out.slots = slots;
  if (i.memberSlotsTtl > 0) {
    const permanent = new Set(i.permanent);
    const retain = [...members, slotNameFor(i.me)].filter((n) =>
      !permanent.has(n) && (n === slotNameFor(i.me) || i.positions[n] !== undefined)
    );
    if (retain.length > 0) out.retainSlots = [...new Set(retain)].sort();
  }
  return out;
}

/**
 * The members seen, once this member has taken the leader key: the slots the former leader listed in
 * `retain_slots` count as seen now, so they are kept for another `member_slots_ttl`, as Patroni does on a promotion.
 */
export function retainedOnLeadership(
  seen: Readonly<Record<string, number>>,
  retainSlots: readonly string[],
  now: number,
  me: string,
): Record<string, number> {
  const out: Record<string, number> = { ...seen };
  for (const name of retainSlots) {
    if (name === slotNameFor(me)) continue;
    const member = Object.keys(out).find((m) => slotNameFor(m) === name);
    out[member ?? name] = now;
  }
  return out;
}
