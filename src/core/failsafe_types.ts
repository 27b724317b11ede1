/**
 * The vocabulary of failsafe mode (src/core/failsafe.ts): the `failsafe` key, the leader's confirmation round and
 * what a replica remembers of the leader's calls. Mixed into `ClusterView`, `DynamicSettings`, `Observation` and
 * `Action` (src/core/types.ts) as optional parts, so a value built without them means "failsafe off".
 *
 * Pure types; imports nothing.
 *
 * @module
 */

/** The `failsafe` key as Patroni writes it: member name -> REST API url (`{"pg1":"http://10.0.0.1:8008/patroni"}`). */
export type FailsafeTopology = Record<string, string>;

/** One member's answer to the leader's `POST /failsafe`. */
export interface FailsafeAnswer {
  name: string;
  /** HTTP 200 with the body `Accepted`. */
  accepted: boolean;
  /** The member's received/replayed WAL position (the `lsn` header), when it sent one. */
  lsn?: number | null;
  /** Why it did not accept (the body of a refusal, or the transport error). */
  error?: string;
  /** The member's own `ttl` (the `ttl` header; hactl's): it stays out of any race for this long after accepting. */
  ttl?: number | null;
}

/** The leader's confirmation round: every other member of the `failsafe` key asked once, in parallel. */
export interface FailsafeRound {
  /** Monotonic ms just before the first request left: every acceptance happened after it. */
  startedAt: number;
  answers: FailsafeAnswer[];
}

/** What a replica remembers of the last `POST /failsafe` it accepted. */
export interface FailsafeAcceptance {
  /** The leader that called. */
  leader: string;
  /** Monotonic ms of the acceptance. */
  at: number;
  /** The ttl (s) this member answered with: it stays out of any race at least that long, whatever it reads since. */
  ttl?: number;
  /**
   * The leader's slot positions from the call (`slots`: what it writes to the `status` key), which this member
   * advances its copies of the permanent slots to while etcd is out of reach (src/core/failsafe_slots.ts).
   */
  slots?: Record<string, number>;
}

/** The failsafe part of one cycle's observation. */
export interface FailsafeObservation {
  /** The `failsafe` key as last read from etcd (null: not set). */
  key?: FailsafeTopology | null;
  /** The leader's round, run this cycle (only by a primary that lost etcd with failsafe mode on). */
  round?: FailsafeRound;
  /** The last `POST /failsafe` this member accepted (null: none). */
  accepted?: FailsafeAcceptance | null;
}

/** `ClusterView`'s failsafe part. */
export interface FailsafeViewPart {
  /** The `failsafe` key; absent or null when it is not set (or is not a JSON object of strings). */
  failsafe?: FailsafeTopology | null;
}

/** `DynamicSettings`' failsafe part. */
export interface FailsafeSettingsPart {
  /** `failsafe_mode` (Patroni's dynamic key; off by default). */
  failsafeMode?: boolean;
}

/** `Observation`'s failsafe part. */
export interface FailsafeObservationPart {
  failsafe?: FailsafeObservation;
}

/** The failsafe actions. */
export type FailsafeAction =
  /** Write the `failsafe` key (the leader, after a successful renewal, when the topology changed). */
  | { type: "write_failsafe"; value: FailsafeTopology }
  /**
   * Every member of the `failsafe` key accepted the round that started at `since`: keep running as the primary,
   * re-arming the fence and pinging the watchdog as a renewal that started then with a lease of `ttl` would (the
   * shortest of this member's ttl and those the members answered with).
   */
  | { type: "failsafe_keep"; since: number; ttl: number };

/** What the REST API reports of failsafe mode (`GET /metrics`). */
export interface FailsafeReport {
  /** `failsafe_mode` is on (and implemented). */
  enabled: boolean;
  /** Leader: a round that every member accepted within the last ttl; replica: a call accepted within the last ttl. */
  active: boolean;
  /** This member is named in the `failsafe` key. */
  member: boolean;
}

/** `NodeSnapshot`'s failsafe part. */
export interface FailsafeSnapshotPart {
  failsafe?: FailsafeReport;
}
