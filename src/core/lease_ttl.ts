/**
 * One TTL for the lease that holds the leader key and for every fence (the agent's timer, the fencing supervisor,
 * the watchdog). Two decisions, both here so the simulator sees them:
 *
 * - when the lease this member holds was granted for another TTL than the configured one, its keys move to a
 *   lease of the new TTL (`move_lease`, planned by {@linkcode withLeaseMove}): a new lease is granted, the leader
 *   key is moved onto it by a compare-and-set on its value and create revision (never left without an owner, never
 *   taken from another member), then the old lease is revoked (as Patroni's etcd3 DCS re-creates its lease when
 *   `ttl` changes);
 * - a fence is armed with the TTL of the lease that holds the key as etcd granted it, and never with more than
 *   the configured TTL ({@linkcode fenceTtl}): after an increase, the fences use the new TTL only once the key
 *   is on a lease of that TTL; after a decrease, they shorten at the very next renewal, before the key moves.
 *
 * The move is planned right after the plan's first lock action; a plan that releases the key or holds none moves
 * only the member key, at its end. On a decrease the leader key moves only once every fence already holds a
 * deadline within the shorter lease ({@linkcode fencesWithin}): the renewal of the cycle before armed them with
 * the new TTL and the fencing supervisor acknowledged it. Until then the key stays on the longer lease (renewed,
 * which shortens the fences): a supervisor stopped (SIGSTOP) before it read the shortened deadline still holds,
 * in memory and in the state file a restarted agent's supervisor adopts, the deadline of the longer lease, which
 * would lie past the shorter lease's expiry. A supervisor that never answers is found unusable, and the key is
 * given up rather than moved.
 *
 * Pure: imports `types.ts` only.
 *
 * @module
 */
import type { Action, Decision, HeldLease, Observation } from "./types.ts";

/** The lease this member holds was asked for another TTL than `configuredTtl`: its keys must move. */
export function leaseMustMove(held: HeldLease | null | undefined, configuredTtl: number): boolean {
  return held != null && held.requestedTtl !== configuredTtl;
}

/**
 * The TTL (seconds) every fence is armed with after a successful lock action: the TTL etcd granted the lease that
 * holds the key, capped by the configured one (a decrease shortens the fences at once).
 *
 * @example
 * ```ts
 * fenceTtl({ requestedTtl: 10, ttl: 10 }, 30); // 10: the key is still on the 10 s lease
 * fenceTtl({ requestedTtl: 30, ttl: 30 }, 10); // 10: a decrease, before the key moved
 * ```
 */
export function fenceTtl(keyLease: HeldLease, configuredTtl: number): number {
  return Math.min(keyLease.ttl, configuredTtl);
}

/**
 * Every fence holds a deadline within a lease of `ttl` granted now: they were last armed with no longer a TTL
 * (0: never), and the fencing supervisor acknowledged every line (it holds that deadline, not an older one).
 * An observation without the fences (built by hand) counts as within.
 *
 * @example
 * ```ts
 * fencesWithin({ ttl: 30, acknowledged: true }, 10); // false: armed for the 30 s lease
 * fencesWithin({ ttl: 10, acknowledged: false }, 10); // false: the supervisor may hold an older deadline
 * fencesWithin({ ttl: 10, acknowledged: true }, 10); // true
 * ```
 */
export function fencesWithin(fences: Observation["fences"], ttl: number): boolean {
  return fences === undefined || (fences.ttl <= ttl && fences.acknowledged);
}

const isLockAction = (a: Action) => a.type === "acquire_leader" || a.type === "renew_leader";

/**
 * The plan with the lease move added when the lease held (as observed) has another TTL than the configured one:
 * right after the first lock action as a move of the leader key (`leader: true`), or, when the plan holds no lock
 * or releases it, at the end as a move of the member key alone. Unchanged when etcd was out of reach, and when
 * a lease of a shorter TTL would hold the leader key before the fences are within it (the next cycle moves it).
 */
export function withLeaseMove(d: Decision, obs: Observation, configuredTtl: number): Decision {
  if (obs.dcs.kind !== "ok" || !leaseMustMove(obs.lease, configuredTtl)) return d;
  const lockAt = d.actions.findIndex(isLockAction);
  const releases = d.actions.some((a) => a.type === "release_leader");
  const actions = [...d.actions];
  if (lockAt >= 0 && !releases) {
    const shorter = obs.lease != null && configuredTtl < obs.lease.ttl;
    if (shorter && !fencesWithin(obs.fences, configuredTtl)) return d;
    actions.splice(lockAt + 1, 0, { type: "move_lease", ttl: configuredTtl, leader: true });
  } else actions.push({ type: "move_lease", ttl: configuredTtl, leader: false });
  return { ...d, actions };
}
