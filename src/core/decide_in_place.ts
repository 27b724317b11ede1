/**
 * Changes made to a running Postgres in its role: a restart in place (requested or scheduled, planned when
 * `restart.ts` says it is due) and a configuration reload appended to a plan that leaves Postgres running.
 *
 * Pure. May import: `src/core/` (types, context, topology).
 *
 * @module
 */
import type { Action, Decision } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { upstreamFor } from "./topology.ts";

/**
 * A restart in place: the leader renews its key first and keeps it while its Postgres restarts (no one else may
 * take over meanwhile: the key stays ours and the loop keeps renewing it while the job runs); a replica restarts
 * following its upstream.
 */
export function planRestart({ obs, mem, ctx, view, holdsLock }: Cycle, reason: string): Decision {
  const role = holdsLock ? "primary" : "replica";
  const upstream = holdsLock ? null : upstreamFor(view, ctx.name, ctx.tags);
  const actions: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
  if (holdsLock && obs.pg.walPosition !== null) {
    actions.push({ type: "write_status", optime: obs.pg.walPosition });
  }
  actions.push({ type: "start_job", job: { kind: "restart", role, upstream } });
  const timeout = obs.restart?.conditions.timeout;
  return noChange(
    holdsLock && timeout !== undefined ? { ...mem, startTimeout: timeout } : mem,
    reason,
    actions,
  );
}

/**
 * Append a configuration reload to a plan that leaves Postgres running in its role (nothing stops, starts,
 * promotes or demotes it): a running primary with the lock, or a replica with an upstream to keep in its recovery
 * settings.
 */
export function withReload({ obs, ctx, view, holdsLock }: Cycle, d: Decision): Decision {
  if (!obs.reloadRequested || !obs.pg.running || !obs.pg.queryable) return d;
  const disruptive = d.actions.some((a) =>
    a.type === "start_job" || a.type === "demote" || a.type === "promote" || a.type === "release_leader"
  );
  if (disruptive) return d;
  let action: Action | null = null;
  const force = obs.reloadRequested === "forced";
  if (obs.pg.role === "primary" && (holdsLock || ctx.dynamic.pause)) {
    action = { type: "reload", role: "primary", upstream: null, force };
  } else if (obs.pg.role === "replica") {
    const upstream = view.leader ? upstreamFor(view, ctx.name, ctx.tags) : null;
    if (upstream || ctx.tags.nostream === true) action = { type: "reload", role: "replica", upstream, force };
  }
  return action ? { ...d, actions: [...d.actions, action] } : d;
}
