/**
 * Fail closed on a promise hactl cannot keep: when the cluster's dynamic config sets a key whose guarantee hactl
 * does not implement yet (such as `standby_cluster`; found by
 * src/config/key_check.ts and carried in `DynamicSettings.unsupportedGuarantees`), every cycle says so as an error,
 * and this member does not take the leader key: a plan that would take it is replaced by none (a lockless primary
 * demotes, outside pause). A member that already leads keeps leading and says so each cycle: releasing the key
 * would only cause an outage, and the promise was already not kept before.
 *
 * Pure. May import: `./types.ts`, `./ha_context.ts`.
 *
 * @module
 */
import type { Action, Decision, Observation } from "./types.ts";
import { type HaContext, mayBeWritable } from "./ha_context.ts";

/** Actions that take a key this member does not hold: the leader key, or the initialize key of a new cluster. */
function takesKey(actions: readonly Action[]): boolean {
  return actions.some((a) => a.type === "acquire_leader" || a.type === "acquire_initialize");
}

/** `decision` as it stands when no guarantee is refused; otherwise without taking the key, and with the error. */
export function refuseUnsupportedGuarantees(obs: Observation, ctx: HaContext, decision: Decision): Decision {
  const keys = ctx.dynamic.unsupportedGuarantees ?? [];
  if (keys.length === 0 || obs.dcs.kind !== "ok") return decision;
  const sets = `the cluster's dynamic config sets ${keys.join(", ")}, which hactl does not implement yet`;
  if (obs.dcs.cluster.leader?.name === ctx.name) {
    const still = `still leading although ${sets} (releasing the key would only cause an outage)`;
    return { ...decision, reason: `${decision.reason}; ${still}`, error: still };
  }
  const error = `${sets}: this member does not take the leader key`;
  if (!takesKey(decision.actions)) return { ...decision, error };
  const demote = !ctx.dynamic.pause && mayBeWritable(obs.pg);
  return {
    ...decision,
    actions: demote ? [{ type: "demote", mode: "immediate" }] : [],
    reason: `not taking the leader key: ${sets}${demote ? "; demoting self" : ""}`,
    error,
  };
}
