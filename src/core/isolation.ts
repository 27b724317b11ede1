/**
 * The early isolation fence, decided here without I/O: a primary that reaches neither etcd nor any replica stops
 * taking writes after `isolation_fence_timeout` seconds, well before its lease-based fence deadline, so that a
 * failover the other members may already be preparing discards at most that many seconds of asynchronously
 * replicated writes.
 *
 * Two signals, both read beside the HA loop (the loop itself may be stuck in an etcd call):
 * - **replicas silent**: `ReplicaConfirmations` samples the primary's flush position with the positions its WAL
 *   senders report (`pg_stat_replication.flush_lsn`, about once a second). The oldest sample that no replica has
 *   confirmed yet gives "the oldest write that only this server holds", and since when. An idle primary has
 *   nothing unconfirmed, so it never counts as silent: with nothing to lose, the ordinary rules suffice.
 * - **etcd silent**: the oldest etcd call since the last success has gone unanswered (pending, or failed and
 *   retried) for the timeout. Time between cycles, when nothing was asked, does not count: an etcd that merely
 *   was not asked is not silent.
 *
 * When the replicas have been silent for a third of the timeout and etcd has not been asked for as long, the
 * agent runs a cycle at once (`shouldProbe`), so an etcd call is under way whatever `loop_wait` is.
 *
 * Not in pause mode, not with a timeout of 0, and not when the last cluster view names no other member that could
 * take over (a failover cannot discard anything then: the ordinary DCS rules apply).
 *
 * Pure: no clock, no I/O; imports nothing.
 *
 * @module
 */

/** One reading of the primary: its flush position and the furthest position any replica confirmed. */
export interface ReplicationSample {
  /** Monotonic ms. */
  at: number;
  /** The primary's `pg_current_wal_flush_lsn()` (bytes). */
  primaryLsn: number;
  /** The highest `flush_lsn` any WAL sender reports (null: none connected, or none reported one). */
  confirmedLsn: number | null;
  /** The primary's timeline (a new timeline starts the bookkeeping afresh). */
  timeline: number | null;
}

/**
 * Since when this primary has held WAL that no replica confirmed. Feed it every status reading of the primary;
 * `reset()` when the server is not a primary.
 */
export class ReplicaConfirmations {
  /** WAL positions not yet confirmed, oldest first, with when the primary first had them. */
  #pending: { at: number; lsn: number }[] = [];
  #confirmed = 0;
  #timeline: number | null = null;

  observe(s: ReplicationSample): void {
    if (s.timeline !== this.#timeline) {
      this.reset();
      this.#timeline = s.timeline;
    }
    // Confirmed positions only grow within a timeline (a replica that reconnects restarts from what it has).
    if (s.confirmedLsn !== null && s.confirmedLsn > this.#confirmed) this.#confirmed = s.confirmedLsn;
    const last = this.#pending.at(-1);
    if (s.primaryLsn > this.#confirmed && (!last || s.primaryLsn > last.lsn)) {
      this.#pending.push({ at: s.at, lsn: s.primaryLsn });
    }
    while (this.#pending.length > 0 && this.#pending[0]!.lsn <= this.#confirmed) this.#pending.shift();
  }

  /** When the oldest unconfirmed WAL was first seen on the primary; null when every write is on a replica. */
  get unconfirmedSince(): number | null {
    return this.#pending[0]?.at ?? null;
  }

  reset(): void {
    this.#pending = [];
    this.#confirmed = 0;
    this.#timeline = null;
  }
}

/** What the isolation check looks at. Times are monotonic ms. */
export interface IsolationInput {
  now: number;
  /** `isolation_fence_timeout` in ms; 0 disables the fence. */
  timeoutMs: number;
  pause: boolean;
  /** Postgres runs as a primary (it may be accepting writes). */
  writablePrimary: boolean;
  /** Members other than this one in the last cluster view that could be promoted (not nofailover). */
  failoverCandidates: number;
  /** From `ReplicaConfirmations.unconfirmedSince`. */
  unconfirmedSince: number | null;
  /** The last successful etcd call (null: none yet). */
  dcsLastSuccess: number | null;
  /** When the oldest etcd call made since the last success started (null: none pending or failed since). */
  dcsUnansweredSince: number | null;
  /**
   * Failsafe mode: the start of the last round of `POST /failsafe` that every member of the `failsafe` key
   * accepted (src/core/failsafe.ts). Such a round counts as the replicas heard from at its start.
   */
  failsafeConfirmedAt?: number | null;
}

function applies(i: IsolationInput): boolean {
  return i.timeoutMs > 0 && !i.pause && i.writablePrimary && i.failoverCandidates > 0;
}

/** Why the primary must fence itself now, or null. */
export function isolationVerdict(i: IsolationInput): string | null {
  if (!applies(i) || i.unconfirmedSince === null || i.dcsUnansweredSince === null) return null;
  // Before the first answer from etcd (agent start) there is no lease to lose yet: the ordinary rules decide.
  if (i.dcsLastSuccess === null) return null;
  // A failsafe round every member accepted is the replicas' answer too (they are alive, reachable, and none of
  // them takes part in a race for ttl): the replicas are silent only since the later of the two.
  const heardAt = Math.max(i.unconfirmedSince, i.failsafeConfirmedAt ?? -Infinity);
  const replicasSilent = i.now - heardAt;
  const dcsSilent = i.now - i.dcsUnansweredSince;
  if (replicasSilent < i.timeoutMs || dcsSilent < i.timeoutMs) return null;
  return `no replica has confirmed WAL for ${
    (replicasSilent / 1000).toFixed(1)
  } s and etcd has not answered for ${(dcsSilent / 1000).toFixed(1)} s (isolation_fence_timeout ${
    i.timeoutMs / 1000
  } s)`;
}

/**
 * Whether to run an HA cycle now so that etcd is asked (and its silence measured) without waiting out
 * `loop_wait`: the replicas have been silent for a third of the timeout, no etcd call is pending, and etcd has not
 * answered for as long.
 */
export function shouldProbe(i: IsolationInput): boolean {
  if (!applies(i) || i.unconfirmedSince === null || i.dcsUnansweredSince !== null) return false;
  const third = i.timeoutMs / 3;
  return i.now - i.unconfirmedSince >= third &&
    (i.dcsLastSuccess === null || i.now - i.dcsLastSuccess >= third);
}
