/**
 * Whether a replica runs with `hot_standby_feedback = on`, as Patroni enforces it: a replica that keeps copies of
 * permanent logical slots needs the primary to keep the catalog rows they decode, and so does every member that
 * such a replica streams from (`replicatefrom`), however deep the chain, since the feedback travels up through
 * it; a member whose own chain to the primary reaches a `nostream` member sends no feedback there, so neither it
 * nor its cascade enforces it; a standby cluster keeps no logical slots. The core decides it every cycle
 * (`withHotStandbyFeedback`) and, when the answer changes, hands it to the Postgres adapter with a
 * `set_hot_standby_feedback` action at the head of the plan; the adapter applies the value it was handed last to
 * every postgresql.conf it writes (a start, and the `follow` of every replica cycle, which reloads when the file
 * changed), so the value follows the cluster as members come and go, as Patroni re-evaluates it each cycle.
 *
 * Pure. May import: `./types.ts`, `./logical_slots.ts`, `./member_slots.ts`, `./ha_context.ts` (types).
 *
 * @module
 */
import type { ClusterView, Decision, Observation, Tags } from "./types.ts";
import type { HaContext } from "./ha_context.ts";
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

/**
 * `d` with the cycle's `hot_standby_feedback` decision: when it differs from the value handed to the adapter last
 * (none yet: false), a `set_hot_standby_feedback` action first in the plan (it cannot fail, so the memory that
 * records it never runs ahead of the adapter). Decided on this cycle's cluster view; without one (etcd out of
 * reach) the value handed last stays, and before any was handed, in a plan that writes postgresql.conf, only the
 * member's own logical copies count.
 */
export function withHotStandbyFeedback(d: Decision, obs: Observation, ctx: HaContext): Decision {
  const view = obs.dcs.kind === "ok" ? obs.dcs.cluster : null;
  const last = d.memory.hotStandbyFeedback;
  if (view === null && (last !== undefined || !d.actions.some(writesConf))) return d;
  const value = enforcesHotStandbyFeedback(view, ctx.name, ctx.tags, ctx.dynamic);
  if (value === (last ?? false)) return d;
  return {
    ...d,
    actions: [{ type: "set_hot_standby_feedback", value }, ...d.actions],
    memory: { ...d.memory, hotStandbyFeedback: value },
  };
}

/** The actions after which the adapter writes postgresql.conf. */
function writesConf(a: Decision["actions"][number]): boolean {
  return a.type === "start_job" || a.type === "follow" || a.type === "reload";
}
