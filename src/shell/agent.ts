/**
 * The loop shell: observe -> decide -> execute -> guard -> publish -> log -> wait, around the pure core.
 *
 * Every decision is the core's: the plan (`decide`), what happens to the fence and the watchdog after it
 * (`src/core/guards.ts`), the fence deadline (`src/core/fence.ts`), the member key (`src/core/member.ts`), whether
 * an API request is taken (`src/core/requests.ts`) and the loop's timing (`src/core/loop.ts`). The shell carries
 * them out through its rooms: `observe.ts` (the snapshot), `executor.ts` (the plan, with its promote guard),
 * `fence.ts` (the lock belief and the fence timer), `isolation.ts` (the early isolation fence), `requests.ts` (what
 * the REST API asks) and `jobs.ts` (long Postgres operations in the background).
 *
 * It talks to the world only through the ports (`Dcs`, `PostgresPort`, `PeerClient`) and the `Clock`, so the
 * simulator runs this very code against in-memory fakes on a virtual clock.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import { decide, type HaContext, postgresStateName } from "../core/decide.ts";
import { guardVerdicts } from "../core/guards.ts";
import {
  adoptionCallback,
  carriesOutReinit,
  type CycleResult,
  jobCallback,
  publishesMember,
  rerunAtOnce,
  waitDeadline,
} from "../core/loop.ts";
import { memberRecord, publishedShape, roleInCluster } from "../core/member.ts";
import { standbyRoleCallback } from "../core/decide_standby.ts";
import type { CallbackAction, CallbackRunner } from "../core/ports.ts";
import type { DeleteRestartResult, RestartNowResult, ScheduleRestartResult } from "../core/requests.ts";
import { describeRoleChange, RoleChangeRecorder } from "../core/role_change.ts";
import {
  type ClusterView,
  type Decision,
  type DynamicSettings,
  type FenceSupervisorReport,
  INITIAL_MEMORY,
  type JobRequest,
  type Memory,
  type NodeSnapshot,
  type Observation,
  type PgObservation,
  type RestartConditions,
  type Tags,
} from "../core/types.ts";
import type { AgentDeps } from "./deps.ts";
import { Executor } from "./executor.ts";
import { closeWatchdogAtSafepoint, LeaseFence } from "./fence.ts";
import { type FailsafeCallReply, FailsafeState } from "./failsafe.ts";
import { IsolationMonitor } from "./isolation.ts";
import { JobRunner } from "./jobs.ts";
import { CheckpointAfterPromote } from "./checkpoint_runner.ts";
import { Observer } from "./observe.ts";
import { Requests } from "./requests.ts";
import { loopWaitMs } from "../core/settings.ts";
import { DurationHistogram } from "../core/histogram.ts";
import { demotionStopOptions } from "../core/stop_timeout.ts";
import { routineDecision } from "../core/watch_view.ts";

export type { AgentDeps } from "./deps.ts";
export type { CycleResult } from "../core/loop.ts";
export { rerunAtOnce } from "../core/loop.ts";

/** The fencing supervisor as this agent last saw it (the daemon adds its process's details). */
function fenceReport(unusable: string | null): FenceSupervisorReport {
  return unusable === null
    ? { state: "running", usable: true }
    : { state: "not running", usable: false, problem: unusable };
}

/** One member's HA loop. */
export class Agent {
  #memory: Memory = { ...INITIAL_MEMORY };
  #hotStandbyFeedback = false;
  #jobs: JobRunner;
  #checkpoint: CheckpointAfterPromote;
  #lease: LeaseFence;
  #isolation: IsolationMonitor;
  #failsafe: FailsafeState;
  #requests: Requests;
  #observer: Observer;
  #executor: Executor;
  #tags: Tags;
  #roleChanges: RoleChangeRecorder;
  /** Each HA cycle's duration on the agent's clock (`hactl_ha_cycle_duration_seconds`). */
  readonly cycleDurations = new DurationHistogram();
  /** The role the callbacks last reported (null before this agent saw Postgres up). */
  #callbackRole: string | null = null;
  #lastObservation: Observation | null = null;
  #nextRunAt = 0;
  #wakeRequested = false;
  /** Ends the loop's current wait (set while `waitUntil` waits). */
  #interruptWait: (() => void) | null = null;
  #stopped = false;
  /** The fatal condition that stopped the loop (the agent then exits 1), or null. */
  #fatal: string | null = null;

  constructor(private readonly deps: AgentDeps) {
    this.#roleChanges = new RoleChangeRecorder(deps.name);
    this.#tags = deps.tags;
    const wake = () => this.wake();
    this.#jobs = new JobRunner(
      deps.pg,
      deps.clock,
      wake,
      (req, ok) => this.#jobDone(req, ok),
      () => closeWatchdogAtSafepoint(deps, "demote"),
      () => demotionStopOptions(this.dynamic),
    );
    this.#checkpoint = new CheckpointAfterPromote(deps.pg, deps.log, wake);
    this.#isolation = new IsolationMonitor(deps, wake);
    this.#failsafe = new FailsafeState(deps);
    this.#lease = new LeaseFence(deps, {
      paused: () => this.dynamic.pause,
      stopped: () => this.#stopped,
      wake,
      jobs: this.#jobs,
      stopping: (why) => this.#checkpoint.stopping(why),
    });
    this.#requests = new Requests(deps, {
      jobs: this.#jobs,
      holdsLock: () => this.holdsLock(),
      wake,
      snapshot: () => this.snapshot(),
      pg: () => this.#observer.pg,
      refreshPostgresStatus: () => this.refreshPostgresStatus(),
    });
    const parts = {
      jobs: this.#jobs,
      requests: this.#requests,
      lease: this.#lease,
      isolation: this.#isolation,
      failsafe: this.#failsafe,
    };
    this.#observer = new Observer(deps, parts);
    this.#executor = new Executor(deps, {
      ...parts,
      roleChanges: this.#roleChanges,
      context: () => this.#context(),
      dynamic: () => this.dynamic,
      callback: (action, role) => this.#callback(action, role),
      hotStandbyFeedback: (value) => void (this.#hotStandbyFeedback = value),
      checkpoint: this.#checkpoint,
    });
  }

  /** The `hot_standby_feedback` the core decided last (src/core/hot_standby_feedback.ts); false before any. */
  get hotStandbyFeedback(): boolean {
    return this.#hotStandbyFeedback;
  }

  get dynamic(): DynamicSettings {
    return this.#observer.dynamic;
  }

  /** The last cluster view read from etcd, or null (none read yet). */
  get clusterView(): ClusterView | null {
    return this.#observer.view;
  }

  /** Observe, decide, execute, refresh the member key. Never throws: failures are reported in the result. */
  async runCycle(): Promise<CycleResult | null> {
    let observation: Observation;
    let decision: Decision;
    try {
      observation = await this.#observer.observe();
      decision = decide(observation, this.#memory, this.#context());
      if (observation.dcs.kind === "ok" && this.#observer.viewFromWatch && !routineDecision(decision)) {
        // Decided on the watch's copy, and more than routine: decide again on a read of etcd (watch_view.ts).
        observation = await this.#observer.reread(observation);
        decision = decide(observation, this.#memory, this.#context());
      }
      this.#lastObservation = observation;
    } catch (err) {
      // An unexpected failure (a bug, or a Postgres tool that could not even be spawned): log it with its stack and
      // carry on with the next cycle. The loop must outlive it, or a detached primary would run on unguarded.
      this.deps.log.error("the HA cycle failed unexpectedly; continuing with the next cycle", {
        error: String((err as Error)?.stack ?? err),
      });
      return null;
    }
    this.#memory = decision.memory;
    if (carriesOutReinit(decision)) this.#requests.reinitPlanned();
    if (observation.dcs.kind === "ok") {
      const view = observation.dcs.cluster;
      this.#roleChanges.noteView(observation.now, view.leader?.name ?? null, view.failover !== null);
    }
    this.#noteWritable(observation.pg);
    const adopted = adoptionCallback(this.#callbackRole, observation.pg, this.#jobs.busy);
    if (adopted) this.#callback(adopted.action, adopted.role);
    const { failedAt, error, dcsFailed } = await this.#executor.execute(decision.actions, observation);
    if (decision.fatal !== undefined && this.#fatal === null) {
      this.#fatal = decision.fatal;
      this.deps.log.error(decision.fatal);
      this.stop();
    }
    if (decision.error !== undefined) this.deps.log.error(decision.error);
    if (decision.warning !== undefined) this.deps.log.warn(decision.warning);
    this.#guard(observation, decision, failedAt);
    if (publishesMember(observation, dcsFailed)) await this.#touchMember(observation);
    const role = roleInCluster(observation, this.holdsLock(), this.dynamic.standbyCluster !== undefined);
    const standbyCall = standbyRoleCallback(
      this.#callbackRole,
      role,
      this.#jobs.busy,
      observation.pg.running,
    );
    if (standbyCall) this.#callback(standbyCall.action, standbyCall.role);
    this.deps.log.cycle(decision.reason, {
      role,
      leader: observation.dcs.kind === "ok" ? observation.dcs.cluster.leader?.name ?? null : null,
      lsn: observation.pg.walPosition,
      actions: decision.actions.map((a) => a.type),
      ...(failedAt >= 0 ? { failed: decision.actions[failedAt]!.type, error } : {}),
    });
    return { observation, decision, failedAt, dcsFailed, ...(error ? { error } : {}) };
  }

  /** Carry out the core's verdicts on the fence and the watchdog at the end of a cycle (src/core/guards.ts). */
  #guard(obs: Observation, decision: Decision, failedAt: number): void {
    const verdicts = guardVerdicts({
      obs,
      decision,
      failedAt,
      holdsLock: this.holdsLock(),
      jobBusy: this.#jobs.busy,
      paused: this.dynamic.pause,
      fenceArmed: this.#lease.armed,
      watchdogRunning: this.deps.watchdog?.running ?? false,
    });
    if (verdicts.fence.action === "disarm") this.#lease.disarm();
    if (verdicts.watchdog.action === "close") this.deps.watchdog?.disable(verdicts.watchdog.reason);
  }

  /** Run cycles until `stop()`; between cycles wait `loop_wait` or until the DCS watch reports a change. */
  async run(): Promise<void> {
    const { clock } = this.deps;
    while (!this.#stopped) {
      const started = clock.now();
      const result = await this.runCycle();
      this.cycleDurations.observe((clock.now() - started) / 1000);
      if (this.#stopped) break;
      this.#nextRunAt = started + loopWaitMs(this.dynamic);
      if (result && rerunAtOnce(result)) continue;
      // A scheduled restart due before the next cycle: wake up at its time, not a loop_wait later.
      const restartAt = this.#requests.restartDueAt;
      const now = clock.now();
      await this.#waitUntil(
        waitDeadline({ started, nextRunAt: this.#nextRunAt, now, wallNow: clock.wallNow(), restartAt }),
      );
    }
  }

  async #waitUntil(deadline: number): Promise<void> {
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
        // The watch fails while etcd is away; the next cycle reports it. Waited out on the agent's clock.
        await new Promise<void>((r) => {
          const cancel = this.deps.clock.after(Math.min(left, 1000), r);
          interrupt.signal.addEventListener("abort", () => (cancel(), r()), { once: true });
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

  /** Close a pending role-change record once Postgres answers as a writable primary, and log it. */
  #noteWritable(pg: PgObservation): void {
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

  /** A job finished: answer a restart request waiting for it, then run the callback the core names. */
  #jobDone(req: JobRequest, ok: boolean): void {
    if (req.kind === "restart") this.#requests.restartDone(ok);
    if (req.kind === "promote" && ok) this.#roleChanges.notePromoted(this.deps.clock.now());
    const call = jobCallback(req, ok, this.#callbackRole);
    if (call) this.#callback(call.action, call.role);
  }

  #callback(action: CallbackAction, role: string): void {
    this.#callbackRole = role;
    this.deps.callbacks?.fire(action, role);
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
  requestReinit(force: boolean, fromLeader = false): string | null {
    return this.#requests.requestReinit(force, fromLeader);
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
    this.#requests.requestReload(kind);
  }

  /**
   * `POST /restart` without `schedule`: restart Postgres now in its role (the leader keeps its key) and resolve when
   * it is up again (`restarted`), or why not (src/core/requests.ts).
   */
  restartNow(conditions: RestartConditions, waitMs: number): Promise<RestartNowResult> {
    return this.#requests.restartNow(conditions, waitMs);
  }

  /** `POST /restart` with `schedule`: `scheduled`, or `already_scheduled`. */
  scheduleRestart(conditions: RestartConditions, schedule: string, at: number): ScheduleRestartResult {
    return this.#requests.scheduleRestart(conditions, schedule, at);
  }

  /** `DELETE /restart`: `deleted`, or `none_scheduled`. */
  deleteScheduledRestart(): DeleteRestartResult {
    return this.#requests.deleteScheduledRestart();
  }

  /** The scheduled restart as published (`scheduled_restart`), or null. */
  get scheduledRestart(): Record<string, unknown> | null {
    return this.#requests.scheduledRestart;
  }

  /** Wait until the running job (if any) has finished. */
  /** A job (bootstrap, clone, reinit, start, stop, ...) is running: the data directory may be emptied meanwhile. */
  get jobRunning(): boolean {
    return this.#jobs.busy;
  }

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
    const { dcs, fence, log, pg, watchdog } = this.deps;
    this.stop();
    this.#lease.cancelTimer();
    await this.#jobs.settle();
    if (this.dynamic.pause) {
      log.info?.("Leader key is not deleted and Postgresql is not shutdown because of 'pause' state");
      watchdog?.disable("shutdown while paused");
      fence?.disarm();
      try {
        await dcs.close({ keepLease: true });
      } catch { /* nothing to clean up */ }
      return true;
    }
    let stopped = false;
    try {
      const wasRunning = this.#observer.pg.running;
      const opts = demotionStopOptions(this.dynamic);
      // A CHECKPOINT after a promotion still running is not waited for: the stop ends its session.
      this.#checkpoint.stopping("shutdown");
      await pg.stop("fast", () => closeWatchdogAtSafepoint(this.deps, "shutdown"), opts);
      stopped = true;
      // What the REST API answers from now on: members racing for the key ask this one, and must not find the
      // "running primary" of the last cycle (as Patroni, whose API is gone by then).
      await this.#notePgAfterStop();
      fence?.disarm();
      watchdog?.disable("shutdown");
      if (wasRunning) this.#callback("on_stop", this.#callbackRole ?? "replica");
    } catch (err) {
      log.error("could not stop postgres on shutdown; keeping the leader key and the watchdog", {
        error: String(err),
      });
    }
    if (stopped && this.holdsLock()) {
      try {
        await dcs.deleteLeader();
        this.#lease.forget();
      } catch (err) {
        log.warn("could not release the leader key on shutdown", { error: String(err) });
      }
    }
    try {
      await dcs.close({ keepLease: !stopped });
    } catch { /* the lease expires by itself */ }
    return stopped;
  }

  /** Shutdown: note the stopped Postgres for the API (a failed look keeps the old answer; the stop succeeded). */
  async #notePgAfterStop(): Promise<void> {
    try {
      this.#observer.notePg(await this.deps.pg.observe());
    } catch { /* the API keeps its last answer */ }
  }

  /** Refresh only the Postgres part of the snapshot (the status monitor calls this about every second). */
  async refreshPostgresStatus(): Promise<void> {
    const before = this.#observer.pg;
    this.#observer.notePg(await this.deps.pg.observe());
    this.#noteWritable(this.#observer.pg);
    await this.#isolation.check(this.#observer.pg, this.#observer.view, this.dynamic);
    // What the member key says about Postgres changed (it started streaming, crashed, was promoted...): run a cycle
    // now so etcd, `hactl list` and the other members learn it without waiting out loop_wait.
    if (publishedShape(before) !== publishedShape(this.#observer.pg)) this.wake();
  }

  holdsLock(): boolean {
    return this.#lease.holdsLock();
  }

  /** The deadline the agent's fence timer is armed for (monotonic ms), or null when it is not armed. */
  get fenceDeadline(): number | null {
    return this.#lease.deadline;
  }

  /** What the REST API answers from. */
  snapshot(): NodeSnapshot {
    const { clock, name, scope } = this.deps;
    const observer = this.#observer;
    const obs = this.#lastObservation;
    const stateObs: Observation = obs ? { ...obs, pg: observer.pg } : {
      now: clock.now(),
      wallNow: clock.wallNow(),
      dcs: { kind: "unreachable", since: 0, error: "not yet contacted" },
      pg: observer.pg,
      job: null,
      peers: null,
    };
    const scheduledRestart = this.scheduledRestart;
    return {
      name,
      scope,
      state: postgresStateName(stateObs),
      role: roleInCluster(stateObs, this.holdsLock(), this.dynamic.standbyCluster !== undefined),
      pg: observer.pg,
      pgObservedAt: observer.pgObservedAt,
      cluster: observer.view,
      dcsLastSeen: Math.floor(observer.dcsLastSeen / 1000),
      isLeader: this.holdsLock(),
      leaderExpiresAt: this.#lease.lockedUntil,
      dynamic: this.dynamic,
      tags: this.#tags,
      nextRunAt: this.#nextRunAt,
      watchdogFailed: observer.watchdogUnusable !== null,
      ...(this.deps.fence ? { fenceSupervisor: fenceReport(observer.fenceUnusable) } : {}),
      roleChanges: this.#roleChanges.records,
      failsafe: this.#failsafe.report(observer.view, this.dynamic),
      ...(scheduledRestart ? { scheduledRestart } : {}),
    };
  }

  /** A leader's `POST /failsafe` (src/shell/failsafe.ts): accepted, remembered, or refused saying why. */
  failsafeCall(body: unknown): FailsafeCallReply {
    return this.#failsafe.call(body, this.#observer.view, this.dynamic, this.#observer.pg);
  }

  #context(): HaContext {
    return {
      name: this.deps.name,
      tags: this.#tags,
      dynamic: this.dynamic,
      bootstrapDcs: this.deps.configToRestore?.() ?? this.deps.bootstrapDcs,
      removeDataOnRewindFailure: this.deps.removeDataOnRewindFailure ?? false,
      removeDataOnDivergedTimelines: this.deps.removeDataOnDivergedTimelines ?? false,
      noLeaderReplicaMethod: this.deps.noLeaderReplicaMethod?.() ?? false,
    };
  }

  /** Publish the member key (src/core/member.ts); a failure is logged, the next cycle tries again. */
  async #touchMember(obs: Observation): Promise<void> {
    const record = memberRecord({
      obs,
      pg: this.#observer.pg,
      holdsLock: this.holdsLock(),
      connUrl: this.deps.connUrl,
      apiUrl: this.deps.apiUrl,
      ...(this.deps.proxyUrl ? { proxyUrl: this.deps.proxyUrl } : {}),
      tags: this.#tags,
      scheduledRestart: this.scheduledRestart,
      paused: this.dynamic.pause,
      standbyCluster: this.dynamic.standbyCluster !== undefined,
    });
    try {
      await this.deps.dcs.touchMember(record);
    } catch (err) {
      this.deps.log.warn("could not update the member key", { error: String(err) });
    }
  }
}
