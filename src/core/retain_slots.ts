/**
 * What the leader writes in the `status` key about slots, as Patroni (4.x) writes it:
 * - `slots`: with `member_slots_ttl` above 0, the position of every slot the leader manages that exists on it
 *   (members' physical slots at `restart_lsn`, permanent physical ones likewise, permanent logical ones at
 *   `confirmed_flush_lsn`) and its own slot name at its WAL position; with `member_slots_ttl: 0`, only the
 *   permanent slots (and its own name), as before Patroni 4. A member slot the leader creates in this very cycle
 *   (its member key is new) is published at once, at the leader's WAL position: the slot is created reserving WAL
 *   from the current insert position, so that is a lower bound of its `restart_lsn`. Patroni publishes it one
 *   cycle later, from its next look at `pg_replication_slots`; a member that streams within a second of joining
 *   would otherwise be missing from `slots` for a whole `loop_wait`;
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
  /** The physical slots present on the leader (`PgObservation.slots`); a wanted member slot not among them is
   * created in this cycle. Absent: only the slots with a position are published. */
  existing?: readonly string[];
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
  const positions = withCreatedSlots(i, members);
  const slots = statusSlots(managed, positions, i.me, i.walPosition, i.logical);
  if (Object.keys(slots).length > 0) out.slots = slots;
  if (i.memberSlotsTtl > 0) {
    const permanent = new Set(i.permanent);
    const retain = [...members, slotNameFor(i.me)].filter((n) =>
      !permanent.has(n) && (n === slotNameFor(i.me) || positions[n] !== undefined)
    );
    if (retain.length > 0) out.retainSlots = [...new Set(retain)].sort();
  }
  return out;
}

/** The leader's slot positions, with each member slot it creates in this cycle at its WAL position. */
function withCreatedSlots(i: StatusSlotInput, members: readonly string[]): Readonly<Record<string, number>> {
  if (i.existing === undefined || i.walPosition === null || i.walPosition <= 0) return i.positions;
  const present = new Set(i.existing);
  const permanent = new Set(i.permanent);
  const out: Record<string, number> = { ...i.positions };
  for (const name of members) {
    if (!present.has(name) && !permanent.has(name) && out[name] === undefined) out[name] = i.walPosition;
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
