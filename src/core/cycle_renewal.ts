/**
 * When a leader's `renew_leader` may count on the cycle's own etcd calls instead of calls of its own. Every cycle
 * starts with a lease refresh (one keepalive) and then reads the cluster prefix, or takes its watch's copy of it
 * when that copy is at exactly the revision of the keepalive's answer (src/core/watch_view.ts: etcd's store as it
 * was when the keepalive arrived, before the renewal); when that view shows the leader key with this member's name
 * on the very lease the keepalive renewed (the adapter's `lockReadSinceRenewal`), the lock is kept as surely as a
 * second keepalive and read would show (the key leaves a live lease only by an explicit delete, which the watch
 * reports), and
 * the fences count from the START of the cycle's refresh: earlier than a renewal of their own would start, so never
 * later than the lease's expiry. Patroni's etcd3 DCS renews one lease per member per cycle and trusts its
 * watch-fed view of the leader key in the same way.
 *
 * Never in a plan that promotes: a promotion, which cannot be undone, follows a renewal by calls of its own, as it
 * always has (a member whose other etcd calls fail then does not promote on the strength of one read).
 *
 * Only while that refresh is recent: a cycle that spent long between its read and `renew_leader` (a slow Postgres
 * status query, a stop signal) renews again, so the fences and the watchdog ping do not lose more than
 * {@linkcode cycleRenewalMaxAgeMs} of their reach to a renewal counted from long ago (a stale watchdog ping would
 * end the plan, and the next cycle would be as slow).
 *
 * Pure: imports `types.ts` and `settings.ts` only.
 *
 * @module
 */
import { leaseMs } from "./settings.ts";
import type { Action, Observation } from "./types.ts";

/** How old the cycle's refresh may be when `renew_leader` counts on it: a twentieth of the lease, at most 1 s. */
export function cycleRenewalMaxAgeMs(ttlSeconds: number): number {
  return Math.min(1000, leaseMs({ ttl: ttlSeconds }) / 20);
}

/**
 * From when the fences count if `renew_leader` counts on this cycle's refresh and read (the refresh's start), or
 * null when it must renew by calls of its own: the plan promotes, no view was read this cycle, or the refresh
 * started more than {@linkcode cycleRenewalMaxAgeMs} before `now`. The adapter still has to say that the read showed the key on the
 * renewed lease, with nothing changed since.
 */
export function cycleRenewalFrom(
  obs: Pick<Observation, "dcs" | "leaseRenewedFrom">,
  now: number,
  ttlSeconds: number,
  plan: readonly Pick<Action, "type">[],
): number | null {
  if (plan.some((a) => a.type === "promote")) return null;
  if (obs.dcs.kind !== "ok" || obs.leaseRenewedFrom === undefined) return null;
  const age = now - obs.leaseRenewedFrom;
  return age >= 0 && age <= cycleRenewalMaxAgeMs(ttlSeconds) ? obs.leaseRenewedFrom : null;
}
