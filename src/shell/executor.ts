/**
 * The executor: runs a plan's actions in order and stops at the first failure, which the next cycle sees.
 *
 * Safety contract: `promote` runs only after a lock action (`acquire_leader`/`renew_leader`) succeeded earlier in
 * the same plan; otherwise it throws and the plan stops there. Every successful lock action re-arms the fence
 * (counting from when the lease holding the key was renewed: the call's start, or the cycle's keepalive) and
 * pings the watchdog once; a required watchdog that is not running, or a fencing supervisor that is not usable,
 * stops the plan before any promotion. Long Postgres operations (the
 * promotion too) are started as jobs, so the loop keeps renewing; the CHECKPOINT after a promotion runs beside the
 * loop without taking the job slot (checkpoint_runner.ts), so the loop keeps deciding everything else too.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import { cycleRenewalFrom } from "../core/cycle_renewal.ts";
import { type HaContext, peerVerdicts } from "../core/decide.ts";
import { DEFAULT_WATCHDOG_SAFETY_MARGIN, lockRenewedFrom, renewalStale } from "../core/fence.ts";
import { fenceTtl } from "../core/lease_ttl.ts";
import { demotionStopOptions } from "../core/stop_timeout.ts";
import { type CallbackAction, DcsError } from "../core/ports.ts";
import type { RoleChangeRecorder } from "../core/role_change.ts";
import type { Action, DynamicSettings, Observation } from "../core/types.ts";
import type { CheckpointAfterPromote } from "./checkpoint_runner.ts";
import type { AgentDeps } from "./deps.ts";
import { closeWatchdogAtSafepoint, type LeaseFence } from "./fence.ts";
import type { IsolationMonitor } from "./isolation.ts";
import type { FailsafeState } from "./failsafe.ts";
import type { JobRunner } from "./jobs.ts";
import type { Requests } from "./requests.ts";

/** Jobs that stop the local Postgres: a CHECKPOINT after a promotion still running ends with them. */
const STOPS: ReadonlySet<string> = new Set(["stop", "restart", "demote"]);

/** The parts of the agent the executor acts on. */
export interface ExecutorParts {
  jobs: JobRunner;
  requests: Requests;
  lease: LeaseFence;
  isolation: IsolationMonitor;
  failsafe: FailsafeState;
  roleChanges: RoleChangeRecorder;
  context(): HaContext;
  dynamic(): DynamicSettings;
  callback(action: CallbackAction, role: string): void;
  /** Keep the decided `hot_standby_feedback` for the Postgres adapter, which reads it when it writes its files. */
  hotStandbyFeedback(value: boolean): void;
  /** The CHECKPOINT after a promotion, run beside the loop (src/shell/checkpoint_runner.ts). */
  checkpoint: CheckpointAfterPromote;
}

/** How a plan ended: the index of the first failed action (-1 when all ran) and why. */
export interface Execution {
  failedAt: number;
  /** The failure was etcd not answering (rather than a refused CAS or a Postgres error). */
  dcsFailed: boolean;
  error?: string;
}

/** Runs plans. */
export class Executor {
  constructor(private readonly deps: AgentDeps, private readonly parts: ExecutorParts) {}

  /** Run the plan in order; stop at the first failure. */
  async execute(actions: Action[], obs: Observation): Promise<Execution> {
    const { isolation, lease } = this.parts;
    let lockVerified = false;
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i]!;
      const started = this.deps.clock.now();
      const lockAction = action.type === "acquire_leader" || action.type === "renew_leader" ||
        (action.type === "move_lease" && action.leader);
      // A renewal kept by the cycle's own refresh and read makes no call (src/core/cycle_renewal.ts).
      const byCycle = action.type === "renew_leader" ? this.#renewedByCycle(started, obs, actions) : null;
      if (lockAction && byCycle === null) isolation.callStarted(started);
      try {
        const ok = byCycle !== null || await this.#apply(action, lockVerified, obs);
        if (lockAction && byCycle === null) isolation.answered();
        if (lockAction && ok) {
          lockVerified = true;
          // The fences count from when the lease holding the key was renewed (an acquisition: this cycle's refresh).
          const from = byCycle ?? lockRenewedFrom(action, started, obs);
          const stop = this.#lockKept(action, from, actions, obs);
          if (stop !== null) return { failedAt: i, dcsFailed: false, error: stop };
        } else if (lockAction) lease.forget();
        if (action.type === "release_leader" && ok) lease.forget();
        if (!ok) return { failedAt: i, dcsFailed: false, error: `${action.type} was refused` };
      } catch (err) {
        if (lockAction && !(err instanceof DcsError)) isolation.answered();
        if (lockAction) lease.forget();
        return {
          failedAt: i,
          dcsFailed: err instanceof DcsError,
          error: err instanceof Error ? err.message : String(err),
        };
      }
    }
    return { failedAt: -1, dcsFailed: false };
  }

  /** When the cycle's refresh started, if it kept the lock (recent, and the read after it found the key ours). */
  #renewedByCycle(now: number, obs: Observation, actions: Action[]): number | null {
    const from = cycleRenewalFrom(obs, now, this.parts.dynamic().ttl, actions);
    return from !== null && this.deps.dcs.lockReadSinceRenewal?.() === true ? from : null;
  }

  /**
   * A lock action succeeded and the lease holding the key was renewed no earlier than `started`: note a lock taken
   * for a promotion, count the lease and re-arm the fence from `started` with the TTL of the lease that now holds
   * the key (src/core/lease_ttl.ts), and after a renewal answered in time ping the watchdog once with that TTL
   * (activating it first when needed). Returns why the plan stops (a stale renewal; a required watchdog that is not
   * running: the next cycle, run at once, sees it unusable and gives the key up), or null.
   */
  #lockKept(action: Action, started: number, actions: Action[], obs: Observation): string | null {
    const { lease, roleChanges } = this.parts;
    if (action.type === "acquire_leader" && actions.some((a) => a.type === "promote")) {
      const formerLeader = obs.dcs.kind === "ok" ? obs.dcs.cluster.failover?.leader : undefined;
      roleChanges.noteLockTaken(this.deps.clock.now(), peerVerdicts(obs, this.parts.context(), formerLeader));
    }
    const dynamic = this.parts.dynamic();
    const keyLease = this.deps.dcs.heldLease();
    // A successful lock action leaves the key on the lease held; none would be an adapter's bug: fence on the
    // shortest reading rather than trust the configured TTL alone.
    const ttl = keyLease ? fenceTtl(keyLease, dynamic.ttl) : 0;
    lease.renewed(started, ttl);
    // A switchover's shutdown closed the watchdog at its safe point (no client write can commit any more): the
    // renewals during its shutdown checkpoint do not open it again.
    const job = this.parts.jobs.peek();
    const shutdownPastSafepoint = job?.kind === "demote" && job.status === "running" &&
      !this.deps.watchdog?.running;
    // One watchdog ping per renewal: a key just moved to a lease of another ttl keeps the timeout the renewal
    // before it in this plan set (equal or shorter), and the next renewal applies the new one.
    const wd = action.type === "move_lease" || shutdownPastSafepoint ? undefined : this.deps.watchdog;
    if (wd && !dynamic.pause) {
      // A renewal answered too late (the agent was stopped meanwhile) would ping the device past the lease's
      // expiry: the fences above count from its start, the watchdog keeps its last deadline, the plan stops.
      const timeout = wd.pingTimeout ? wd.pingTimeout(ttl) : ttl - DEFAULT_WATCHDOG_SAFETY_MARGIN;
      const now = this.deps.clock.now();
      // Against the lease that holds the key as etcd granted it (the fences may be shorter, after a decrease).
      if (renewalStale(started, now, keyLease?.ttl ?? 0, timeout)) {
        return `stale renewal: answered ${Math.round(now - started)} ms after it started, too late to ping ` +
          "the watchdog before the lease can expire; renewing again at once";
      }
    }
    if (wd && !dynamic.pause && !wd.keepalive(ttl, dynamic.loopWait)) {
      return "the watchdog is required but is not running or not usable";
    }
    // The supervisor died or went silent since the observation: no promotion on this lock (the next cycle, run at
    // once, gives the key up). Not in pause, where no fence acts.
    const fence = dynamic.pause ? null : this.deps.fence?.unusable() ?? null;
    return fence === null ? null : `the fencing supervisor is not running (${fence})`;
  }

  /**
   * Failsafe mode: every member of the `failsafe` key accepted the round that started at `since`, and none of them
   * takes part in a race for ttl from its acceptance (later than `since`). That counts as a renewal that started at
   * `since`: the fence is re-armed from it, the isolation monitor counts the replicas as heard, the watchdog is
   * pinged (unless the answer came too late to ping it before `since + ttl`). False (the plan stops, the fence armed
   * before keeps its deadline) when the watchdog or the fencing supervisor is not usable.
   */
  #failsafeKept(since: number, membersTtl: number): boolean {
    const { lease, isolation, failsafe } = this.parts;
    const dynamic = this.parts.dynamic();
    const keyLease = this.deps.dcs.heldLease();
    const ttl = Math.min(membersTtl, keyLease ? fenceTtl(keyLease, dynamic.ttl) : dynamic.ttl);
    const wd = this.deps.watchdog;
    const now = this.deps.clock.now();
    const timeout = wd ? (wd.pingTimeout ? wd.pingTimeout(ttl) : ttl - DEFAULT_WATCHDOG_SAFETY_MARGIN) : null;
    if (renewalStale(since, now, ttl, timeout)) return false;
    if (this.deps.fence?.unusable()) return false;
    lease.renewed(since, ttl);
    isolation.failsafeConfirmed(since);
    failsafe.kept(since);
    return !(wd && !wd.keepalive(ttl, dynamic.loopWait));
  }

  /** Stop Postgres for a demotion: the watchdog closed at its safe point, primary_stop_timeout in force. */
  async #demote(mode: "fast" | "immediate"): Promise<boolean> {
    this.parts.checkpoint.stopping(`demoting (${mode})`);
    const opts = demotionStopOptions(this.parts.dynamic());
    await this.deps.pg.stop(mode, () => closeWatchdogAtSafepoint(this.deps, "demote"), opts);
    return true;
  }

  /** The actions that only write to etcd; null for any other. */
  #applyDcs(action: Action): Promise<boolean> | null {
    const { dcs } = this.deps;
    switch (action.type) {
      case "acquire_initialize":
        return dcs.initialize(true, "");
      case "write_initialize":
        return dcs.initialize(false, action.sysid);
      case "cancel_initialize":
        return dcs.cancelInitialization().then(() => true);
      case "write_config":
        return dcs.setConfig(action.value, "0");
      case "acquire_leader":
        return dcs.attemptToAcquireLeader(action.guard);
      case "renew_leader":
        return dcs.updateLeader();
      case "release_leader":
        return dcs.deleteLeader();
      case "move_lease":
        return dcs.moveLease(action.ttl, action.leader);
      case "write_status":
        return dcs.writeStatus(action.optime, action.slots, action.retainSlots).then(() => true);
      case "write_history":
        return dcs.setHistory(action.history).then(() => true);
      case "clear_failover":
        return dcs.setFailover({}, action.modRevision);
      case "write_sync":
        return dcs.writeSync(action.leader, action.standbys, action.quorum, action.modRevision);
      case "delete_sync":
        return dcs.deleteSync(action.modRevision);
      default:
        return null;
    }
  }

  async #apply(action: Action, lockVerified: boolean, obs: Observation): Promise<boolean> {
    const written = this.#applyDcs(action);
    if (written !== null) return await written;
    const { dcs, pg } = this.deps;
    const { jobs, requests } = this.parts;
    switch (action.type) {
      case "drop_lease":
        dcs.dropLease();
        return true;
      case "start_job":
        if (STOPS.has(action.job.kind)) this.parts.checkpoint.stopping(action.job.kind);
        jobs.start(action.job);
        if (action.job.kind === "restart") requests.restartStarted();
        return true;
      case "drop_restart":
        requests.dropScheduled();
        this.deps.log.info?.(action.reason);
        return true;
      case "reload": {
        const kind = requests.reloadRequested;
        const reloaded = await pg.reload(action.role, action.upstream, action.force);
        requests.reloadDone(kind);
        if (reloaded) {
          this.deps.log.info?.("reloaded the postgres configuration");
          this.parts.callback("on_reload", action.role);
        }
        return true;
      }
      case "promote":
        // The safety contract: never promote without a lock verified in this very plan.
        if (!lockVerified) {
          throw new Error("refusing to promote: the leader lock was not verified in this cycle");
        }
        // In the background (Patroni runs it through its async executor): replaying a long backlog may take
        // longer than the ttl, and the loop must keep renewing the key meanwhile or its own fence would stop it.
        jobs.start({ kind: "promote", history: obs.dcs.kind === "ok" ? obs.dcs.cluster.history ?? [] : [] });
        return true;
      case "demote":
        return await this.#demote(action.mode);
      case "follow":
        await pg.follow(action.upstream);
        return true;
      case "sync_slots":
        await pg.syncSlots(action.slots, action); // the action carries the slot fields
        return true;
      case "write_failsafe":
        this.parts.failsafe.writing(action.value);
        await dcs.writeFailsafe(action.value);
        return true;
      case "failsafe_keep":
        return this.#failsafeKept(action.since, action.ttl);
      case "set_sync_standby_names":
        await pg.setSyncStandbyNames(action.value);
        return true;
      case "set_hot_standby_feedback":
        this.parts.hotStandbyFeedback(action.value);
        return true;
      case "checkpoint_after_promote":
        // Beside the loop, at most one at a time: a request while one runs is skipped (asked again next cycle).
        this.parts.checkpoint.request();
        return true;
      default:
        throw new Error(`no executor for action ${action.type}`);
    }
  }
}
