/**
 * Whether a replica runs with `hot_standby_feedback = on`, as Patroni enforces it: a replica that keeps copies of
 * permanent logical slots needs the primary to keep the catalog rows they decode, and so does every member that
 * such a replica streams from (`replicatefrom`), however deep the chain, since the feedback travels up through
 * it; a member whose own chain to the primary reaches a `nostream` member sends no feedback there, so neither it
 * nor its cascade enforces it; a standby cluster keeps no logical slots. The Postgres adapter asks it whenever it
 * writes postgresql.conf (a start, and the `follow` of every replica cycle, which reloads when the file changed),
 * so the value follows the cluster as members come and go, as Patroni re-evaluates it each cycle.
 *
 * Pure. May import: `./types.ts`, `./logical_slots.ts`, `./member_slots.ts`.
 *
 * @module
 */
import type { ClusterView, Tags } from "./types.ts";
import { logicalSlotsFor, type LogicalSlotSpec } from "./logical_slots.ts";
import { slotNameOnPrimary } from "./member_slots.ts";

/** What the answer depends on besides the cluster view. */
export interface HotStandbyFeedbackSettings {
  useSlots: boolean;
  logicalSlots?: readonly LogicalSlotSpec[];
  standbyCluster?: unknown;
}

/**
 * Whether `me` (with `tags`) must run with `hot_standby_feedback = on`: it keeps logical slot copies, or a member
 * streaming from it (not the leader) must (Patroni's `should_enforce_hot_standby_feedback`). Without a cluster
 * view (etcd not read yet) only its own copies count.
 */
export function enforcesHotStandbyFeedback(
  view: ClusterView | null,
  me: string,
  tags: Tags,
  settings: HotStandbyFeedbackSettings,
): boolean {
  if (settings.standbyCluster !== undefined || !settings.useSlots) return false;
  if (view === null) return logicalSlotsFor(settings.logicalSlots, tags, []).length > 0;
  const visit = (name: string, t: Tags, seen: Set<string>): boolean => {
    if (seen.has(name)) return false;
    seen.add(name);
    if (slotNameOnPrimary(view, name, t) === null) return false;
    if (logicalSlotsFor(settings.logicalSlots, t, []).length > 0) return true;
    return view.members.some((m) =>
      m.data.tags?.replicatefrom === name && m.name !== name && m.name !== view.leader?.name &&
      visit(m.name, m.data.tags ?? {}, seen)
    );
  };
  return visit(me, tags, new Set());
}
