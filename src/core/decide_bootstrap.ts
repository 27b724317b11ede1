/**
 * The data directory before Postgres can run on it: bootstrap a new cluster (the `initialize` race) or clone from
 * the leader when there is none, finish or undo a bootstrap job, and refuse a data directory that is not
 * accessible or belongs to another cluster (a different system ID).
 *
 * Pure. May import: `src/core/` (types, context, member state, topology).
 *
 * @module
 */
import type { Action, Decision } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { isNoFailover, isValidSysid } from "./member_state.ts";
import { cloneSourceFor } from "./clone_source.ts";
import { fenceVeto } from "./fence_gate.ts";

/** The bootstrap job has ended: take the cluster (initialize, config, leader, status) or give `initialize` back. */
export function decideAfterBootstrap({ obs, mem, ctx, view }: Cycle): Decision {
  const job = obs.job!;
  if (job.status === "failed") {
    return noChange(
      mem,
      `bootstrap failed (${
        job.error ?? "unknown error"
      }); removed the initialize key so the race can run again`,
      [{ type: "cancel_initialize" }],
    );
  }
  const pg = obs.pg;
  if (!pg.running || !pg.queryable || pg.role !== "primary" || !pg.sysid) {
    return noChange(
      mem,
      "bootstrap finished but postgres is not running as primary; removed the initialize key",
      [{ type: "cancel_initialize" }],
    );
  }
  if (obs.watchdogUnusable !== undefined) {
    return noChange(
      mem,
      `bootstrap finished but the watchdog is required and not usable (${obs.watchdogUnusable}); stopped ` +
        "postgres and removed the initialize key",
      [{ type: "demote", mode: "immediate" }, { type: "cancel_initialize" }],
    );
  }
  const fence = fenceVeto(obs);
  if (fence !== null) {
    return noChange(
      mem,
      `bootstrap finished but ${fence}; stopped postgres and removed the initialize key`,
      [{ type: "demote", mode: "immediate" }, { type: "cancel_initialize" }],
    );
  }
  const actions: Action[] = [{ type: "write_initialize", sysid: pg.sysid }];
  if (!view.config) actions.push({ type: "write_config", value: ctx.bootstrapDcs });
  actions.push({ type: "acquire_leader" });
  if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
  return noChange(mem, `initialized a new cluster`, actions);
}

/**
 * The replica creation that just ended failed and the data directory is empty: try again at the next cycle, a
 * `loop_wait` later, as Patroni's next loop does, rather than at once (a method failing at once was retried
 * dozens of times a second). Null while this member holds the key (the rules below give it up first).
 */
export function cloneFailed({ obs, mem, holdsLock }: Cycle): Decision | null {
  const job = obs.job;
  if (job?.kind !== "clone" || job.status !== "failed" || obs.pg.dataDir !== "empty" || holdsLock) {
    return null;
  }
  return noChange(
    mem,
    `failed to create a replica (${job.error ?? "unknown error"}); trying again at the next cycle`,
  );
}

/** A data directory that cannot be read: do nothing with it, and give the key up if held. */
export function dataDirInaccessible({ obs, mem, holdsLock }: Cycle): Decision | null {
  if (obs.pg.dataDir !== "inaccessible") return null;
  const actions: Action[] = holdsLock ? [{ type: "release_leader" }] : [];
  return noChange(mem, "data directory is not accessible", actions);
}

/** No data directory: stop a Postgres running without one, else clone from the leader or bootstrap a cluster. */
export function decideWithoutData({ obs, mem, ctx, view }: Cycle): Decision {
  const actions: Action[] = [];
  const holdsLock = view.leader?.name === ctx.name;
  if (obs.pg.running) {
    // The key goes only after the stop succeeded (the plan stops at a failed demote), never before it.
    return noChange(
      mem,
      "postgres runs without a data directory; stopping it",
      holdsLock
        ? [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]
        : [{ type: "start_job", job: { kind: "stop", mode: "immediate" } }],
    );
  }
  if (holdsLock) actions.push({ type: "release_leader" });
  const upstream = view.leader ? cloneSourceFor(view, ctx.name) : null;
  if (view.leader && view.leader.name !== ctx.name) {
    if (!upstream) return noChange(mem, `waiting for leader '${view.leader.name}' to publish its address`);
    actions.push({ type: "start_job", job: { kind: "clone", upstream } });
    const from = upstream.name === view.leader.name ? "leader" : "replica";
    return noChange(mem, `trying to bootstrap from ${from} '${upstream.name}'`, actions);
  }
  if (view.initialize === null && !isNoFailover(ctx.tags)) {
    if (obs.watchdogUnusable !== undefined) {
      return noChange(
        mem,
        `not bootstrapping a new cluster because the watchdog is required but not usable: ${obs.watchdogUnusable}`,
        actions,
      );
    }
    const fence = fenceVeto(obs);
    if (fence !== null) return noChange(mem, `not bootstrapping a new cluster because ${fence}`, actions);
    actions.push({ type: "acquire_initialize" }, { type: "start_job", job: { kind: "bootstrap" } });
    return noChange(mem, "trying to bootstrap a new cluster", actions);
  }
  // As Patroni: with no leader, a replica method marked `no_leader` (a restore from a backup) may create the data
  // directory, unless another member is bootstrapping the cluster (`initialize` empty). In a standby cluster the
  // standby leader's bootstrap comes from the remote primary instead.
  if (
    !view.leader && ctx.noLeaderReplicaMethod && view.initialize !== "" &&
    ctx.dynamic.standbyCluster === undefined
  ) {
    actions.push({ type: "start_job", job: { kind: "clone", upstream: null } });
    return noChange(mem, "trying to bootstrap (without leader)", actions);
  }
  return noChange(mem, "waiting for leader to bootstrap", actions);
}

/**
 * A data directory of another cluster (its system ID differs from `initialize`): refuse to join, give the key up
 * if held, and stop the agent (Patroni's fatal system ID mismatch).
 */
export function foreignSystemId({ obs, mem, ctx, view, holdsLock }: Cycle): Decision | null {
  const pg = obs.pg;
  if (!(isValidSysid(view.initialize) && pg.sysid && view.initialize !== pg.sysid)) return null;
  const actions: Action[] = holdsLock ? [{ type: "release_leader" }] : [];
  return {
    ...noChange(
      mem,
      `data directory belongs to another cluster: system ID ${pg.sysid} differs from the cluster's ${view.initialize}; refusing to join`,
      actions,
    ),
    fatal:
      `system ID mismatch, node ${ctx.name} belongs to a different cluster: ${view.initialize} != ${pg.sysid}`,
  };
}
