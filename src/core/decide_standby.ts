/**
 * A standby cluster (the dynamic `standby_cluster` section names a remote primary): the whole cluster is a replica
 * of another site, as Patroni runs it. The member that holds the leader key is the *standby leader*: its Postgres
 * stays in recovery, streaming from the remote primary (host/port, `primary_slot_name`, `restore_command`,
 * `archive_cleanup_command`, `recovery_min_apply_delay`), and it never promotes while the section is present; the
 * other members follow the standby leader (with the section's WAL archive commands). Without a standby leader the
 * healthiest replica takes the key and becomes the new one (no promotion, no timeline change); meanwhile the others
 * follow the remote primary. A switchover or failover hands the key to its candidate the same way (the standby
 * leader stops cleanly and releases the key; the candidate takes it). A primary in a standby cluster is demoted: the leader's clean shutdown keeps the key
 * and restarts it as the standby leader, after pg_rewind from the remote primary (Patroni's `demote-cluster`).
 * Removing the section is `promote-cluster`: the standby leader, holding the key with a Postgres in recovery, is
 * promoted by the ordinary leader rule (src/core/decide_leader.ts).
 *
 * Bootstrap: with no leader and no `initialize` key, one member takes `initialize` and clones from the remote
 * primary; it then starts following the remote primary and wins the race as the standby leader. Every clone in a
 * standby cluster (this one, and a replica's from the standby leader or another member) tries the section's
 * `create_replica_methods` in order (none: `basebackup`), not `postgresql.create_replica_methods`, as Patroni's
 * clones from its remote member do (`withStandbyCloneMethods`).
 *
 * Pure. May import: `src/core/` (types, context, topology, leader race, restart rules).
 *
 * @module
 */
import type { Action, ClusterView, Decision, MemberRole, Upstream } from "./types.ts";
import type { CallbackCall } from "./loop.ts";
import type { StandbyClusterSettings } from "./standby_types.ts";
import { type Cycle, type HaContext, noChange } from "./ha_context.ts";
import { upstreamFor } from "./topology.ts";
import { isNoFailover, isValidSysid } from "./member_state.ts";
import { memberSlotPlan } from "./member_slots.ts";
import { slotSyncFields } from "./slot_rules.ts";
import { healthiestVerdict } from "./leader_race.ts";
import { leaderStep, raceStep } from "./switchover.ts";
import { restartStep } from "./restart.ts";
import { planRestart } from "./decide_in_place.ts";
import { decideAsReplica, startAsReplica } from "./decide_replica.ts";

/** The section, when this is a standby cluster. */
export function standbySection(ctx: HaContext): StandbyClusterSettings | undefined {
  return ctx.dynamic.standbyCluster;
}

/** The remote primary as an upstream: its address (none with only `restore_command`) and every recovery setting. */
export function remoteUpstream(sc: StandbyClusterSettings): Upstream {
  const host = sc.host ?? "";
  const port = sc.port ?? 5432;
  const hostInUrl = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const recovery: Upstream["recovery"] = { remote: true };
  if (sc.primarySlotName) recovery.primarySlotName = sc.primarySlotName;
  if (sc.restoreCommand) recovery.restoreCommand = sc.restoreCommand;
  if (sc.archiveCleanupCommand) recovery.archiveCleanupCommand = sc.archiveCleanupCommand;
  if (sc.recoveryMinApplyDelay) recovery.recoveryMinApplyDelay = sc.recoveryMinApplyDelay;
  return {
    name: `remote primary ${host || "(archive)"}:${port}`,
    connUrl: host ? `postgres://${hostInUrl}:${port}/postgres` : "",
    recovery,
  };
}

/** A member of this cluster as the upstream, carrying the section's WAL archive commands (as Patroni passes them). */
function withArchiveCommands(upstream: Upstream, sc: StandbyClusterSettings): Upstream {
  if (upstream.recovery?.remote) return upstream;
  const recovery: NonNullable<Upstream["recovery"]> = {};
  if (sc.restoreCommand) recovery.restoreCommand = sc.restoreCommand;
  if (sc.archiveCleanupCommand) recovery.archiveCleanupCommand = sc.archiveCleanupCommand;
  return Object.keys(recovery).length > 0 ? { ...upstream, recovery } : upstream;
}

/**
 * Whom this member streams from in a standby cluster: the remote primary when it holds the key, or when no one
 * does; else the standby leader (or its `replicatefrom` member). Null with `nostream`.
 */
export function standbyUpstreamFor(
  view: ClusterView,
  ctx: HaContext,
  sc: StandbyClusterSettings,
): Upstream | null {
  if (ctx.tags.nostream === true) return null;
  if (!view.leader || view.leader.name === ctx.name) return remoteUpstream(sc);
  const up = upstreamFor(view, ctx.name, ctx.tags);
  return up ? withArchiveCommands(up, sc) : null;
}

/** Every upstream in `d`'s jobs and follow actions given the section's archive commands (members of this cluster). */
function carryArchiveCommands(d: Decision, sc: StandbyClusterSettings): Decision {
  const fix = (a: Action): Action => {
    if (a.type === "follow") return { ...a, upstream: withArchiveCommands(a.upstream, sc) };
    if (a.type === "start_job" && "upstream" in a.job && a.job.upstream) {
      return { ...a, job: { ...a.job, upstream: withArchiveCommands(a.job.upstream, sc) } } as Action;
    }
    return a;
  };
  return { ...d, actions: d.actions.map(fix) };
}

/**
 * `d` with every clone job of a standby cluster carrying the section's `create_replica_methods` (`[]`: basebackup),
 * so the clone runs them in place of `postgresql.create_replica_methods`. Outside a standby cluster, `d` as it is.
 */
export function withStandbyCloneMethods(d: Decision, ctx: HaContext): Decision {
  const sc = standbySection(ctx);
  if (!sc || !d.actions.some((a) => a.type === "start_job" && a.job.kind === "clone")) return d;
  const cloneMethods = sc.createReplicaMethods ?? [];
  const actions = d.actions.map((a): Action =>
    a.type === "start_job" && a.job.kind === "clone" && a.job.upstream !== null
      ? { ...a, job: { ...a.job, upstream: { ...a.job.upstream, cloneMethods } } }
      : a
  );
  return { ...d, actions };
}

/**
 * No data directory in a standby cluster, no leader, no `initialize` key: take `initialize` and clone from the
 * remote primary (the standby leader's bootstrap). A clone from the remote primary that failed is tried again while
 * `initialize` is still the empty value this member wrote. Null: the ordinary rule (clone from the standby leader,
 * or wait for it).
 */
export function standbyWithoutData({ obs, mem, ctx, view }: Cycle): Decision | null {
  const sc = standbySection(ctx);
  if (!sc || obs.pg.running || view.leader) return null;
  if (isNoFailover(ctx.tags) || obs.watchdogUnusable !== undefined || obs.fenceUnusable !== undefined) {
    return null;
  }
  const remote = remoteUpstream(sc);
  if (!remote.connUrl) {
    if (view.initialize !== null) return null;
    return noChange(
      mem,
      "not bootstrapping the standby cluster: standby_cluster names no host to clone from (a clone without a " +
        "replication connection needs a replica method with no_leader, which hactl does not implement yet)",
    );
  }
  const job = { type: "start_job" as const, job: { kind: "clone" as const, upstream: remote } };
  // Only the member that took the empty `initialize` clones without a leader, so a failed clone is its own.
  if (obs.job?.kind === "clone" && obs.job.status === "failed" && view.initialize === "") {
    return noChange(mem, `clone from the ${remote.name} failed (${obs.job!.error ?? "?"}); trying again`, [
      job,
    ]);
  }
  if (view.initialize !== null) return null;
  return noChange(mem, `trying to bootstrap a new standby leader: clone from the ${remote.name}`, [
    { type: "acquire_initialize" },
    job,
  ]);
}

/**
 * Postgres is stopped in a standby cluster. Holding the key: start as the standby leader following the remote
 * primary, after pg_rewind from it when this was a primary (demote-cluster). No one holding it: follow the remote
 * primary (Patroni: "the standby cluster is unhealthy"). Another's key: the ordinary rule, with the archive commands.
 */
export function standbyStart(c: Cycle): Decision | null {
  const sc = standbySection(c.ctx);
  const { obs, mem, view, holdsLock } = c;
  if (!sc || obs.pg.running) return null;
  if (view.leader && !holdsLock) return carryArchiveCommands(startAsReplica(c), sc);
  const remote = remoteUpstream(sc);
  const keep: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
  const rewound = obs.job?.kind === "rewind" ? obs.job : null;
  if (holdsLock && !obs.pg.standbySignal && rewound?.status !== "ok") {
    // A rewind that could not start (the remote primary did not answer, or is still in recovery) is tried again.
    if (rewound?.status === "failed" && !rewound.retryable) {
      return noChange(
        mem,
        `pg_rewind from the ${remote.name} failed (${
          rewound.error ?? "?"
        }); not starting postgres (the key ` +
          "goes after primary_start_timeout; then 'hactl reinit' clones this member again)",
        keep,
      );
    }
    if (c.ctx.dynamic.usePgRewind && remote.connUrl) {
      return noChange(mem, `demoting to a standby cluster: running pg_rewind from the ${remote.name}`, [
        ...keep,
        { type: "start_job", job: { kind: "rewind", upstream: remote } },
      ]);
    }
  }
  const reason = holdsLock
    ? "starting as a standby leader because i had the session lock"
    : "trying to follow a remote member because standby cluster is unhealthy";
  const upstream = c.ctx.tags.nostream === true ? null : remote;
  return noChange(mem, reason, [...keep, {
    type: "start_job",
    job: { kind: "start", role: "replica", upstream },
  }]);
}

/** Postgres runs and answers in a standby cluster: restart in place when due, lead as standby leader, race, follow. */
export function decideStandbyRunning(c: Cycle): Decision | null {
  const sc = standbySection(c.ctx);
  if (!sc) return null;
  const { obs, ctx, view, holdsLock } = c;
  const role = holdsLock ? "standby_leader" : "replica";
  const restart = restartStep(obs.restart, obs.pg, role, obs.wallNow, ctx.dynamic.loopWait);
  if (restart.kind === "restart" && obs.pg.role === "replica") {
    const d = planRestart({ ...c, holdsLock: false }, restart.reason);
    const upstream = standbyUpstreamFor(view, ctx, sc);
    const actions = d.actions.map((a): Action =>
      a.type === "start_job" && a.job.kind === "restart" ? { ...a, job: { ...a.job, upstream } } : a
    );
    return { ...d, actions: holdsLock ? [{ type: "renew_leader" }, ...actions] : actions };
  }
  let d: Decision;
  if (holdsLock) d = standbyLeader(c, sc);
  else if (!view.leader) d = standbyRace(c, sc);
  else if (obs.pg.role === "primary") {
    d = noChange(c.mem, "cannot be a real primary in a standby cluster: demoting self", [
      { type: "demote", mode: "immediate" },
    ]);
  } else d = carryArchiveCommands(decideAsReplica(c), sc);
  if (restart.kind === "drop") {
    d = {
      ...d,
      actions: [{ type: "drop_restart", reason: restart.reason }, ...d.actions],
      reason: `${d.reason}; ${restart.reason}`,
    };
  }
  return withStandbyReload(c, d, sc);
}

/**
 * The key holder in a standby cluster. A primary is demoted to the standby leader (clean shutdown in the background,
 * keeping the key; `standbyStart` then rewinds and starts it). A Postgres in recovery is the standby leader: renew,
 * keep the cluster keys current, follow the remote primary, keep its members' slots, never promote.
 */
function standbyLeader(c: Cycle, sc: StandbyClusterSettings): Decision {
  const { obs, mem, ctx, view } = c;
  const pg = obs.pg;
  const actions: Action[] = [{ type: "renew_leader" }];
  if (pg.role === "primary") {
    actions.push({ type: "start_job", job: { kind: "demote", archiveCheckpoint: true } });
    return noChange(
      mem,
      "demoting to a standby cluster: stopping the primary cleanly, keeping the leader key",
      actions,
    );
  }
  if (pg.sysid && !isValidSysid(view.initialize)) actions.push({ type: "write_initialize", sysid: pg.sysid });
  if (!view.config) actions.push({ type: "write_config", value: ctx.bootstrapDcs });
  if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
  const step = leaderStep(view, ctx.name, obs.wallNow, ctx.dynamic.loopWait, {
    peers: obs.peers,
    position: pg.walPosition,
    timeline: pg.timeline,
    maximumLagOnFailover: ctx.dynamic.maximumLagOnFailover,
  });
  if (step.kind === "handover") {
    // As a primary's switchover: a clean stop in the background, then `handoverShutdown` releases the key and the
    // candidate takes it as the new standby leader.
    actions.push({ type: "start_job", job: { kind: "demote" } });
    return noChange({ ...mem, handover: true }, step.reason, actions);
  }
  let reason = `no action. I am (${ctx.name}), the standby leader with the lock`;
  if (ctx.tags.nostream !== true) actions.push({ type: "follow", upstream: remoteUpstream(sc) });
  if (step.kind === "wait") reason += `; ${step.reason}`;
  if (step.kind === "clear") {
    actions.push({ type: "clear_failover", modRevision: view.failover!.modRevision });
    reason += `; cleared the failover key: ${step.reason}`;
  }
  if (ctx.dynamic.useSlots) {
    const fields = slotSyncFields(ctx.dynamic, "primary", isNoFailover(ctx.tags), {});
    const plan = memberSlotPlan(view, ctx.name, "primary", {
      nofailover: isNoFailover(ctx.tags),
      memberSlotsTtl: ctx.dynamic.memberSlotsTtl,
      seen: mem.membersSeen,
    });
    const inactive = Object.keys(plan.inactive).length > 0 ? { memberInactive: plan.inactive } : {};
    actions.push({ type: "sync_slots", slots: plan.keep, ...fields, ...inactive, inRecovery: true });
  }
  return noChange(mem, reason, actions);
}

/**
 * No standby leader: the healthiest replica takes the key and becomes the standby leader (following the remote
 * primary, no promotion); the others follow the remote primary meanwhile. The timeline check does not apply (the
 * timeline is the remote cluster's), as in Patroni. A primary without the key is demoted.
 */
function standbyRace(c: Cycle, sc: StandbyClusterSettings): Decision {
  const { obs, mem, ctx, view } = c;
  if (obs.pg.role === "primary") {
    return noChange(mem, "cannot be a real primary in a standby cluster: demoting self", [
      { type: "demote", mode: "immediate" },
    ]);
  }
  const remote = remoteUpstream(sc);
  const follow: Action[] = ctx.tags.nostream === true ? [] : [{ type: "follow", upstream: remote }];
  const unusable = obs.watchdogUnusable !== undefined
    ? `the watchdog is required but not usable: ${obs.watchdogUnusable}`
    : obs.fenceUnusable !== undefined
    ? `the fencing supervisor is not usable: ${obs.fenceUnusable}`
    : null;
  // A switchover or failover naming a candidate: it takes the key, the others wait for it (switchover.ts).
  const step = unusable !== null ? { kind: "none" as const } : raceStep(
    view,
    ctx.name,
    obs.peers,
    { nofailover: isNoFailover(ctx.tags), position: obs.pg.walPosition, timeline: obs.pg.timeline },
    { maximumLagOnFailover: ctx.dynamic.maximumLagOnFailover, checkTimeline: false },
  );
  if (step.kind === "defer") return noChange(mem, step.reason, follow);
  if (step.kind === "refuse" || step.kind === "take") {
    const clear: Action = { type: "clear_failover", modRevision: view.failover!.modRevision };
    if (step.kind === "refuse") {
      return noChange(mem, `not taking the leader key: ${step.reason}; cleared the failover key`, [
        clear,
        ...follow,
      ]);
    }
    return noChange(
      { ...mem, isLeader: true },
      `promoted self to a standby leader by acquiring session lock: ${step.reason}`,
      [{ type: "acquire_leader" }, ...follow, clear],
    );
  }
  const noTimeline = { ...ctx, dynamic: { ...ctx.dynamic, checkTimeline: false } };
  const veto = unusable ?? healthiestVerdict(obs, noTimeline, view);
  if (veto !== null) {
    return noChange(
      mem,
      `following the ${remote.name} because I am not the healthiest node: ${veto}`,
      follow,
    );
  }
  const actions: Action[] = [{ type: "acquire_leader" }, ...follow];
  // A switchover without a named candidate is over once someone takes the lock.
  if (view.failover) actions.push({ type: "clear_failover", modRevision: view.failover.modRevision });
  return noChange(
    { ...mem, isLeader: true },
    "promoted self to a standby leader by acquiring session lock",
    actions,
  );
}

/** A reload asked for, with the role and upstream of a standby cluster (a standby leader reloads as a replica). */
function withStandbyReload(c: Cycle, d: Decision, sc: StandbyClusterSettings): Decision {
  const { obs, ctx, view } = c;
  if (!obs.reloadRequested || !obs.pg.running || !obs.pg.queryable || obs.pg.role !== "replica") return d;
  const disruptive = d.actions.some((a) =>
    a.type === "start_job" || a.type === "demote" || a.type === "promote" || a.type === "release_leader"
  );
  if (disruptive) return d;
  const upstream = standbyUpstreamFor(view, ctx, sc);
  const force = obs.reloadRequested === "forced";
  return { ...d, actions: [...d.actions, { type: "reload", role: "replica", upstream, force }] };
}

/** Maintenance mode: the standby leader keeps its key while Postgres runs in recovery (Patroni's paused standby). */
export function pausedStandbyLeader(c: Cycle): Decision | null {
  const sc = standbySection(c.ctx);
  const pg = c.obs.pg;
  if (!sc || !c.holdsLock || !pg.running || !pg.queryable || pg.role !== "replica") return null;
  const actions: Action[] = [{ type: "renew_leader" }];
  if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
  return noChange(c.mem, `no action. I am (${c.ctx.name}), the standby leader with the lock`, actions);
}

/**
 * The `on_role_change` callback of a standby cluster, as Patroni calls it: with `standby_leader` when this member
 * becomes the standby leader (it takes the key without a Postgres job, so no job reports it), and with `replica`
 * when a standby leader goes back to following another member with its Postgres running. Null while a job runs
 * (its own callback reports it), before the first role is known, and after a switchover's demotion stopped
 * Postgres: the start that follows reports `on_role_change replica`, as Patroni's demotion does.
 */
export function standbyRoleCallback(
  lastRole: string | null,
  role: MemberRole,
  jobBusy: boolean,
  pgRunning: boolean,
): CallbackCall | null {
  if (jobBusy || lastRole === null || lastRole === role) return null;
  if (role === "standby_leader") return { action: "on_role_change", role: "standby_leader" };
  if (lastRole === "standby_leader" && role === "replica" && pgRunning) {
    return { action: "on_role_change", role: "replica" };
  }
  return null;
}
