/**
 * Two small predicates of failsafe mode shared by its rules (src/core/failsafe.ts) and the replica's slot advance
 * while etcd is out of reach (src/core/failsafe_slots.ts): whether failsafe mode is on, and whether a leader's
 * call is recent enough to count.
 *
 * Pure. May import: `src/core/` types only.
 *
 * @module
 */
import type { FailsafeAcceptance } from "./failsafe_types.ts";
import type { DynamicSettings } from "./types.ts";

/** `failsafe_mode` is on and implemented (not refused as a promise hactl cannot keep). */
export function failsafeEnabled(d: DynamicSettings): boolean {
  return d.failsafeMode === true && !(d.unsupportedGuarantees ?? []).includes("failsafe_mode");
}

/** The acceptance is younger than `ttl` seconds at `now` (monotonic ms). */
export function acceptanceFresh(
  acc: FailsafeAcceptance | null | undefined,
  now: number,
  ttl: number,
): boolean {
  return !!acc && now - acc.at < ttl * 1000;
}
