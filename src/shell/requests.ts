/**
 * What the REST API asks of a running agent, kept until the loop carries it out: a reinitialisation, a restart now
 * (the request waits for it) or at a scheduled time, a reload of Postgres's configuration. Whether a request is
 * taken is the core's rule (`src/core/requests.ts`); the answers are domain results that `src/api/control.ts` maps
 * to HTTP.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import {
  type DeleteRestartResult,
  reinitRefusal,
  restartNowRefusal,
  type RestartNowResult,
  type ScheduleRestartResult,
} from "../core/requests.ts";
import { scheduledRestartJson } from "../core/restart.ts";
import type { NodeSnapshot, PgObservation, RestartConditions, RestartIntent } from "../core/types.ts";
import type { AgentDeps } from "./deps.ts";
import type { JobRunner } from "./jobs.ts";

/** What the requests need of the agent. */
export interface RequestsHost {
  jobs: JobRunner;
  holdsLock(): boolean;
  wake(): void;
  snapshot(): NodeSnapshot;
  /** The latest reading of Postgres. */
  pg(): PgObservation;
  /** Refresh the Postgres part of the snapshot. */
  refreshPostgresStatus(): Promise<void>;
}

/** The pending requests of one agent. */
export class Requests {
  #reinit = false;
  #reinitFromLeader = false;
  /** A restart asked for now (the API waits for it); it goes before a scheduled one, which it leaves in place. */
  #restartNow: RestartIntent | null = null;
  #scheduled: RestartIntent | null = null;
  /** The API request waiting for the restart now in progress (resolved when its job finishes). */
  #waiter: ((ok: boolean) => void) | null = null;
  #reload: "config" | "forced" | null = null;

  constructor(private readonly deps: AgentDeps, private readonly host: RequestsHost) {}

  /**
   * `POST /reinitialize` / `hactl reinit`: throw this member's data away and clone it again from the leader at
   * the next cycle. Returns why not (Patroni's messages), or null when it was accepted.
   */
  requestReinit(force: boolean, fromLeader = false): string | null {
    const refusal = reinitRefusal({ holdsLock: this.host.holdsLock(), job: this.host.jobs.peek(), force });
    if (refusal !== null) return refusal;
    this.#reinit = true;
    this.#reinitFromLeader = fromLeader;
    this.host.wake();
    return null;
  }

  /** A reinitialisation was asked for and not yet planned. */
  get reinitRequested(): boolean {
    return this.#reinit;
  }

  /** The pending reinitialisation clones from the leader with pg_basebackup only (`from_leader`). */
  get reinitFromLeader(): boolean {
    return this.#reinitFromLeader;
  }

  /** The cycle planned the clone that carries the reinitialisation out. */
  reinitPlanned(): void {
    this.#reinit = false;
  }

  /**
   * Ask the loop to re-read Postgres's configuration: `forced` (`POST /reload`, SIGHUP) reloads Postgres even when
   * its files did not change; `config` only when they did.
   */
  requestReload(kind: "config" | "forced"): void {
    if (this.#reload !== "forced") this.#reload = kind;
    this.host.wake();
  }

  /** A new `config` key was seen: reload Postgres (when its files change) unless a reload is pending already. */
  configChanged(): void {
    if (this.#reload === null) this.#reload = "config";
  }

  get reloadRequested(): "config" | "forced" | null {
    return this.#reload;
  }

  /** A reload that started while `kind` was pending has run (a request made meanwhile stays pending). */
  reloadDone(kind: "config" | "forced" | null): void {
    if (this.#reload === kind) this.#reload = null;
  }

  /**
   * `POST /restart` without `schedule`: restart Postgres now in its role (the leader keeps its key) and resolve when
   * it is up again, failed, or `waitMs` passed.
   */
  async restartNow(conditions: RestartConditions, waitMs: number): Promise<RestartNowResult> {
    const snap = this.host.snapshot();
    const refusal = restartNowRefusal({
      job: this.host.jobs.peek(),
      restartInFlight: this.#waiter !== null || this.#restartNow !== null,
      snapshot: snap,
      conditions,
      paused: snap.dynamic.pause,
    });
    if (refusal !== null) {
      if (refusal.kind === "conditions_unmet") {
        this.deps.log.info?.(`restart conditions are not satisfied: ${refusal.condition}`);
      }
      return refusal;
    }
    const done = new Promise<boolean>((resolve) => (this.#waiter = resolve));
    this.#restartNow = { at: null, conditions, postmasterStartTime: snap.pg.postmasterStartTime };
    this.host.wake();
    let cancel = () => {};
    const timeout = new Promise<null>((r) => (cancel = this.deps.clock.after(waitMs, () => r(null))));
    const ok = await Promise.race([done, timeout]);
    cancel();
    if (ok === null) {
      this.#restartNow = null;
      this.#waiter = null;
      return { kind: "timed_out" };
    }
    // Answer with the snapshot already showing the new postmaster (a GET /patroni right after must not see the old).
    await this.host.refreshPostgresStatus().catch(() => {});
    return ok ? { kind: "restarted" } : { kind: "failed" };
  }

  /** `POST /restart` with `schedule`: keep one restart for `at` (epoch ms). */
  scheduleRestart(conditions: RestartConditions, schedule: string, at: number): ScheduleRestartResult {
    if (this.#scheduled !== null) return { kind: "already_scheduled" };
    this.#scheduled = { at, schedule, conditions, postmasterStartTime: this.host.pg().postmasterStartTime };
    this.host.wake();
    return { kind: "scheduled" };
  }

  /** `DELETE /restart`: forget the scheduled restart. */
  deleteScheduledRestart(): DeleteRestartResult {
    if (this.#scheduled === null) return { kind: "none_scheduled" };
    this.#scheduled = null;
    this.host.wake();
    return { kind: "deleted" };
  }

  /** The scheduled restart as published (`scheduled_restart`), or null. */
  get scheduledRestart(): Record<string, unknown> | null {
    return this.#scheduled ? scheduledRestartJson(this.#scheduled) : null;
  }

  /** The restart the next cycle considers: one asked for now goes first, else the scheduled one, else null. */
  get pendingRestart(): RestartIntent | null {
    return this.#restartNow ?? this.#scheduled;
  }

  /** When the scheduled restart is due (epoch ms), unless a restart asked for now goes first. */
  get restartDueAt(): number | null | undefined {
    return this.#restartNow ? null : this.#scheduled?.at;
  }

  /** The restart job started: the pending restart (now, else the scheduled one) is under way. */
  restartStarted(): void {
    if (this.#restartNow) this.#restartNow = null;
    else this.#scheduled = null;
  }

  /** The cycle dropped the scheduled restart (late, conditions unmet, Postgres restarted since). */
  dropScheduled(): void {
    this.#scheduled = null;
  }

  /** A restart job ended: answer the API request waiting for it. */
  restartDone(ok: boolean): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.(ok);
  }
}
