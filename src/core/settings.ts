/**
 * Durations derived from the dynamic settings, each with its unit in its name. `DynamicSettings` keeps Patroni's
 * seconds (`ttl`, `loop_wait`, ...); timers, deadlines and clock readings are in milliseconds. Every conversion and
 * every rule built on these keys ("a request more than 1.5 * loop_wait late is stale", "the outcome of a switchover
 * is watched for 2 * max(10, loop_wait) s") is written here once, so the agent, the REST API and the control
 * commands cannot drift apart.
 *
 * Pure and total. May import: nothing outside `src/core/` (the `DynamicSettings` type only).
 *
 * @module
 */
import type { DynamicSettings } from "./types.ts";

/** Milliseconds in one second. */
export const MS_PER_SECOND = 1000;

/**
 * A number of seconds as milliseconds.
 *
 * @example
 * ```ts
 * secondsToMs(1.5); // 1500
 * ```
 */
export function secondsToMs(seconds: number): number {
  return seconds * MS_PER_SECOND;
}

/** `loop_wait` in ms: the pause between two HA cycles when nothing wakes the loop earlier. */
export function loopWaitMs(settings: Pick<DynamicSettings, "loopWait">): number {
  return secondsToMs(settings.loopWait);
}

/** `ttl` in ms: the life of the leader lease (and of the member key) after its last renewal. */
export function leaseMs(settings: Pick<DynamicSettings, "ttl">): number {
  return secondsToMs(settings.ttl);
}

/** `retry_timeout` in ms: the budget of one DCS (etcd) operation, retries included. */
export function retryTimeoutMs(settings: Pick<DynamicSettings, "retryTimeout">): number {
  return secondsToMs(settings.retryTimeout);
}

/** `primary_start_timeout` in ms: how long a leader whose Postgres does not come up keeps the leader key. */
export function primaryStartTimeoutMs(settings: Pick<DynamicSettings, "primaryStartTimeout">): number {
  return secondsToMs(settings.primaryStartTimeout);
}

/** `member_slots_ttl` in ms: how long the leader keeps the replication slot of a member that left. */
export function memberSlotsTtlMs(settings: Pick<DynamicSettings, "memberSlotsTtl">): number {
  return secondsToMs(settings.memberSlotsTtl);
}

/** `isolation_fence_timeout` in ms: the silence (etcd and every replica) after which a primary stops Postgres. */
export function isolationFenceTimeoutMs(settings: Pick<DynamicSettings, "isolationFenceTimeout">): number {
  return secondsToMs(settings.isolationFenceTimeout);
}

/**
 * How late (ms) a scheduled request (a switchover, a restart) may be found before it is dropped as stale:
 * 1.5 * `loop_wait`, as Patroni does.
 *
 * @example
 * ```ts
 * staleAfterMs({ loopWait: 10 }); // 15000
 * ```
 */
export function staleAfterMs(settings: Pick<DynamicSettings, "loopWait">): number {
  return secondsToMs(1.5 * settings.loopWait);
}

/**
 * How long (s) the leader watches etcd for the outcome of a switchover or failover it accepted before answering
 * "status unknown": 2 * max(10, `loop_wait`), as Patroni does.
 *
 * @example
 * ```ts
 * switchoverWaitSeconds({ loopWait: 10 }); // 20
 * switchoverWaitSeconds({ loopWait: 30 }); // 60
 * ```
 */
export function switchoverWaitSeconds(settings: Pick<DynamicSettings, "loopWait">): number {
  return 2 * Math.max(10, settings.loopWait);
}

/** {@linkcode switchoverWaitSeconds} in ms. */
export function switchoverWaitMs(settings: Pick<DynamicSettings, "loopWait">): number {
  return secondsToMs(switchoverWaitSeconds(settings));
}

/**
 * How long before the lease expires the fence stops Postgres (ms): 5 s, or a quarter of a short `ttl`.
 *
 * @example
 * ```ts
 * fenceMarginMs({ ttl: 30 }); // 5000
 * fenceMarginMs({ ttl: 10 }); // 2500
 * ```
 */
export function fenceMarginMs(settings: Pick<DynamicSettings, "ttl">): number {
  return Math.min(5000, leaseMs(settings) / 4);
}

/**
 * How long (ms) after its planned next cycle an HA loop counts as overdue for `GET /liveness`: one `ttl` while
 * Postgres runs as primary, two otherwise.
 */
export function livenessGraceMs(settings: Pick<DynamicSettings, "ttl">, runningPrimary: boolean): number {
  return leaseMs(settings) * (runningPrimary ? 1 : 2);
}

/**
 * How long (ms) `POST /restart` waits for a restart it asked for, as Patroni waits in the request: a stop and a start
 * (each bounded by `pg_ctl_timeout` seconds), two HA cycles and 10 s to spare.
 *
 * @example
 * ```ts
 * restartWaitMs({ loopWait: 10 }, 60); // 150000
 * ```
 */
export function restartWaitMs(
  settings: Pick<DynamicSettings, "loopWait">,
  pgCtlTimeoutSeconds: number,
): number {
  return secondsToMs(2 * pgCtlTimeoutSeconds + 2 * settings.loopWait + 10);
}

/**
 * How long (ms) `hactl switchover`/`failover` waits for the leader's answer to its request: at least 120 s, and
 * always 10 s longer than the agent watches etcd for the outcome (`switchoverWaitMs`).
 *
 * @example
 * ```ts
 * switchoverRequestTimeoutMs({ loopWait: 10 }); // 120000
 * switchoverRequestTimeoutMs({ loopWait: 60 }); // 130000
 * ```
 */
export function switchoverRequestTimeoutMs(settings: Pick<DynamicSettings, "loopWait">): number {
  return Math.max(120_000, switchoverWaitMs(settings) + 10_000);
}
