/**
 * The lock this member believes it holds, and what bounds a primary's life beside the loop: the fence timer (with
 * the fencing supervisor behind it) and the watchdog's safe point. The deadlines come from `src/core/fence.ts`.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import { fenceDeadline, fenceFires, leaseExpiresAt, supervisorDelayMs } from "../core/fence.ts";
import type { AgentDeps } from "./deps.ts";
import type { JobRunner } from "./jobs.ts";

/** What the fence needs to know of the loop when its deadline passes. */
export interface FenceLoop {
  /** The dynamic configuration's `pause`, as the loop last read it. */
  paused(): boolean;
  /** The loop was stopped (shutdown, or a fatal condition). */
  stopped(): boolean;
  /** Run a cycle now. */
  wake(): void;
  /** The job runner: a fence that fires cancels the job in flight. */
  jobs: Pick<JobRunner, "cancel">;
  /** Told before the fence stops Postgres (a CHECKPOINT after a promotion in flight ends with it). */
  stopping?(why: string): void;
}

/**
 * The lock belief and the fence deadline: `renewal start + ttl - margin` on the monotonic clock, re-armed by every
 * successful lock action. If it passes without a newer renewal — the loop is stuck in a hung etcd call, or every
 * renewal since failed — Postgres is stopped at once (immediate) if it may be accepting writes, strictly before the
 * lease can expire and another member can promote. A timer beside the loop, so a hung cycle cannot hold it back.
 * Not in pause mode (maintenance: the primary keeps running without the DCS, as Patroni's pause promises). A
 * process that is frozen as a whole (SIGSTOP) or killed cannot fence itself: that is the watchdog's and the fencing
 * supervisor's job.
 */
export class LeaseFence {
  /** Until when this member believes it holds the lock (monotonic ms; 0: it does not). */
  #lockedUntil = 0;
  /** When the last successful lock action started (monotonic ms): the lease runs from no earlier than this. */
  #lastRenewal: number | null = null;
  /** The TTL (s) the last successful lock action armed the fence with (src/core/lease_ttl.ts `fenceTtl`). */
  #armedTtl = 0;
  /** The deadline the timer is armed for (monotonic ms). */
  #deadline = 0;
  #cancel: (() => void) | null = null;

  constructor(private readonly deps: AgentDeps, private readonly loop: FenceLoop) {}

  holdsLock(): boolean {
    return this.#lockedUntil > this.deps.clock.now();
  }

  /** Until when the lock is believed ours (monotonic ms; 0: not ours). */
  get lockedUntil(): number {
    return this.#lockedUntil;
  }

  /** The fence timer is armed. */
  get armed(): boolean {
    return this.#cancel !== null;
  }

  /** The TTL (s) the last successful lock action armed the fences with (0: never armed). */
  get armedTtl(): number {
    return this.#armedTtl;
  }

  /** The deadline the fence timer is armed for (monotonic ms), or null when it is not armed. */
  get deadline(): number | null {
    return this.#cancel !== null ? this.#deadline : null;
  }

  /**
   * A lock action that started at `start` succeeded, and the key is on a lease that lasts `ttlSeconds` from its
   * renewal (the core's `fenceTtl`): the lease was renewed no earlier than the call started, so the lock and the
   * fence deadline count from there, not from its answer.
   */
  renewed(start: number, ttlSeconds: number): void {
    this.#lastRenewal = start;
    this.#armedTtl = ttlSeconds;
    this.#lockedUntil = leaseExpiresAt(start, ttlSeconds);
    this.#arm(start, ttlSeconds);
  }

  /** Stop believing in the lock (etcd does not name us, a lock action failed, the key was released). */
  forget(): void {
    this.#lockedUntil = 0;
  }

  /** Cancel the timer and stand the fencing supervisor down: there is no writable primary left to guard. */
  disarm(): void {
    if (this.#cancel === null) return;
    this.#cancel();
    this.#cancel = null;
    this.deps.fence?.disarm();
  }

  /** Cancel the timer only (shutdown: the supervisor stays armed until Postgres has stopped). */
  cancelTimer(): void {
    this.#cancel?.();
    this.#cancel = null;
  }

  #arm(renewalStart: number, ttl: number): void {
    this.#cancel?.();
    const deadline = fenceDeadline(renewalStart, ttl);
    this.#deadline = deadline;
    const now = this.deps.clock.now();
    this.#cancel = this.deps.clock.after(deadline - now, () => {
      this.#cancel = null;
      void this.#fire(deadline);
    });
    // The supervisor process backs this timer up when the whole agent is frozen or killed: half a margin later,
    // still before the lease can expire.
    this.deps.fence?.arm(supervisorDelayMs(deadline, ttl, now), now);
  }

  async #fire(deadline: number): Promise<void> {
    const fires = fenceFires({
      deadline,
      lastRenewal: this.#lastRenewal,
      // The TTL the last renewal armed with, not the configured one: a longer ttl read since does not make a
      // renewal out of nothing.
      ttlSeconds: this.#armedTtl,
      paused: this.loop.paused(),
      stopped: this.loop.stopped(),
    });
    if (!fires) return;
    const { clock, log, pg, watchdog } = this.deps;
    this.#lockedUntil = 0;
    log.error("fence deadline passed without a lease renewal; stopping postgres (immediate)", {
      fence: "agent timer",
      watchdog: watchdog?.running ? "open; fires unless postgres stops and it is closed" : "none",
      lastRenewalAgoMs: this.#lastRenewal === null ? null : Math.round(clock.now() - this.#lastRenewal),
    });
    try {
      // A job in flight (a restart between its stop and its start, a start waiting for the server) must not bring
      // Postgres back up after the fence: cancel it, stop now, and stop again once a job that may have started
      // Postgres has ended (unless a renewal since has made the lock ours again).
      const cancelled = this.loop.jobs.cancel("the fence stopped postgres");
      this.loop.stopping?.("the fence");
      await pg.stop("immediate", undefined, { emergency: true });
      if (await cancelled && !this.holdsLock()) {
        log.error(
          "the fence cancelled a job that may have started postgres; stopping postgres (immediate) again",
        );
        await pg.stop("immediate", undefined, { emergency: true });
      }
      // Postgres is down, so the watchdog has nothing left to guard (Patroni closes it at the demotion's safepoint).
      if (!this.holdsLock()) watchdog?.disable("the fence stopped postgres");
    } catch (err) {
      log.error("the fence could not stop postgres", { error: String(err) });
    }
    this.loop.wake();
  }
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
export function closeWatchdogAtSafepoint(deps: AgentDeps, what: "shutdown" | "demote"): void {
  if (deps.watchdog?.running) deps.watchdog.disable(`${what}: postgres no longer accepts client writes`);
}
