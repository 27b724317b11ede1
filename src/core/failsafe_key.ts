/**
 * Who the `failsafe` key keeps out of the leader race. A leader cut off from etcd keeps running on its rounds among
 * the members of the key it wrote, whatever the config says now, so a member that a non-empty key leaves out does
 * not race, nor does anyone wait for it as the candidate of a switchover. Only an operator's failover to a named
 * member (no leader named) goes past the key: that is the operator's word that the members of the key are gone, as
 * Patroni takes any failover request (which lets a switchover candidate race beside a leader on failsafe rounds).
 *
 * Pure; imports types only.
 *
 * @module
 */

import type { ClusterView } from "./types.ts";

/** `name` is left out of a non-empty `failsafe` key and no operator failover to a named member is pending. */
export function failsafeKeyExcludes(view: ClusterView, name: string): boolean {
  const key = view.failsafe;
  if (!key || Object.keys(key).length === 0 || name in key) return false;
  const operatorFailover = !!view.failover?.member && !view.failover.leader;
  return !operatorFailover;
}
