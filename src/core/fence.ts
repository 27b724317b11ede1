/**
 * The fence deadline's arithmetic: a successful lock action that started at `t` keeps the lease until no earlier
 * than `t + ttl`; the agent's fence timer stops Postgres at `t + ttl - margin`, the fencing supervisor half a margin
 * later, both strictly before the lease can expire and another member can promote.
 *
 * Pure: times are monotonic milliseconds passed in; the margin and the lease come from `./settings.ts`, the
 * action and observation types from `./types.ts`.
 *
 * @module
 */

import { fenceMarginMs, leaseMs } from "./settings.ts";
import type { Action, Observation } from "./types.ts";

/** Until when a lease renewed by a lock action that started at `renewalStart` lasts at the least. */
export function leaseExpiresAt(renewalStart: number, ttlSeconds: number): number {
  return renewalStart + leaseMs({ ttl: ttlSeconds });
}

/** The agent's fence deadline after a renewal that started at `renewalStart`: `renewal start + ttl - margin`. */
export function fenceDeadline(renewalStart: number, ttlSeconds: number): number {
  return renewalStart + leaseMs({ ttl: ttlSeconds }) - fenceMarginMs({ ttl: ttlSeconds });
}

/**
 * The room (ms) the fence deadline keeps after the next renewal starts: one HA cycle (observe, renew) on a loaded
 * host. Measured with both cores saturated and fsync stalled (`scripts/bench/soak.sh`), a cycle took at most about
 * 150 ms and a timer fired at most about 200 ms late: 1 s is several times both.
 */
export const FENCE_CYCLE_ROOM_MS = 1000;

/**
 * The longest `loop_wait` (whole seconds) with which a leader's next renewal, started `loop_wait` after the last,
 * still comes {@linkcode FENCE_CYCLE_ROOM_MS} before the fence deadline that renewal must beat: Patroni's rule
 * `loop_wait + 2 * retry_timeout <= ttl` alone does not ensure it once `retry_timeout` is small.
 *
 * @example
 * ```ts
 * maxLoopWaitForFence(5); // 2: the deadline is 3.75 s after a renewal starts
 * maxLoopWaitForFence(30); // 24
 * ```
 */
export function maxLoopWaitForFence(ttlSeconds: number): number {
  return Math.floor((fenceDeadline(0, ttlSeconds) - FENCE_CYCLE_ROOM_MS) / 1000);
}

/**
 * How far from `now` the fencing supervisor's deadline lies: half a margin after the agent's `deadline`, still
 * before the lease can expire (it backs the timer up when the whole agent is frozen or killed).
 */
export function supervisorDelayMs(deadline: number, ttlSeconds: number, now: number): number {
  return Math.max(0, Math.round(deadline + fenceMarginMs({ ttl: ttlSeconds }) / 2 - now));
}

/**
 * From when the lease that holds the key after a successful lock action that started at `started` lasts: a
 * renewal (`renew_leader`) and a move (`move_lease`) renew or grant the lease themselves, after their start; an
 * acquisition (`acquire_leader`) puts the key on the lease as this cycle's refresh renewed it, before the
 * acquisition started (`leaseRenewedFrom`), so the fences count from there, or they would lie past the lease's
 * expiry by the time the cycle took from its observation to the acquisition. (Should the adapter have granted a
 * new lease during the acquisition, it did so after both.) An observation without it (built by hand, no DCS
 * view, in which no acquisition runs) counts from the call's start.
 */
export function lockRenewedFrom(
  action: Pick<Action, "type">,
  started: number,
  obs: Pick<Observation, "leaseRenewedFrom">,
): number {
  if (action.type !== "acquire_leader" || obs.leaseRenewedFrom === undefined) return started;
  return Math.min(started, obs.leaseRenewedFrom);
}

/** The watchdog's safety margin (s) when its port does not say what timeout a ping sets (Patroni's default). */
export const DEFAULT_WATCHDOG_SAFETY_MARGIN = 5;

/**
 * A lock action that started at `started` (the lease was renewed no later than that) was answered at `now`, too
 * late to ping the watchdog: a ping now sets the device's deadline to `now + timeout`, past the lease's expiry
 * (`started + ttl`), so the device could fire only after another member may have promoted. Such a renewal (the
 * agent was stopped while the call was in flight, or etcd answered slowly) pings nothing and ends the plan; the
 * next cycle renews again at once. `watchdogTimeoutSeconds` null: no watchdog is pinged.
 */
export function renewalStale(
  started: number,
  now: number,
  ttlSeconds: number,
  watchdogTimeoutSeconds: number | null,
): boolean {
  if (watchdogTimeoutSeconds === null) return false;
  return now + watchdogTimeoutSeconds * 1000 > leaseExpiresAt(started, ttlSeconds);
}

/** What the fence timer looks at when its deadline passes. */
export interface FenceFireInput {
  /** The deadline the timer was armed for. */
  deadline: number;
  /** When the last successful lock action started, or null. */
  lastRenewal: number | null;
  /** The TTL the last successful lock action armed the fence with (not the configured one read since). */
  ttlSeconds: number;
  paused: boolean;
  /** The loop was stopped (shutdown, or a fatal condition). */
  stopped: boolean;
}

/** A renewal since the timer was armed has pushed the deadline past `deadline`. */
export function renewedSince(lastRenewal: number | null, ttlSeconds: number, deadline: number): boolean {
  return lastRenewal !== null && fenceDeadline(lastRenewal, ttlSeconds) > deadline;
}

/**
 * Whether the fence stops Postgres (immediate) when its deadline passes: unless the loop was stopped, a renewal
 * came since, or the cluster is paused (maintenance: the primary keeps running without the DCS, as Patroni's pause
 * promises). It does not look at Postgres: what the loop last saw may be stale, and stopping a server that was not
 * writable costs a restart where not stopping a writable one costs a split brain.
 */
export function fenceFires(i: FenceFireInput): boolean {
  return !(i.stopped || renewedSince(i.lastRenewal, i.ttlSeconds, i.deadline) || i.paused);
}
