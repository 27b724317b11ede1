/**
 * The loop shell: observe -> decide -> execute -> log -> wait, around the pure core in `ha.ts`.
 *
 * Owns the job runner (long Postgres operations run in the background so the loop keeps renewing its lease),
 * the executor (actions in order, stop at the first failure, `promote` only after a lock action succeeded in the
 * same plan), the member-key refresh at the end of each cycle, and the NodeSnapshot the REST API reads.
 *
 * It talks to the world only through the ports (`Dcs`, `PostgresPort`, `PeerClient`) and a `Clock`, so the
 * simulator runs this very code against in-memory fakes on a virtual clock.
 *
 * @module
 */
import {
  decide,
  type HaContext,
  isNoFailover,
  memberRole,
  peerVerdicts,
  postgresStateName,
} from "../core/decide.ts";
import {
  type IsolationInput,
  isolationVerdict,
  ReplicaConfirmations,
  shouldProbe,
} from "../core/isolation.ts";
import { describeRoleChange, RoleChangeRecorder } from "../core/role_change.ts";
import { JobRunner } from "./jobs.ts";
import { scheduledRestartJson, unmetCondition } from "../core/restart.ts";
import type {
  AgentLog,
  CallbackAction,
  CallbackRunner,
  Clock,
  Dcs,
  FenceChannel,
  PeerClient,
  PostgresPort,
  WatchdogPort,
} from "../core/ports.ts";

import { DcsError } from "../core/ports.ts";
import {
  type Action,
  type ClusterView,
  type Decision,
  type DynamicSettings,
  emptyPgObservation,
  HACTL_VERSION,
  INITIAL_MEMORY,
  type JobRequest,
  type MemberRecord,
  type Memory,
  type NodeSnapshot,
  type Observation,
  parseLsn,
  type PgObservation,
  type RestartConditions,
  type RestartIntent,
  type Tags,
} from "../core/types.ts";

export interface AgentDeps {
  name: string;
  scope: string;
  tags: Tags;
  /** `postgres://host:port/postgres` and `http://host:port/patroni` of this member. */
  connUrl: string;
  apiUrl: string;
  bootstrapDcs: Record<string, unknown>;
  /** Turn the `config` key (or bootstrap.dcs when absent) into settings; pure, never throws. */
  dynamicFrom(raw: Record<string, unknown> | null): DynamicSettings;
  dcs: Dcs;
  pg: PostgresPort;
  peers: PeerClient;
  clock: Clock;
  log: AgentLog;
  /** `postgresql.callbacks`; absent in the simulator. */
  callbacks?: CallbackRunner;
  /** `postgresql.remove_data_directory_on_rewind_failure`. */
  removeDataOnRewindFailure?: boolean;
  /** `postgresql.remove_data_directory_on_diverged_timelines`. */
  removeDataOnDivergedTimelines?: boolean;
  /** The fencing supervisor process (absent in the simulator and unit tests). */
  fence?: FenceChannel;
  /** The watchdog device (src/host/watchdog.ts); absent means none (`watchdog.mode: off`). */
  watchdog?: WatchdogPort;
}

/** The result of one cycle, for tests and the simulator. */
export interface CycleResult {
  observation: Observation;
  decision: Decision;
  /** Index of the first failed action, or -1 when all ran. */
  failedAt: number;
  /** The failure was etcd not answering (rather than a refused CAS or a Postgres error). */
  dcsFailed: boolean;
  error?: string;
}

/** One member's HA loop. */
export class Agent {
  #memory: Memory = { ...INITIAL_MEMORY };
  #jobs: JobRunner;
  #lastView: ClusterView | null = null;
  #dcsLastSeen = 0;
  #dcsUnreachableSince: number | null = null;
  /** The early isolation fence's inputs: replica confirmations and the last etcd success (src/core/isolation.ts). */
  #confirmations = new ReplicaConfirmations();
  #dcsLastSuccess: number | null = null;
  /** When the oldest etcd call since the last success started (null: none unanswered). */
  #dcsUnansweredSince: number | null = null;
  #isolationFencing = false;
  /** When the last successful lock action started (monotonic ms): the lease runs from no earlier than this. */
  #lastRenewal: number | null = null;
  #lockedUntil = 0;
  #cancelFence: (() => void) | null = null;
  #reinitRequested = false;
  /** A restart asked for now (the API waits for it); it goes before a scheduled one, which it leaves in place. */
  #restartNow: RestartIntent | null = null;
  #scheduledRestart: RestartIntent | null = null;
  /** The API request waiting for the restart now in progress (resolved when its job finishes). */
  #restartWaiter: ((ok: boolean) => void) | null = null;
  #reloadRequested: "config" | "forced" | null = null;
  /** The `config` key's mod revision last seen (a change asks Postgres to reload its parameters). */
  #configRevision: string | null | undefined = undefined;
  #tags: Tags;
  #roleChanges: RoleChangeRecorder;
  /** The role the callbacks last reported (null before this agent saw Postgres up). */
  #callbackRole: string | null = null;
  #lastPg: PgObservation = emptyPgObservation();
  #pgObservedAt = 0;
  #lastObservation: Observation | null = null;
  #nextRunAt = 0;
  #dynamic: DynamicSettings;
  #wakeRequested = false;
  /** Ends the loop's current wait (set while `waitUntil` waits). */
  #interruptWait: (() => void) | null = null;
  #stopped = false;
  /** The fatal condition that stopped the loop (the agent then exits 1), or null. */
  #fatal: string | null = null;
  /** Why the required watchdog is unusable, as last observed (null when usable or not required). */
  #watchdogUnusable: string | null = null;

  constructor(private readonly deps: AgentDeps) {
    this.#roleChanges = new RoleChangeRecorder(deps.name);
    this.#tags = deps.tags;
    this.#dynamic = deps.dynamicFrom(null);
    this.#jobs = new JobRunner(deps.pg, deps.clock, () => this.wake(), (req, ok) => this.jobDone(req, ok));
  }

  get dynamic(): DynamicSettings {
    return this.#dynamic;
  }

  /** Observe, decide, execute, refresh the member key. Never throws: failures are reported in the result. */
  async runCycle(): Promise<CycleResult | null> {
    let observation: Observation;
    let decision: Decision;
    try {
      observation = await this.observe();
      this.#lastObservation = observation;
      decision = decide(observation, this.#memory, this.context());
    } catch (err) {
      // An unexpected failure (a bug, or a Postgres tool that could not even be spawned): log it with its stack and
      // carry on with the next cycle. The loop must outlive it, or a detached primary would run on unguarded.
      this.deps.log.error("the HA cycle failed unexpectedly; continuing with the next cycle", {
        error: String((err as Error)?.stack ?? err),
      });
      return null;
    }
    this.#memory = decision.memory;
    if (decision.actions.some((a) => a.type === "start_job" && a.job.kind === "clone")) {
      this.#reinitRequested = false;
    }
    if (observation.dcs.kind === "ok") {
      const view = observation.dcs.cluster;
      this.#roleChanges.noteView(observation.now, view.leader?.name ?? null, view.failover !== null);
    }
    this.noteWritable(observation.pg);
    // The first time this agent sees Postgres up (an adopted server), it reports it as started.
    if (this.#callbackRole === null && observation.pg.queryable && observation.pg.role && !this.#jobs.busy) {
      this.callback("on_start", observation.pg.role);
    }
    const { failedAt, error, dcsFailed } = await this.execute(decision.actions, observation);
    if (decision.fatal !== undefined && this.#fatal === null) {
      this.#fatal = decision.fatal;
      this.deps.log.error(decision.fatal);
      this.stop();
    }
    if (this.#dynamic.pause || this.fenceNoLongerNeeded(observation, decision)) this.disarmFence();
    this.closeWatchdogWhenSafe(observation, decision, failedAt);
    // A cycle that hit a DCS error does not touch the member key: another etcd call would only spend
    // more of the lease on a store that just failed us.
    if (observation.dcs.kind === "ok" && !dcsFailed) await this.touchMember(observation);
    this.deps.log.cycle(decision.reason, {
      role: memberRole(observation, this.holdsLock()),
      leader: observation.dcs.kind === "ok" ? observation.dcs.cluster.leader?.name ?? null : null,
      lsn: observation.pg.walPosition,
      actions: decision.actions.map((a) => a.type),
      ...(failedAt >= 0 ? { failed: decision.actions[failedAt]!.type, error } : {}),
    });
    return { observation, decision, failedAt, dcsFailed, ...(error ? { error } : {}) };
  }

  /** Run cycles until `stop()`; between cycles wait `loop_wait` or until the DCS watch reports a change. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      const started = this.deps.clock.now();
      const result = await this.runCycle();
      if (this.#stopped) break;
      this.#nextRunAt = started + this.#dynamic.loopWait * 1000;
      if (result && rerunAtOnce(result)) continue;
      // A scheduled restart due before the next cycle: wake up at its time, not a loop_wait later.
      const at = this.#restartNow ? null : this.#scheduledRestart?.at;
      const due = at === null || at === undefined
        ? Infinity
        : this.deps.clock.now() + (at - this.deps.clock.wallNow());
      await this.waitUntil(Math.min(this.#nextRunAt, Math.max(due, started + 100)));
    }
  }

  private async waitUntil(deadline: number): Promise<void> {
    while (!this.#stopped && !this.#wakeRequested) {
      const left = deadline - this.deps.clock.now();
      if (left <= 0) break;
      // `wake()` aborts the wait, so a finished job (initdb, pg_basebackup) or an API request is acted on at once,
      // not when the current wait slice ends.
      const interrupt = new AbortController();
      this.#interruptWait = () => interrupt.abort();
      let woke = false;
      try {
        woke = await this.deps.dcs.waitForChange(Math.min(left, 1000), interrupt.signal);
      } catch {
        // The watch fails while etcd is away; the next cycle reports it.
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(left, 1000));
          interrupt.signal.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
        });
      } finally {
        this.#interruptWait = null;
      }
      if (woke) break;
    }
    this.#wakeRequested = false;
  }

  /** Why the loop stopped by itself (a fatal condition such as a system ID mismatch), or null. */
  get fatal(): string | null {
    return this.#fatal;
  }

  /** Stop the loop after the current cycle. */
  stop(): void {
    this.#stopped = true;
    this.wake();
  }

  /**
   * The watchdog is closed (magic `V`) in pause, and once this member does not hold the lock and its Postgres
   * cannot accept writes: it is stopped or a running standby (as observed, or because this plan stopped it), with
   * no job in flight and nothing planned that could make it a primary. While a lockless primary may still be
   * writable the device stays open without keepalives, so it fires before another member can be promoted.
   */
  private closeWatchdogWhenSafe(obs: Observation, decision: Decision, failedAt: number): void {
    const wd = this.deps.watchdog;
    if (!wd?.running) return;
    if (this.#dynamic.pause) return wd.disable("paused");
    if (this.holdsLock() || this.#jobs.busy) return;
    const pg = obs.pg;
    const stoppedNow = decision.actions.some((a, i) => a.type === "demote" && (failedAt < 0 || i < failedAt));
    const notWritable = stoppedNow || !pg.running ||
      (pg.queryable && pg.role === "replica" && pg.standbySignal);
    const mayPromote = decision.actions.some((a) =>
      a.type === "promote" || (a.type === "start_job" && a.job.kind === "start" && a.job.role === "primary")
    );
    if (notWritable && !mayPromote) wd.disable("this member is not the leader and postgres is not a primary");
  }

  /**
   * The safe point of a stop (shutdown, demotion): the postmaster got the shutdown request, accepts no new
   * connections, and no client backend is left, so no client's write can commit any more; what remains is the
   * shutdown checkpoint (and the walsenders shipping it), which may take longer than the watchdog's timeout. No
   * keepalives are sent meanwhile, so the watchdog is closed here (Patroni's `on_safepoint=watchdog.disable`),
   * even while this member still holds the key: a lease that runs out now lets another member promote next to a
   * server that can no longer take writes. A stop that hangs before its safe point keeps the watchdog open; one
   * that hangs after it is still fenced by the agent's timer (demotion) and by the fencing supervisor, whose
   * deadline stays armed until the stop has completed. A later renewal (the stop failed and this member still
   * leads) activates the watchdog again.
   */
  private closeWatchdogAtSafepoint(what: "shutdown" | "demote"): void {
    if (this.deps.watchdog?.running) {
      this.deps.watchdog.disable(`${what}: postgres no longer accepts client writes`);
    }
  }

  /** Close a pending role-change record once Postgres answers as a writable primary, and log it. */
  private noteWritable(pg: PgObservation): void {
    if (!pg.queryable || pg.role !== "primary") return;
    const record = this.#roleChanges.noteWritable(
      this.deps.clock.now(),
      this.deps.clock.wallNow(),
      pg.timeline ?? undefined,
    );
    if (record) this.deps.log.info?.(`role change: ${describeRoleChange(record)}`, { role_change: record });
  }

  /** The phase-time histogram of this member's role changes (for `GET /metrics`). */
  get roleChangeHistogram(): RoleChangeRecorder["histogram"] {
    return this.#roleChanges.histogram;
  }

  /** Callbacks for finished jobs: `on_start` (or `on_role_change` when the role differs from before), `on_stop`. */
  private jobDone(req: JobRequest, ok: boolean): void {
    if (req.kind === "restart") {
      this.restartDone(ok);
      if (ok) this.callback("on_restart", req.role);
      return;
    }
    if (!ok) return;
    if (req.kind === "bootstrap") this.callback("on_start", "primary");
    if (req.kind === "start") {
      const changed = this.#callbackRole !== null && this.#callbackRole !== req.role;
      this.callback(changed ? "on_role_change" : "on_start", req.role);
    }
    if (req.kind === "stop") this.callback("on_stop", this.#callbackRole ?? "replica");
  }

  /** A restart job ended: answer the API request waiting for it, and run `on_restart`. */
  private restartDone(ok: boolean): void {
    const waiter = this.#restartWaiter;
    this.#restartWaiter = null;
    waiter?.(ok);
  }

  private callback(action: CallbackAction, role: string): void {
    this.#callbackRole = role;
    this.deps.callbacks?.fire(action, role);
  }

  /**
   * The fence deadline: `renewal start + ttl - margin` on the monotonic clock, re-armed by every successful lock
   * action. If it passes without a newer renewal — the loop is stuck in a hung etcd call, or every renewal since
   * failed — Postgres is stopped at once (immediate) if it may be accepting writes, strictly before the lease can
   * expire and another member can promote. A timer beside the loop, so a hung cycle cannot hold it back. Not in
   * pause mode (maintenance: the primary keeps running without the DCS, as Patroni's pause promises). A process
   * that is frozen as a whole (SIGSTOP) or killed cannot fence itself: that is the watchdog's and the fencing
   * supervisor's job.
   */
  private armFence(renewalStart: number): void {
    this.#cancelFence?.();
    const margin = fenceMarginMs(this.#dynamic.ttl);
    const deadline = renewalStart + this.#dynamic.ttl * 1000 - margin;
    const now = this.deps.clock.now();
    this.#cancelFence = this.deps.clock.after(deadline - now, () => {
      this.#cancelFence = null;
      void this.fire(deadline);
    });
    // The supervisor process backs this timer up when the whole agent is frozen or killed: half a margin later,
    // still before the lease can expire.
    this.deps.fence?.arm(Math.max(0, Math.round(deadline + margin / 2 - now)));
  }

  private disarmFence(): void {
    if (this.#cancelFence === null) return;
    this.#cancelFence();
    this.#cancelFence = null;
    this.deps.fence?.disarm();
  }

  /**
   * The fence can be disarmed once a cycle saw Postgres unable to accept writes (stopped, or a running standby)
   * with no job in flight and without holding the lock, and planned nothing that could make it a primary again.
   */
  private fenceNoLongerNeeded(obs: Observation, decision: Decision): boolean {
    if (this.#cancelFence === null || this.holdsLock() || this.#jobs.busy || obs.job?.status === "running") {
      return false;
    }
    const pg = obs.pg;
    const notWritable = !pg.running || (pg.queryable && pg.role === "replica" && pg.standbySignal);
    const mayPromote = decision.actions.some((a) =>
      a.type === "promote" || (a.type === "start_job" && a.job.kind === "start" && a.job.role === "primary")
    );
    return notWritable && !mayPromote;
  }

  private async fire(deadline: number): Promise<void> {
    const renewedSince = this.#lastRenewal !== null &&
      this.#lastRenewal + this.#dynamic.ttl * 1000 - fenceMarginMs(this.#dynamic.ttl) > deadline;
    // No look at Postgres here: what the loop last saw may be stale (a start job may have brought it up as a
    // primary since). Stopping a server that was not writable costs a restart; not stopping a writable one costs
    // a split brain.
    if (this.#stopped || renewedSince || this.#dynamic.pause) return;
    this.#lockedUntil = 0;
    this.deps.log.error("fence deadline passed without a lease renewal; stopping postgres (immediate)", {
      fence: "agent timer",
      watchdog: this.deps.watchdog?.running ? "open; fires unless postgres stops and it is closed" : "none",
      lastRenewalAgoMs: this.#lastRenewal === null
        ? null
        : Math.round(this.deps.clock.now() - this.#lastRenewal),
    });
    try {
      await this.deps.pg.stop("immediate");
      // Postgres is down, so the watchdog has nothing left to guard (Patroni closes it at the demotion's safepoint).
      if (!this.holdsLock()) this.deps.watchdog?.disable("the fence stopped postgres");
    } catch (err) {
      this.deps.log.error("the fence could not stop postgres", { error: String(err) });
    }
    this.wake();
  }

  /** Wake the loop now (a job finished, an API request). */
  wake(): void {
    this.#wakeRequested = true;
    this.#interruptWait?.();
  }

  /**
   * `POST /reinitialize` / `hactl reinit`: throw this member's data away and clone it again from the leader at
   * the next cycle. Returns why not (Patroni's messages), or null when it was accepted.
   */
  requestReinit(force: boolean): string | null {
    if (this.holdsLock()) return "I am the leader, can not reinitialize";
    if (this.#jobs.busy && !force) {
      return `${this.#jobs.peek()?.description ?? "an operation"} already in progress`;
    }
    this.#reinitRequested = true;
    this.wake();
    return null;
  }

  /** The tags in effect (`tags:` of the local configuration, replaced by a reload). */
  get tags(): Tags {
    return this.#tags;
  }

  /** A reloaded local configuration's tags (published in the member key at the next cycle). */
  setTags(tags: Tags): void {
    this.#tags = tags;
    this.wake();
  }

  /** A reloaded local configuration's callbacks. */
  setCallbacks(callbacks: CallbackRunner | undefined): void {
    this.deps.callbacks = callbacks;
  }

  /**
   * Ask the loop to re-read Postgres's configuration: `forced` (`POST /reload`, SIGHUP) reloads Postgres even when
   * its files did not change; `config` only when they did.
   */
  requestReload(kind: "config" | "forced"): void {
    if (this.#reloadRequested !== "forced") this.#reloadRequested = kind;
    this.wake();
  }

  /**
   * `POST /restart` without `schedule`: restart Postgres now in its role (the leader keeps its key) and resolve when
   * it is up again. Patroni's answers: 200 `restarted successfully`, 503 with the reason otherwise.
   */
  async restartNow(conditions: RestartConditions, waitMs: number): Promise<{ status: number; body: string }> {
    if (this.#jobs.busy) {
      return { status: 503, body: `${this.#jobs.peek()?.description ?? "restart"} already in progress` };
    }
    if (this.#restartWaiter || this.#restartNow) {
      return { status: 503, body: "restart already in progress" };
    }
    const snap = this.snapshot();
    if (!snap.pg.running || !snap.pg.queryable) return { status: 503, body: "postgres is still starting" };
    const unmet = unmetCondition(conditions, {
      role: snap.role,
      serverVersion: snap.pg.serverVersion,
      pendingRestart: snap.pg.pendingRestart,
    });
    if (unmet !== null) {
      this.deps.log.info?.(`restart conditions are not satisfied: ${unmet}`);
      return { status: 503, body: "restart conditions are not satisfied" };
    }
    const done = new Promise<boolean>((resolve) => (this.#restartWaiter = resolve));
    this.#restartNow = { at: null, conditions, postmasterStartTime: snap.pg.postmasterStartTime };
    this.wake();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), waitMs)));
    const ok = await Promise.race([done, timeout]);
    clearTimeout(timer);
    if (ok === null) {
      this.#restartNow = null;
      this.#restartWaiter = null;
      return { status: 503, body: "restart failed" };
    }
    // Answer with the snapshot already showing the new postmaster (a GET /patroni right after must not see the old).
    await this.refreshPostgresStatus().catch(() => {});
    return ok ? { status: 200, body: "restarted successfully" } : { status: 503, body: "restart failed" };
  }

  /** `POST /restart` with `schedule`: 202 `Restart scheduled`, or 409 when one is already scheduled. */
  scheduleRestart(
    conditions: RestartConditions,
    schedule: string,
    at: number,
  ): { status: number; body: string } {
    if (this.#scheduledRestart !== null) return { status: 409, body: "Another restart is already scheduled" };
    this.#scheduledRestart = {
      at,
      schedule,
      conditions,
      postmasterStartTime: this.#lastPg.postmasterStartTime,
    };
    this.wake();
    return { status: 202, body: "Restart scheduled" };
  }

  /** `DELETE /restart`: 200 `scheduled restart deleted`, or 404 `no restarts are scheduled`. */
  deleteScheduledRestart(): { status: number; body: string } {
    if (this.#scheduledRestart === null) {
      return { status: 404, body: "no restarts are scheduled" };
    }
    this.#scheduledRestart = null;
    this.wake();
    return { status: 200, body: "scheduled restart deleted" };
  }

  /** The scheduled restart as published (`scheduled_restart`), or null. */
  get scheduledRestart(): Record<string, unknown> | null {
    return this.#scheduledRestart ? scheduledRestartJson(this.#scheduledRestart) : null;
  }

  /** Wait until the running job (if any) has finished. */
  settleJobs(): Promise<void> {
    return this.#jobs.settle();
  }

  /**
   * Shutdown (SIGTERM/SIGINT), as Patroni's: stop Postgres (fast), closing the watchdog at the stop's safe point
   * (closeWatchdogAtSafepoint), then release the lock and revoke the lease. In pause, Postgres keeps running and
   * the leader key stays (its lease is left to run out, so a restarted agent can take it over); only the watchdog
   * is closed. When Postgres does not stop, the key is kept, and so is the watchdog unless the stop got past its
   * safe point: the lease runs out and the watchdog fires rather than leave a leaderless writable primary.
   * Returns whether Postgres was left as intended (stopped, or running in pause).
   */
  async shutdown(): Promise<boolean> {
    this.stop();
    this.#cancelFence?.();
    this.#cancelFence = null;
    await this.#jobs.settle();
    if (this.#dynamic.pause) {
      this.deps.log.info?.(
        "Leader key is not deleted and Postgresql is not shutdown because of 'pause' state",
      );
      this.deps.watchdog?.disable("shutdown while paused");
      this.deps.fence?.disarm();
      try {
        await this.deps.dcs.close({ keepLease: true });
      } catch { /* nothing to clean up */ }
      return true;
    }
    let stopped = false;
    try {
      const wasRunning = this.#lastPg.running;
      await this.deps.pg.stop("fast", () => this.closeWatchdogAtSafepoint("shutdown"));
      stopped = true;
      this.deps.fence?.disarm();
      this.deps.watchdog?.disable("shutdown");
      if (wasRunning) this.callback("on_stop", this.#callbackRole ?? "replica");
    } catch (err) {
      this.deps.log.error("could not stop postgres on shutdown; keeping the leader key and the watchdog", {
        error: String(err),
      });
    }
    if (stopped && this.holdsLock()) {
      try {
        await this.deps.dcs.deleteLeader();
      } catch (err) {
        this.deps.log.warn("could not release the leader key on shutdown", { error: String(err) });
      }
    }
    try {
      await this.deps.dcs.close({ keepLease: !stopped });
    } catch { /* the lease expires by itself */ }
    return stopped;
  }

  /** Refresh only the Postgres part of the snapshot (the status monitor calls this about every second). */
  async refreshPostgresStatus(): Promise<void> {
    const before = this.#lastPg;
    this.#lastPg = await this.deps.pg.observe();
    this.#pgObservedAt = this.deps.clock.now();
    this.noteWritable(this.#lastPg);
    await this.checkIsolation();
    // What the member key says about Postgres changed (it started streaming, crashed, was promoted...): run a cycle
    // now so etcd, `hactl list` and the other members learn it without waiting out loop_wait.
    if (publishedShape(before) !== publishedShape(this.#lastPg)) this.wake();
  }

  holdsLock(): boolean {
    return this.#lockedUntil > this.deps.clock.now();
  }

  /** An etcd call of the loop was answered (a failed one leaves `#dcsUnansweredSince` running). */
  private noteDcsAnswered(): void {
    this.#dcsUnansweredSince = null;
    this.#dcsLastSuccess = this.deps.clock.now();
  }

  /** What the early isolation fence looks at right now (src/core/isolation.ts). */
  private isolationInput(): IsolationInput {
    const pg = this.#lastPg;
    const candidates =
      (this.#lastView?.members ?? []).filter((m) =>
        m.name !== this.deps.name && !isNoFailover(m.data.tags ?? {})
      ).length;
    return {
      now: this.deps.clock.now(),
      timeoutMs: this.#dynamic.isolationFenceTimeout * 1000,
      pause: this.#dynamic.pause,
      writablePrimary: pg.running && pg.role === "primary",
      failoverCandidates: candidates,
      unconfirmedSince: this.#confirmations.unconfirmedSince,
      dcsLastSuccess: this.#dcsLastSuccess,
      dcsUnansweredSince: this.#dcsUnansweredSince,
    };
  }

  /**
   * The early isolation fence, checked after every status refresh (about once a second, beside the loop): a
   * primary that has heard from neither etcd nor any replica for `isolation_fence_timeout` stops Postgres
   * (immediate) at once, bounding the writes a failover elsewhere would discard; when the replicas have gone quiet,
   * it runs a cycle now, so etcd's silence is measured without waiting out loop_wait. After the fence, the ordinary
   * rules restart Postgres (as primary if the lock is still ours, else as a replica) once etcd answers again.
   */
  private async checkIsolation(): Promise<void> {
    const pg = this.#lastPg;
    if (pg.running && pg.queryable && pg.role === "primary" && pg.walPosition !== null) {
      let confirmed: number | null = null;
      for (const row of pg.replication) {
        if (!row.flush_lsn) continue;
        try {
          confirmed = Math.max(confirmed ?? 0, parseLsn(row.flush_lsn));
        } catch { /* an unreadable position confirms nothing */ }
      }
      this.#confirmations.observe({
        at: this.deps.clock.now(),
        primaryLsn: pg.walPosition,
        confirmedLsn: confirmed,
        timeline: pg.timeline,
      });
    } else this.#confirmations.reset();
    const input = this.isolationInput();
    const why = isolationVerdict(input);
    if (why === null) {
      if (shouldProbe(input)) this.wake();
      return;
    }
    if (this.#isolationFencing) return;
    this.#isolationFencing = true;
    this.deps.log.error(`isolation fence: ${why}; stopping postgres (immediate)`);
    try {
      await this.deps.pg.stop("immediate");
      this.#confirmations.reset();
    } catch (err) {
      this.deps.log.error("the isolation fence could not stop postgres", { error: String(err) });
    } finally {
      this.#isolationFencing = false;
    }
    this.wake();
  }

  /** What the REST API answers from. */
  snapshot(): NodeSnapshot {
    const obs = this.#lastObservation;
    const stateObs: Observation = obs ? { ...obs, pg: this.#lastPg } : {
      now: this.deps.clock.now(),
      wallNow: this.deps.clock.wallNow(),
      dcs: { kind: "unreachable", since: 0, error: "not yet contacted" },
      pg: this.#lastPg,
      job: null,
      peers: null,
    };
    return {
      name: this.deps.name,
      scope: this.deps.scope,
      state: postgresStateName(stateObs),
      role: memberRole(stateObs, this.holdsLock()),
      pg: this.#lastPg,
      pgObservedAt: this.#pgObservedAt,
      cluster: this.#lastView,
      dcsLastSeen: Math.floor(this.#dcsLastSeen / 1000),
      isLeader: this.holdsLock(),
      leaderExpiresAt: this.#lockedUntil,
      dynamic: this.#dynamic,
      tags: this.#tags,
      nextRunAt: this.#nextRunAt,
      watchdogFailed: this.#watchdogUnusable !== null,
      roleChanges: this.#roleChanges.records,
      ...(this.scheduledRestart ? { scheduledRestart: this.scheduledRestart } : {}),
    };
  }

  private context(): HaContext {
    return {
      name: this.deps.name,
      tags: this.#tags,
      dynamic: this.#dynamic,
      bootstrapDcs: this.deps.bootstrapDcs,
      removeDataOnRewindFailure: this.deps.removeDataOnRewindFailure ?? false,
      removeDataOnDivergedTimelines: this.deps.removeDataOnDivergedTimelines ?? false,
    };
  }

  private async observe(): Promise<Observation> {
    const { clock, dcs, pg } = this.deps;
    let dcsObs: Observation["dcs"];
    this.#dcsUnansweredSince ??= clock.now();
    try {
      await dcs.refreshLease(this.#dynamic.ttl);
      const cluster = await dcs.loadCluster();
      this.noteDcsAnswered();
      this.#lastView = cluster;
      this.#dcsLastSeen = clock.wallNow();
      this.#dcsUnreachableSince = null;
      this.#dynamic = this.deps.dynamicFrom(cluster.config?.value ?? null);
      const revision = cluster.config?.modRevision ?? null;
      if (revision !== this.#configRevision) {
        // A new dynamic configuration may carry new postgresql.parameters: rewrite and reload (when changed). The
        // first one seen (or the key's creation from bootstrap.dcs) is what Postgres was or will be started with.
        if (typeof this.#configRevision === "string" && this.#reloadRequested === null) {
          this.#reloadRequested = "config";
        }
        this.#configRevision = revision;
      }
      dcs.setRetryTimeout(this.#dynamic.retryTimeout);
      // Believe in our lock only while etcd itself names us (the API's /leader and /primary read this belief).
      if (cluster.leader?.name !== this.deps.name) this.#lockedUntil = 0;
      dcsObs = { kind: "ok", cluster };
    } catch (err) {
      if (!(err instanceof DcsError)) {
        this.noteDcsAnswered(); // not etcd's failure
        throw err;
      }
      this.#dcsUnreachableSince ??= clock.now();
      this.#lockedUntil = 0;
      dcsObs = { kind: "unreachable", since: this.#dcsUnreachableSince, error: err.message };
    }
    // The job before Postgres: a job that finishes in between is seen as running (and Postgres as it is now), never
    // as finished beside a stale picture of Postgres. A finished job is handed to decide only with a DCS view, so
    // its follow-up (publishing a bootstrap, or cancelling it) is not lost to a cycle without etcd.
    const job = dcsObs.kind === "ok" ? this.#jobs.take() : this.#jobs.peek();
    const pgObs = await pg.observe();
    this.#lastPg = pgObs;
    this.#pgObservedAt = clock.now();
    let peers: Observation["peers"] = null;
    if (
      dcsObs.kind === "ok" && !dcsObs.cluster.leader && pgObs.queryable && pgObs.role === "replica" &&
      !this.#jobs.busy
    ) {
      const others = dcsObs.cluster.members
        .filter((m) => m.name !== this.deps.name && m.data.api_url)
        .map((m) => ({ name: m.name, apiUrl: m.data.api_url }));
      peers = await this.deps.peers.fetchStatuses(others, 2000);
    }
    const unusable = this.deps.watchdog?.unusable(this.#dynamic.ttl, this.#dynamic.loopWait) ?? null;
    if (unusable !== null && this.#watchdogUnusable === null) {
      this.deps.log.warn(`the watchdog is required but not usable: ${unusable}; this member will not lead`);
    } else if (unusable === null && this.#watchdogUnusable !== null) {
      this.deps.log.info?.("the required watchdog is usable again");
    }
    this.#watchdogUnusable = unusable;
    return {
      now: clock.now(),
      wallNow: clock.wallNow(),
      dcs: dcsObs,
      pg: pgObs,
      job,
      peers,
      ...(this.#reinitRequested ? { reinitRequested: true } : {}),
      ...(this.#watchdogUnusable !== null ? { watchdogUnusable: this.#watchdogUnusable } : {}),
      ...(this.#restartNow || this.#scheduledRestart
        ? { restart: this.#restartNow ?? this.#scheduledRestart }
        : {}),
      ...(this.#reloadRequested ? { reloadRequested: this.#reloadRequested } : {}),
    };
  }

  /** Run the plan in order; stop at the first failure. */
  private async execute(
    actions: Action[],
    obs: Observation,
  ): Promise<{ failedAt: number; dcsFailed: boolean; error?: string }> {
    let lockVerified = false;
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i]!;
      const started = this.deps.clock.now();
      const lockAction = action.type === "acquire_leader" || action.type === "renew_leader";
      if (lockAction) this.#dcsUnansweredSince ??= started;
      try {
        const ok = await this.apply(action, lockVerified, obs);
        if (lockAction) this.noteDcsAnswered();
        if (action.type === "acquire_leader" || action.type === "renew_leader") {
          if (ok) {
            lockVerified = true;
            if (action.type === "acquire_leader" && actions.some((a) => a.type === "promote")) {
              const formerLeader = obs.dcs.kind === "ok" ? obs.dcs.cluster.failover?.leader : undefined;
              this.#roleChanges.noteLockTaken(
                this.deps.clock.now(),
                peerVerdicts(obs, this.context(), formerLeader),
              );
            }
            // The lease was renewed no earlier than the call started: count from there, not from its answer.
            this.#lastRenewal = started;
            this.#lockedUntil = started + this.#dynamic.ttl * 1000;
            this.armFence(started);
            // One watchdog keepalive per successful renewal (activating it first when needed). A required
            // watchdog that is not running stops the plan before any promotion; the next cycle, run at once,
            // sees it unusable and gives the key up.
            const wd = this.deps.watchdog;
            if (wd && !this.#dynamic.pause && !wd.keepalive(this.#dynamic.ttl, this.#dynamic.loopWait)) {
              return {
                failedAt: i,
                dcsFailed: false,
                error: "the watchdog is required but is not running or not usable",
              };
            }
          } else {
            this.#lockedUntil = 0;
          }
        }
        if (action.type === "release_leader" && ok) this.#lockedUntil = 0;
        if (!ok) return { failedAt: i, dcsFailed: false, error: `${action.type} was refused` };
      } catch (err) {
        if (lockAction && !(err instanceof DcsError)) this.noteDcsAnswered();
        if (action.type === "renew_leader" || action.type === "acquire_leader") this.#lockedUntil = 0;
        return {
          failedAt: i,
          dcsFailed: err instanceof DcsError,
          error: err instanceof Error ? err.message : String(err),
        };
      }
    }
    return { failedAt: -1, dcsFailed: false };
  }

  private async apply(action: Action, lockVerified: boolean, obs: Observation): Promise<boolean> {
    const { dcs, pg } = this.deps;
    switch (action.type) {
      case "acquire_initialize":
        return await dcs.initialize(true, "");
      case "write_initialize":
        return await dcs.initialize(false, action.sysid);
      case "cancel_initialize":
        await dcs.cancelInitialization();
        return true;
      case "write_config":
        return await dcs.setConfig(action.value, "0");
      case "acquire_leader":
        return await dcs.attemptToAcquireLeader();
      case "renew_leader":
        return await dcs.updateLeader();
      case "release_leader":
        return await dcs.deleteLeader();
      case "write_status":
        await dcs.writeStatus(action.optime);
        return true;
      case "write_history":
        await dcs.setHistory(action.history);
        return true;
      case "start_job":
        this.#jobs.start(action.job);
        if (action.job.kind === "restart") {
          if (this.#restartNow) this.#restartNow = null;
          else this.#scheduledRestart = null;
        }
        return true;
      case "drop_restart":
        this.#scheduledRestart = null;
        this.deps.log.info?.(action.reason);
        return true;
      case "reload": {
        const kind = this.#reloadRequested;
        const reloaded = await pg.reload(action.role, action.upstream, action.force);
        if (this.#reloadRequested === kind) this.#reloadRequested = null;
        if (reloaded) {
          this.deps.log.info?.("reloaded the postgres configuration");
          this.callback("on_reload", action.role);
        }
        return true;
      }
      case "promote":
        // The safety contract: never promote without a lock verified in this very plan.
        if (!lockVerified) {
          throw new Error("refusing to promote: the leader lock was not verified in this cycle");
        }
        await pg.promote(obs.dcs.kind === "ok" ? obs.dcs.cluster.history ?? [] : []);
        this.#roleChanges.notePromoted(this.deps.clock.now());
        this.callback("on_role_change", "primary");
        return true;
      case "demote":
        await pg.stop(action.mode, () => this.closeWatchdogAtSafepoint("demote"));
        return true;
      case "follow":
        await pg.follow(action.upstream);
        return true;
      case "sync_slots":
        await pg.syncSlots(action.slots);
        return true;
      case "clear_failover":
        return await dcs.setFailover({}, action.modRevision);
    }
  }

  private async touchMember(obs: Observation): Promise<void> {
    const pg = this.#lastPg;
    const record: MemberRecord = {
      conn_url: this.deps.connUrl,
      api_url: this.deps.apiUrl,
      state: postgresStateName({ ...obs, pg }),
      role: memberRole({ ...obs, pg }, this.holdsLock()),
      version: HACTL_VERSION,
    };
    if (pg.running && pg.walPosition !== null) record.xlog_location = pg.walPosition;
    if (pg.running && pg.role === "replica") {
      if (pg.replayLsn !== null) record.replay_lsn = pg.replayLsn;
      if (pg.receiveLsn !== null) record.receive_lsn = pg.receiveLsn;
      if (pg.replicationState) record.replication_state = pg.replicationState;
    }
    if (pg.timeline !== null) record.timeline = pg.timeline;
    const tags = publishedTags(this.#tags);
    if (Object.keys(tags).length > 0) record.tags = tags;
    if (pg.pendingRestart) record.pending_restart = true;
    if (Object.keys(pg.pendingRestartReason).length > 0) {
      record.pending_restart_reason = pg.pendingRestartReason;
    }
    const scheduled = this.scheduledRestart;
    if (scheduled) record.scheduled_restart = scheduled;
    if (this.#dynamic.pause) record.pause = true;
    try {
      await this.deps.dcs.touchMember(record);
    } catch (err) {
      this.deps.log.warn("could not update the member key", { error: String(err) });
    }
  }
}

/** How long before the lease expires the fence stops Postgres: 5 s, or a quarter of a short ttl. */
export function fenceMarginMs(ttlSeconds: number): number {
  return Math.min(5000, (ttlSeconds * 1000) / 4);
}

/**
 * Whether the loop should look again at once instead of waiting out loop_wait: a lock action failed or etcd failed
 * mid-plan (the world changed under us, or the lease is running out), or a promotion just happened (publish the new
 * timeline in `history` and `status` now, not a loop_wait later).
 */
export function rerunAtOnce(result: CycleResult): boolean {
  const failed = result.failedAt >= 0 ? result.decision.actions[result.failedAt]!.type : null;
  if (failed === "acquire_leader" || failed === "renew_leader" || result.dcsFailed) return true;
  return failed === null && result.decision.actions.some((a) => a.type === "promote");
}

/** The parts of a Postgres observation that the member key publishes, apart from WAL positions. */
function publishedShape(pg: PgObservation): string {
  return [pg.dataDir, pg.running, pg.queryable, pg.role, pg.timeline, pg.replicationState, pg.pendingRestart]
    .join(
      "|",
    );
}

/** Tags as published: boolean predefined tags are dropped when false (as Patroni does). */
export function publishedTags(tags: Tags): Tags {
  const out: Tags = {};
  for (const [k, v] of Object.entries(tags)) {
    if (["clonefrom", "nofailover", "noloadbalance", "nosync", "nostream"].includes(k) && v === false) {
      if (k === "nofailover" && tags.failover_priority !== undefined) out[k] = v;
      else if (k === "nosync" && tags.sync_priority !== undefined) out[k] = v;
      continue;
    }
    out[k] = v;
  }
  return out;
}
