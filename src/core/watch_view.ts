/**
 * When a cycle may decide on the view its prefix watch keeps instead of reading the cluster prefix again (one
 * etcd `Range` fewer per member and cycle). Every cycle starts with one `LeaseKeepAlive`; etcd's answer carries a
 * response header with a revision. The adapter keeps a copy of the cluster's keys: loaded by a `Range` at a known
 * revision and brought forward by every event of a watch that delivers every change from the revision after it
 * (`src/dcs/watch_cache.ts`). The cycle uses that copy only when it is complete at exactly the keepalive's header
 * revision, and when that revision is not below any revision this member has had from etcd before (its reads, its
 * own writes); otherwise (no watch established, a lost or compacted watch, a write the watch has not delivered yet,
 * a write elsewhere in the same etcd, which the prefix watch never delivers, an endpoint behind another) it reads
 * the prefix as before.
 *
 * Why the copy is then a read of etcd: etcd's revision numbers the store's states, the same on every etcd member,
 * so a copy complete at revision R holds exactly what any member's `Range` at revision R returns. What the header
 * revision is: the revision the etcd member that took the keepalive had applied when the request arrived (etcd
 * fills the header in before it renews the lease, itself or through its leader). So the copy is what a
 * serializable `Range` on that member, at that moment, returns; it is not a linearizable read, which the `Range`
 * the cycle makes otherwise is (etcd answers it once that member has applied every write the cluster committed
 * before the request).
 *
 * The window that remains: writes the etcd cluster had committed but the member that took the keepalive had not
 * applied yet (on etcd's leader, the moment between committing a write and applying it; on a follower, its
 * replication and apply lag, milliseconds when healthy). The keepalive itself went through to etcd's leader (a member cut off from it fails
 * the renewal), so the lease is renewed either way. Why that window costs no safety: every step that cannot be
 * undone is a compare-and-set evaluated by etcd's leader (taking the leader key, moving it to another lease, the
 * `sync`, `failover`, `config` and `initialize` writes), so a view some milliseconds old can only make such a write
 * lose, never win against a newer state; a promotion follows a renewal by calls of the member's own
 * (src/core/cycle_renewal.ts); the view is one consistent state of the store, and never older than one this
 * member acted on before (the second condition above), so a member never sees a key come back that it saw gone.
 * A leader's key on its renewed lease can leave it only by an explicit delete (an operator's; the lease did not
 * expire), which the watch wakes the loop for, as it does after a `Range`.
 *
 * What closes that window where a decision rests on more than the key it writes: a compare-and-set judges only
 * the keys it names, and a decision such as taking the leader key also rests on others (the `sync` key says who
 * may, the `initialize` key whether to bootstrap, the members who to ask). So a cycle uses the copy only for a
 * routine decision (`routineDecision`: renewing, publishing `status`, keeping slots, following the leader it
 * follows). A decision to do anything else (race for the key, promote, start, stop, clone, rewind or bootstrap,
 * change the `sync` key, hand over, ...) decided on the copy is decided again on a `Range` in the same cycle, so
 * every step that changes roles or data rests on a linearizable read, as it did before the copy.
 *
 * Patroni's etcd3 DCS decides on its watch-fed cache with no such check: a watch that stalls, or a member behind
 * the others, goes unnoticed there until the watch times out.
 *
 * Pure. May import: `./types.ts` (types).
 *
 * @module
 */
import type { Action, Decision } from "./types.ts";

/** What the adapter knows, right after the cycle's lease refresh, for {@linkcode mayUseWatchView}. */
export interface WatchViewFacts {
  /** The revision in the header of the refresh's keepalive answer; null when the refresh granted a new lease. */
  renewalRevision: string | null;
  /**
   * The revision the watch's copy of the cluster prefix is complete at (loaded by a read at a known revision, the
   * watch established and covering every revision since, every event delivered so far applied); null otherwise.
   */
  viewRevision: string | null;
  /** The highest revision in any answer this member has had from etcd (reads, writes, this keepalive); null: none. */
  highestSeen: string | null;
}

/**
 * True when the cycle may use the watch's view instead of reading the prefix: the copy is complete at exactly the
 * keepalive's header revision, and that revision is at least every revision this member has seen.
 */
export function mayUseWatchView(facts: WatchViewFacts | null | undefined): boolean {
  if (!facts || facts.renewalRevision === null || facts.viewRevision === null) return false;
  const renewal = revision(facts.renewalRevision);
  const view = revision(facts.viewRevision);
  if (renewal === null || view === null || renewal !== view) return false;
  const seen = facts.highestSeen === null ? 0n : revision(facts.highestSeen);
  return seen !== null && renewal >= seen;
}

/** A revision as a bigint; null when the text is not one (a positive decimal number). */
function revision(text: string): bigint | null {
  return /^[1-9][0-9]*$/.test(text) ? BigInt(text) : null;
}

/** The actions an idle cycle plans: a decision of these alone may rest on the watch's copy. */
const ROUTINE: ReadonlySet<Action["type"]> = new Set([
  "renew_leader",
  "write_status",
  "sync_slots",
  "follow",
]);

/**
 * True when `d` may stand although it was decided on the watch's copy: it plans only routine actions (see the
 * module comment). Otherwise the cycle reads the prefix and decides again.
 */
export function routineDecision(d: Decision): boolean {
  return d.actions.every((a) => ROUTINE.has(a.type));
}
