/**
 * The HA core: `decide(observation, memory, context) -> { actions, memory, reason }`.
 *
 * Pure and deterministic. It reads one cycle's observation (DCS view or "unreachable since", local Postgres,
 * the running job, peers' statuses during a leader race, the clock) and returns the ordered actions the shell
 * executes plus the one sentence that is the cycle's log line. No I/O, no clock, no randomness here.
 *
 * Ordering contract (see src/core/types.ts `Action`): the executor stops at the first failed action, and `promote`
 * is only ever planned right after `acquire_leader` or `renew_leader` in the same plan, so a promotion happens only
 * while this member holds the lock it took or verified in this very cycle.
 *
 * Imports: types only.
 *
 * @module
 */
import type {
  Action,
  ClusterView,
  Decision,
  DynamicSettings,
  HistoryEntry,
  Member,
  Memory,
  Observation,
  PgObservation,
  Tags,
  Upstream,
} from "./types.ts";
import { slotNameFor } from "./slots.ts";
import { leaderStep, raceStep } from "./switchover.ts";
import { restartStep } from "./restart.ts";

/** What decide needs to know about this member besides the observation. */
export interface HaContext {
  name: string;
  tags: Tags;
  dynamic: DynamicSettings;
  /** `postgresql.remove_data_directory_on_rewind_failure`: re-clone when pg_rewind fails. */
  removeDataOnRewindFailure?: boolean;
  /**
   * `postgresql.remove_data_directory_on_diverged_timelines`: without pg_rewind, re-clone a former primary rather
   * than start it on a history the new leader may not share.
   */
  removeDataOnDivergedTimelines?: boolean;
  /** The `bootstrap.dcs` object written into `config` by the member that bootstraps the cluster. */
  bootstrapDcs: Record<string, unknown>;
}

/** A sysid written into `initialize` is valid when it has at least 10 digits (as Patroni checks). */
export function isValidSysid(value: string | null | undefined): value is string {
  return typeof value === "string" && /^[0-9]{10,}$/.test(value);
}

/** Patroni's tag semantics: an explicit `nofailover` wins; otherwise `failover_priority <= 0` means nofailover. */
export function isNoFailover(tags: Tags): boolean {
  if (typeof tags.nofailover === "boolean") return tags.nofailover;
  return typeof tags.failover_priority === "number" && tags.failover_priority <= 0;
}

/** `failover_priority` with Patroni's default of 1 (0 when nofailover). */
export function failoverPriority(tags: Tags): number {
  if (tags.nofailover === true) return 0;
  return typeof tags.failover_priority === "number" ? tags.failover_priority : 1;
}

/** The upstream a replica should stream from: the `replicatefrom` member if it exists, else the leader. */
export function upstreamFor(view: ClusterView, me: string, tags: Tags): Upstream | null {
  if (tags.nostream === true || !view.leader || view.leader.name === me) return null;
  const byName = (n: string): Member | undefined => view.members.find((m) => m.name === n);
  const preferred = typeof tags.replicatefrom === "string" && tags.replicatefrom !== me
    ? byName(tags.replicatefrom)
    : undefined;
  const target = preferred ?? byName(view.leader.name);
  if (!target || !target.data.conn_url) return null;
  return { name: target.name, connUrl: target.data.conn_url };
}

/**
 * The physical slots the primary keeps: one per other member that streams (not `nostream`), and for members that
 * left less than `member_slots_ttl` ago (from `seen`), so a member coming back finds its slot.
 */
export function memberSlotsWanted(
  view: ClusterView,
  me: string,
  seen: Record<string, number> = {},
): string[] {
  const names = new Set(view.members.filter((m) => m.data.tags?.nostream !== true).map((m) => m.name));
  for (const name of Object.keys(seen)) if (!view.members.some((m) => m.name === name)) names.add(name);
  names.delete(me);
  return [...names].map(slotNameFor).sort();
}

/** `membersSeen` updated with this view's members, forgetting those gone for longer than `ttlMs`. */
export function updateMembersSeen(
  seen: Record<string, number>,
  view: ClusterView,
  now: number,
  ttlMs: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, at] of Object.entries(seen)) if (now - at <= ttlMs) out[name] = at;
  for (const m of view.members) out[m.name] = now;
  return out;
}

/** The Postgres state string to publish in `members/<name>` and `GET /patroni`. */
export function postgresStateName(obs: Observation): string {
  const job = obs.job;
  if (job?.status === "running") {
    switch (job.kind) {
      case "bootstrap":
        return "initializing new cluster";
      case "clone":
        return "creating replica";
      case "start":
        return "starting";
      case "stop":
        return "stopping";
      case "restart":
        return "restarting";
      case "promote":
        return obs.pg.running ? "running" : "starting";
    }
  }
  if (job?.status === "failed") {
    if (job.kind === "bootstrap") return "initdb failed";
    if (job.kind === "start") return "start failed";
  }
  if (obs.pg.running) return obs.pg.queryable ? "running" : "starting";
  return "stopped";
}

/** The member role to publish: what Postgres is, or `uninitialized` without a data directory. */
export function memberRole(
  obs: Observation,
  holdsLock: boolean,
): "primary" | "replica" | "uninitialized" | "demoted" {
  if (obs.pg.dataDir !== "initialized") return "uninitialized";
  if (obs.pg.running && obs.pg.role) return obs.pg.role;
  if (!obs.pg.standbySignal && holdsLock) return "primary";
  return obs.pg.standbySignal ? "replica" : "demoted";
}

/** A running Postgres that is a primary, or whose role is unknown and that has no standby.signal. */
function mayBeWritable(pg: PgObservation): boolean {
  return pg.running && (pg.role === "primary" || (pg.role === null && !pg.standbySignal));
}

const NO_CHANGE = (memory: Memory, reason: string, actions: Action[] = []): Decision => ({
  actions,
  memory,
  reason,
});

/** One HA cycle's decision. */
export function decide(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  if (ctx.dynamic.pause) {
    const d = decidePaused(obs, memory, ctx);
    return { ...d, reason: `PAUSE: ${d.reason}` };
  }
  if (obs.dcs.kind === "unreachable") return decideDcsUnreachable(obs, memory);
  const view = obs.dcs.cluster;
  const me = ctx.name;
  const holdsLock = view.leader?.name === me;
  const downSince = primaryDownSince(obs, memory, holdsLock);
  const mem: Memory = {
    ...memory,
    isLeader: holdsLock,
    primaryDownSince: downSince,
    membersSeen: updateMembersSeen(memory.membersSeen, view, obs.now, ctx.dynamic.memberSlotsTtl * 1000),
  };
  // A restart's `timeout` stands in for primary_start_timeout until Postgres is up again.
  if (downSince === null && mem.startTimeout !== undefined) delete mem.startTimeout;

  // A job in flight (start, restart...) is never answered by releasing the key beside it: `demote` would find no
  // postmaster yet and return at once, and the job would then start Postgres as a primary without the key. So
  // the primary_start_timeout and watchdog checks below wait until the job has ended.
  const job = obs.job;
  if (job?.status === "running") {
    if (holdsLock && obs.watchdogUnusable !== undefined) {
      // No renewal either: it needs a working watchdog (the executor would refuse it and retry at once). The
      // fence armed at the last renewal stops Postgres before the lease can run out.
      return NO_CHANGE(
        mem,
        `${job.description} in progress; the watchdog is required but not usable (${obs.watchdogUnusable}): ` +
          "not renewing the leader key, giving it up once the job has ended",
      );
    }
    const actions: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
    return NO_CHANGE(mem, `${job.description} in progress`, actions);
  }

  // primary_start_timeout: a leader whose Postgres does not come back (crashed and not restarting, stuck in
  // recovery, not answering) gives the lock up so that a healthy replica can take over.
  const down = mem.primaryDownSince;
  const limit = mem.startTimeout ?? ctx.dynamic.primaryStartTimeout;
  if (holdsLock && down !== null && obs.now - down > limit * 1000) {
    const { startTimeout: _, ...rest } = mem;
    return NO_CHANGE(
      { ...rest, isLeader: false, primaryDownSince: null },
      `released the leader key: postgres has not been up for ${Math.round((obs.now - down) / 1000)} s ` +
        `(${mem.startTimeout !== undefined ? "restart timeout" : "primary_start_timeout"} ${limit} s)`,
      [{ type: "demote", mode: "immediate" }, { type: "release_leader" }],
    );
  }

  // watchdog.mode required: without a working watchdog this member may not hold the key (Patroni demotes a
  // primary whose watchdog cannot be activated, and a replica that just took the key gives it back).
  const wd = obs.watchdogUnusable;
  if (holdsLock && wd !== undefined) {
    const writable = mayBeWritable(obs.pg);
    return NO_CHANGE(
      { ...mem, isLeader: false, primaryDownSince: null },
      writable
        ? `demoting self because the watchdog is required but not usable: ${wd}`
        : `released the leader key because the watchdog is required but not usable: ${wd}`,
      writable
        ? [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]
        : [{ type: "release_leader" }],
    );
  }

  if (obs.reinitRequested && !holdsLock && view.leader) {
    const upstream = upstreamFor(view, me, ctx.tags);
    if (upstream) {
      return NO_CHANGE(
        { ...mem, rewindFailed: false },
        `reinitializing: removing the data directory and cloning from '${upstream.name}'`,
        [{ type: "demote", mode: "immediate" }, { type: "start_job", job: { kind: "clone", upstream } }],
      );
    }
  }
  if (job?.kind === "bootstrap") return decideAfterBootstrap(obs, mem, ctx, view);

  const pg = obs.pg;
  if (pg.dataDir === "inaccessible") {
    const actions: Action[] = holdsLock ? [{ type: "release_leader" }] : [];
    return NO_CHANGE(mem, "data directory is not accessible", actions);
  }
  if (pg.dataDir === "empty") return decideWithoutData(obs, mem, ctx, view);

  if (isValidSysid(view.initialize) && pg.sysid && view.initialize !== pg.sysid) {
    const actions: Action[] = holdsLock ? [{ type: "release_leader" }] : [];
    return {
      ...NO_CHANGE(
        mem,
        `data directory belongs to another cluster: system ID ${pg.sysid} differs from the cluster's ${view.initialize}; refusing to join`,
        actions,
      ),
      fatal:
        `system ID mismatch, node ${ctx.name} belongs to a different cluster: ${view.initialize} != ${pg.sysid}`,
    };
  }

  if (!pg.running) return decideStartPostgres(obs, mem, ctx, view, holdsLock);
  if (!pg.queryable) {
    // Without an answer we cannot tell its role; without standby.signal it may be a writable primary. If someone
    // else holds the lock, it must not stay up.
    if (view.leader && !holdsLock && !pg.standbySignal) {
      return NO_CHANGE(
        mem,
        `demoting self because postgres does not answer, may be a primary, and '${view.leader.name}' has the lock`,
        [{ type: "demote", mode: "immediate" }],
      );
    }
    const actions: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
    return NO_CHANGE(mem, "postgres is running but not accepting connections yet", actions);
  }

  const restart = restartStep(
    obs.restart,
    pg,
    holdsLock ? "primary" : "replica",
    obs.wallNow,
    ctx.dynamic.loopWait,
  );
  const restartable = holdsLock ? pg.role === "primary" : pg.role === "replica";
  if (restart.kind === "restart" && restartable) {
    return planRestart(obs, mem, ctx, view, holdsLock, restart.reason);
  }

  let d: Decision;
  if (!view.leader) d = decideLeaderRace(obs, mem, ctx, view);
  else if (holdsLock) d = decideAsLeader(obs, mem, ctx, view);
  else d = decideAsReplica(obs, mem, ctx, view);
  if (restart.kind === "drop") {
    d = {
      ...d,
      actions: [{ type: "drop_restart", reason: restart.reason }, ...d.actions],
      reason: `${d.reason}; ${restart.reason}`,
    };
  }
  return withReload(obs, ctx, view, holdsLock, d);
}

/**
 * A restart in place: the leader renews its key first and keeps it while its Postgres restarts (no one else may
 * take over meanwhile: the key stays ours and the loop keeps renewing it while the job runs); a replica restarts
 * following its upstream.
 */
function planRestart(
  obs: Observation,
  mem: Memory,
  ctx: HaContext,
  view: ClusterView,
  holdsLock: boolean,
  reason: string,
): Decision {
  const role = holdsLock ? "primary" : "replica";
  const upstream = holdsLock ? null : upstreamFor(view, ctx.name, ctx.tags);
  const actions: Action[] = holdsLock ? [{ type: "renew_leader" }] : [];
  if (holdsLock && obs.pg.walPosition !== null) {
    actions.push({ type: "write_status", optime: obs.pg.walPosition });
  }
  actions.push({ type: "start_job", job: { kind: "restart", role, upstream } });
  const timeout = obs.restart?.conditions.timeout;
  return NO_CHANGE(
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
function withReload(
  obs: Observation,
  ctx: HaContext,
  view: ClusterView,
  holdsLock: boolean,
  d: Decision,
): Decision {
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

/** When this leader's Postgres went down, carried while it stays down; null when it is up or we do not lead. */
function primaryDownSince(obs: Observation, memory: Memory, holdsLock: boolean): number | null {
  const up = obs.pg.running && obs.pg.queryable && obs.pg.role === "primary";
  if (!holdsLock || up || obs.pg.dataDir !== "initialized") return null;
  return memory.primaryDownSince ?? obs.now;
}

/**
 * Maintenance mode (`pause: true` in the dynamic config): no automatic action on Postgres. The leader keeps its
 * key while its Postgres runs as primary; a running primary without the key takes it when nobody holds it; nobody
 * races, promotes, demotes, starts, stops, bootstraps or clones; replicas keep following the leader.
 */
function decidePaused(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  const mem: Memory = { ...memory, primaryDownSince: null };
  if (obs.dcs.kind === "unreachable") return NO_CHANGE({ ...mem, isLeader: false }, "DCS is not accessible");
  const view = obs.dcs.cluster;
  const holdsLock = view.leader?.name === ctx.name;
  mem.isLeader = holdsLock;
  const pg = obs.pg;
  if (obs.job?.status === "running") {
    return NO_CHANGE(mem, `${obs.job.description} in progress`, holdsLock ? [{ type: "renew_leader" }] : []);
  }
  // Maintenance mode runs a restart asked for now (an operator's explicit act), never a scheduled one.
  const restartable = pg.running && pg.queryable &&
    (holdsLock ? pg.role === "primary" : pg.role === "replica");
  if (obs.restart?.at === null && restartable && pg.dataDir === "initialized") {
    return planRestart(obs, mem, ctx, view, holdsLock, "restarting postgres on request");
  }
  return withReload(obs, ctx, view, holdsLock, decidePausedRest(obs, mem, ctx, view, holdsLock));
}

function decidePausedRest(
  obs: Observation,
  mem: Memory,
  ctx: HaContext,
  view: ClusterView,
  holdsLock: boolean,
): Decision {
  const pg = obs.pg;
  const isPrimary = pg.running && pg.queryable && pg.role === "primary";
  if (pg.dataDir !== "initialized") {
    return NO_CHANGE(
      { ...mem, isLeader: false },
      "running with empty data directory",
      holdsLock ? [{ type: "release_leader" }] : [],
    );
  }
  if (holdsLock) {
    if (!isPrimary) {
      return NO_CHANGE(
        { ...mem, isLeader: false },
        "removed the leader key: postgres is not running as primary",
        [{ type: "release_leader" }],
      );
    }
    const actions: Action[] = [{ type: "renew_leader" }];
    if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
    return NO_CHANGE(mem, `no action. I am (${ctx.name}), the leader with the lock`, actions);
  }
  if (!pg.running) return NO_CHANGE(mem, "postgres is not running");
  if (isPrimary) {
    if (!view.leader && (!isValidSysid(view.initialize) || view.initialize === pg.sysid)) {
      return NO_CHANGE(mem, "acquired session lock as a leader", [{ type: "acquire_leader" }]);
    }
    return NO_CHANGE(mem, "continue to run as primary without lock");
  }
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  if (!upstream) return NO_CHANGE(mem, `no action. I am (${ctx.name}), a secondary, and there is no leader`);
  return NO_CHANGE(
    mem,
    `no action. I am (${ctx.name}), a secondary, and following a leader (${upstream.name})`,
    [{ type: "follow", upstream }],
  );
}

/**
 * etcd is out of reach: a primary with streaming replicas stops with a fast shutdown (Patroni's "offline"
 * demotion), which refuses new writes at once and sends the WAL up to the shutdown checkpoint to every streaming
 * replica, so whichever replica is promoted later holds every acknowledged write. If an unreachable replica holds
 * the shutdown up, the server accepts nothing meanwhile and the fence deadline stops it (immediate). Without a
 * streaming replica (or when Postgres does not answer) the stop is immediate: a shutdown checkpoint no replica
 * receives would only make this server's history diverge from the next leader's.
 */
export function offlineStopMode(pg: PgObservation): "fast" | "immediate" {
  return pg.queryable && pg.replication.some((r) => r.state === "streaming") ? "fast" : "immediate";
}

function decideDcsUnreachable(obs: Observation, memory: Memory): Decision {
  const mem: Memory = { ...memory, isLeader: false };
  if (mayBeWritable(obs.pg)) {
    return NO_CHANGE(
      mem,
      "demoting self because DCS is not accessible and I was a leader",
      [{ type: "demote", mode: offlineStopMode(obs.pg) }],
    );
  }
  return NO_CHANGE(mem, `DCS is not accessible: ${obs.dcs.kind === "unreachable" ? obs.dcs.error : ""}`);
}

function decideAfterBootstrap(obs: Observation, mem: Memory, ctx: HaContext, view: ClusterView): Decision {
  const job = obs.job!;
  if (job.status === "failed") {
    return NO_CHANGE(
      mem,
      `bootstrap failed (${
        job.error ?? "unknown error"
      }); removed the initialize key so the race can run again`,
      [{ type: "cancel_initialize" }],
    );
  }
  const pg = obs.pg;
  if (!pg.running || !pg.queryable || pg.role !== "primary" || !pg.sysid) {
    return NO_CHANGE(
      mem,
      "bootstrap finished but postgres is not running as primary; removed the initialize key",
      [{ type: "cancel_initialize" }],
    );
  }
  if (obs.watchdogUnusable !== undefined) {
    return NO_CHANGE(
      mem,
      `bootstrap finished but the watchdog is required and not usable (${obs.watchdogUnusable}); stopped ` +
        "postgres and removed the initialize key",
      [{ type: "demote", mode: "immediate" }, { type: "cancel_initialize" }],
    );
  }
  const actions: Action[] = [{ type: "write_initialize", sysid: pg.sysid }];
  if (!view.config) actions.push({ type: "write_config", value: ctx.bootstrapDcs });
  actions.push({ type: "acquire_leader" });
  if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
  return NO_CHANGE(mem, `initialized a new cluster`, actions);
}

function decideWithoutData(obs: Observation, mem: Memory, ctx: HaContext, view: ClusterView): Decision {
  const actions: Action[] = [];
  const holdsLock = view.leader?.name === ctx.name;
  if (obs.pg.running) {
    // The key goes only after the stop succeeded (the plan stops at a failed demote), never before it.
    return NO_CHANGE(
      mem,
      "postgres runs without a data directory; stopping it",
      holdsLock
        ? [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]
        : [{ type: "start_job", job: { kind: "stop", mode: "immediate" } }],
    );
  }
  if (holdsLock) actions.push({ type: "release_leader" });
  const upstream = view.leader ? upstreamFor(view, ctx.name, ctx.tags) : null;
  if (view.leader && view.leader.name !== ctx.name) {
    if (!upstream) return NO_CHANGE(mem, `waiting for leader '${view.leader.name}' to publish its address`);
    actions.push({ type: "start_job", job: { kind: "clone", upstream } });
    return NO_CHANGE(mem, `trying to bootstrap from leader '${upstream.name}'`, actions);
  }
  if (view.initialize === null && !isNoFailover(ctx.tags)) {
    if (obs.watchdogUnusable !== undefined) {
      return NO_CHANGE(
        mem,
        `not bootstrapping a new cluster because the watchdog is required but not usable: ${obs.watchdogUnusable}`,
        actions,
      );
    }
    actions.push({ type: "acquire_initialize" }, { type: "start_job", job: { kind: "bootstrap" } });
    return NO_CHANGE(mem, "trying to bootstrap a new cluster", actions);
  }
  return NO_CHANGE(mem, "waiting for leader to bootstrap", actions);
}

function decideStartPostgres(
  obs: Observation,
  mem: Memory,
  ctx: HaContext,
  view: ClusterView,
  holdsLock: boolean,
): Decision {
  const pg = obs.pg;
  if (holdsLock) {
    if (!pg.standbySignal) {
      return NO_CHANGE(mem, "starting primary after failure", [
        { type: "renew_leader" },
        { type: "start_job", job: { kind: "start", role: "primary", upstream: null } },
      ]);
    }
    return NO_CHANGE(mem, "starting as readonly because I had the session lock", [
      { type: "renew_leader" },
      { type: "start_job", job: { kind: "start", role: "replica", upstream: null } },
    ]);
  }
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  const rewound = obs.job?.kind === "rewind" ? obs.job : null;
  if (rewound?.status === "failed" && rewound.retryable) {
    // pg_rewind never ran (its source did not answer, e.g. the new leader was restarting): nothing to give up on.
    return NO_CHANGE(
      { ...mem, rewindFailed: false },
      `pg_rewind could not start (${rewound.error ?? "?"}); retrying at the next cycle`,
    );
  }
  if (rewound?.status === "failed") {
    if (ctx.removeDataOnRewindFailure && upstream) {
      return NO_CHANGE(
        mem,
        `pg_rewind failed (${rewound.error ?? "?"}); reinitializing from '${upstream.name}'`,
        [
          { type: "start_job", job: { kind: "clone", upstream } },
        ],
      );
    }
    return NO_CHANGE(
      { ...mem, rewindFailed: true },
      `pg_rewind failed (${rewound.error ?? "?"}); not starting postgres: run 'hactl reinit' or set ` +
        "remove_data_directory_on_rewind_failure",
    );
  }
  if (mem.rewindFailed && !rewound) {
    return NO_CHANGE(mem, "not starting postgres after a failed pg_rewind: run 'hactl reinit'");
  }
  // A stopped former primary (no standby.signal) may hold WAL the new leader never had: let pg_rewind look
  // (it does nothing when the histories did not diverge) before it starts as a replica.
  if (upstream && !pg.standbySignal && ctx.dynamic.usePgRewind && rewound?.status !== "ok") {
    return NO_CHANGE(mem, `running pg_rewind from '${upstream.name}' before following it`, [
      { type: "start_job", job: { kind: "rewind", upstream } },
    ]);
  }
  // Without pg_rewind there is no telling whether its WAL went past the new leader's switch point: when allowed,
  // clone afresh instead (conservative: also when it had not diverged).
  if (upstream && !pg.standbySignal && !ctx.dynamic.usePgRewind && ctx.removeDataOnDivergedTimelines) {
    return NO_CHANGE(mem, `reinitializing a former primary from '${upstream.name}' (no pg_rewind)`, [
      { type: "start_job", job: { kind: "clone", upstream } },
    ]);
  }
  const reason = upstream
    ? `starting as a secondary following '${upstream.name}'`
    : "starting as a secondary";
  return NO_CHANGE({ ...mem, rewindFailed: false }, reason, [
    { type: "start_job", job: { kind: "start", role: "replica", upstream } },
  ]);
}

function decideAsLeader(obs: Observation, mem: Memory, ctx: HaContext, view: ClusterView): Decision {
  const pg = obs.pg;
  const actions: Action[] = [{ type: "renew_leader" }];
  if (pg.sysid && !isValidSysid(view.initialize)) actions.push({ type: "write_initialize", sysid: pg.sysid });
  if (!view.config) actions.push({ type: "write_config", value: ctx.bootstrapDcs });
  if (pg.role === "replica") {
    actions.push({ type: "promote" });
    return NO_CHANGE(mem, "promoted self to leader because I had the session lock", actions);
  }
  if (pg.walPosition !== null) actions.push({ type: "write_status", optime: pg.walPosition });
  const step = leaderStep(view, ctx.name, obs.wallNow, ctx.dynamic.loopWait);
  if (step.kind === "handover") {
    // Stop cleanly first: a fast shutdown sends every WAL record up to the shutdown checkpoint to the streaming
    // replicas, so the candidate has every acknowledged transaction before the key is released.
    actions.push({ type: "demote", mode: "fast" }, { type: "release_leader" });
    return NO_CHANGE({ ...mem, isLeader: false }, step.reason, actions);
  }
  const history = historyToPublish(view, pg, obs.wallNow, ctx.name);
  if (history) actions.push({ type: "write_history", history });
  if (ctx.dynamic.useSlots) {
    actions.push({ type: "sync_slots", slots: memberSlotsWanted(view, ctx.name, mem.membersSeen) });
  }
  let reason = `no action. I am (${ctx.name}), the leader with the lock`;
  if (step.kind === "wait") reason += `; ${step.reason}`;
  if (step.kind === "clear") {
    actions.push({ type: "clear_failover", modRevision: view.failover!.modRevision });
    reason += `; cleared the failover key: ${step.reason}`;
  }
  return NO_CHANGE(mem, reason, actions);
}

function decideAsReplica(obs: Observation, mem: Memory, ctx: HaContext, view: ClusterView): Decision {
  const leader = view.leader!.name;
  if (obs.pg.role === "primary") {
    return NO_CHANGE(
      mem,
      `demoting self because I do not have the lock and I was a leader (leader is '${leader}')`,
      [
        { type: "demote", mode: "immediate" },
      ],
    );
  }
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  if (!upstream) {
    return NO_CHANGE(mem, `no action. I am (${ctx.name}), a secondary, and the leader is (${leader})`);
  }
  return NO_CHANGE(
    mem,
    `no action. I am (${ctx.name}), a secondary, and following a leader (${leader})`,
    [{ type: "follow", upstream }],
  );
}

/** The leader key is absent: take it if this member is the healthiest, else wait for the winner. */
function decideLeaderRace(obs: Observation, mem: Memory, ctx: HaContext, view: ClusterView): Decision {
  const pg = obs.pg;
  if (obs.watchdogUnusable !== undefined) {
    if (pg.role === "primary") {
      return NO_CHANGE(
        mem,
        `demoting self because the watchdog is required but not usable: ${obs.watchdogUnusable}`,
        [{ type: "demote", mode: "immediate" }],
      );
    }
    return NO_CHANGE(
      mem,
      `not taking the leader key because the watchdog is required but not usable: ${obs.watchdogUnusable}`,
    );
  }
  if (pg.role === "primary") {
    // A primary without the lock (e.g. an agent restart) may take the lock back only if no one moved on.
    if (clusterTimeline(view) > (pg.timeline ?? 0)) {
      return NO_CHANGE(mem, "demoting self because the cluster moved to a newer timeline", [
        { type: "demote", mode: "immediate" },
      ]);
    }
    return NO_CHANGE(mem, "acquired session lock as a leader", [
      { type: "acquire_leader" },
      ...(pg.walPosition !== null ? [{ type: "write_status" as const, optime: pg.walPosition }] : []),
    ]);
  }
  const step = raceStep(view, ctx.name, obs.peers);
  if (step.kind === "defer") return NO_CHANGE(mem, step.reason);
  if (step.kind === "take") {
    return NO_CHANGE(mem, `promoted self to leader by acquiring session lock: ${step.reason}`, [
      { type: "acquire_leader" },
      { type: "promote" },
      { type: "clear_failover", modRevision: view.failover!.modRevision },
    ]);
  }
  const verdict = healthiestVerdict(obs, ctx, view);
  if (verdict !== null) {
    return NO_CHANGE(mem, `following a different leader because I am not the healthiest node: ${verdict}`);
  }
  const actions: Action[] = [{ type: "acquire_leader" }, { type: "promote" }];
  // A switchover without a named candidate is over once someone takes the lock.
  if (view.failover) actions.push({ type: "clear_failover", modRevision: view.failover.modRevision });
  return NO_CHANGE(mem, "promoted self to leader by acquiring session lock", actions);
}

/**
 * The `history` value the leader should publish when its timeline T is newer than the cluster's: the entries
 * already in the key (or, for a cluster adopted without one, the earlier lines of the timeline history file), then
 * `[T-1, switch_lsn, reason, now, me]` for the switch into T (Patroni's 5-field form). The first field is T-1 even
 * when Postgres branched from an older parent (a timeline number skipped because another member had used it), so
 * the cluster's timeline, last entry + 1, is T. Null when there is nothing to publish.
 */
export function historyToPublish(
  view: ClusterView,
  pg: PgObservation,
  wallNow: number,
  me: string,
): HistoryEntry[] | null {
  const last = pg.timelineHistory.at(-1);
  if (pg.timeline === null || pg.timeline <= clusterTimeline(view) || !last) return null;
  const known = (view.history ?? []).filter((e) => e[0] < pg.timeline! - 1);
  const earlier: HistoryEntry[] = known.length > 0
    ? known
    : pg.timelineHistory.slice(0, -1).map((s): HistoryEntry => [s.timeline, s.switchLsn, s.reason]);
  const stamp = new Date(wallNow).toISOString().replace("Z", "+00:00");
  return [...earlier, [pg.timeline - 1, last.switchLsn, last.reason, stamp, me]];
}

/** The timeline the cluster is on according to `history` (newest entry + 1), or 1. */
export function clusterTimeline(view: ClusterView): number {
  return (view.history ?? []).reduce((max, e) => Math.max(max, e[0] + 1), 1);
}

/**
 * Null when this replica may take the lock; otherwise why not. Implements Patroni's `_is_healthiest_node`:
 * nofailover, lag against `/status.optime`, check_timeline, any reachable primary vetoes, a peer ahead vetoes,
 * an equal peer with a higher failover_priority vetoes.
 *
 * With a `failover` key (a manual switchover or failover whose candidate, if any, is not taking over), as
 * Patroni's `manual_failover_process_no_leader`: the lag check is skipped; the former leader named in the key
 * stands back while another member could take over, and the others race among themselves without it. (Its REST
 * status may still say "primary" for a moment after it stopped, which would otherwise veto everyone, and it
 * would win the race back.)
 */
export function healthiestVerdict(obs: Observation, ctx: HaContext, view: ClusterView): string | null {
  const pg: PgObservation = obs.pg;
  if (isNoFailover(ctx.tags)) return "I am tagged nofailover";
  const mine = pg.walPosition ?? 0;
  const optime = view.status?.optime ?? null;
  const manual = view.failover;
  if (!manual && optime !== null && optime - mine > ctx.dynamic.maximumLagOnFailover) {
    return `my WAL position ${mine} lags ${
      optime - mine
    } bytes behind the last known leader position ${optime}`;
  }
  if (ctx.dynamic.checkTimeline && (pg.timeline === null || pg.timeline < clusterTimeline(view))) {
    return `my timeline ${pg.timeline ?? "unknown"} is behind the cluster timeline ${clusterTimeline(view)}`;
  }
  const formerLeader = manual?.leader;
  if (formerLeader !== undefined && formerLeader === ctx.name) {
    const other = promotablePeer(obs, ctx, view, manual?.member);
    return other === null ? null : `I am the former leader of a manual switchover and ${other} can take over`;
  }
  for (const v of peerVerdicts(obs, ctx, formerLeader)) if (v.veto) return `member ${v.name} ${v.why}`;
  return null;
}

/**
 * A peer that could take over from the former leader of a manual switchover (Patroni's `is_failover_possible`
 * over the members other than me and the unhealthy candidate): reachable, reporting a WAL position, not
 * nofailover, watchdog not failed, not lagging behind `/status`, and (with check_timeline) not on an older timeline
 * than the cluster's. Its name, or null.
 */
function promotablePeer(
  obs: Observation,
  ctx: HaContext,
  view: ClusterView,
  candidate: string | undefined,
): string | null {
  const optime = view.status?.optime ?? null;
  const timeline = clusterTimeline(view);
  const ok = (obs.peers ?? []).find((p) =>
    p.name !== ctx.name && p.name !== candidate && p.reachable && p.walPosition !== undefined &&
    p.nofailover !== true && p.watchdogFailed !== true &&
    (optime === null || optime - p.walPosition <= ctx.dynamic.maximumLagOnFailover) &&
    (!ctx.dynamic.checkTimeline || (p.timeline !== undefined && p.timeline >= timeline))
  );
  return ok?.name ?? null;
}

/** How one peer weighed in this member's leader race. */
export interface PeerVerdict {
  name: string;
  /** True when this peer keeps this member from taking the lock. */
  veto: boolean;
  why: string;
}

/**
 * Every peer's part in the race, for the decision and for the failover record: who was not counted (unreachable,
 * nofailover, watchdog failed), who vetoed (still primary, newer timeline, ahead, equal with a higher priority),
 * and who was behind.
 */
export function peerVerdicts(obs: Observation, ctx: HaContext, formerLeader?: string): PeerVerdict[] {
  const pg = obs.pg;
  const mine = pg.walPosition ?? 0;
  const myPriority = failoverPriority(ctx.tags);
  const out: PeerVerdict[] = [];
  for (const peer of obs.peers ?? []) {
    if (peer.name === ctx.name) continue;
    const v = (veto: boolean, why: string) => out.push({ name: peer.name, veto, why });
    if (peer.name === formerLeader) v(false, "is the former leader of the manual switchover (not counted)");
    else if (!peer.reachable || peer.walPosition === undefined) v(false, "is unreachable (not counted)");
    else if (peer.nofailover === true) v(false, "is tagged nofailover (not counted)");
    else if (peer.watchdogFailed === true) v(false, "has a failed watchdog (not counted)");
    else if (peer.role === "primary") v(true, "is still running as primary");
    // WAL positions on different timelines are not comparable: a peer on a newer timeline is ahead of me...
    else if (peer.timeline !== undefined && pg.timeline !== null && peer.timeline > pg.timeline) {
      v(true, `is on a newer timeline (${peer.timeline} > ${pg.timeline})`);
    } // ...and a peer on an older timeline is behind me whatever its position says.
    else if (peer.timeline !== undefined && pg.timeline !== null && peer.timeline < pg.timeline) {
      v(false, `is on an older timeline (${peer.timeline} < ${pg.timeline})`);
    } else if (peer.walPosition > mine) v(true, `is ahead (${peer.walPosition} > ${mine})`);
    else if (peer.walPosition === mine && (peer.failoverPriority ?? 1) > myPriority) {
      v(true, "is as far as me and has a higher failover_priority");
    } else v(false, `is not ahead (${peer.walPosition} <= ${mine})`);
  }
  return out;
}
