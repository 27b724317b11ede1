/**
 * The vocabulary shared by every module: what the DCS holds (ClusterView), what Postgres looks like (PgObservation),
 * what one HA cycle sees (Observation) and may do (Action). Pure: imports only other pure type files. Names: the
 * *leader* holds the DCS key, *primary* and *replica* are Postgres roles, a *member* is a registered agent.
 *
 * @module
 */
import type { OfflineMemoryPart } from "./offline_types.ts";
import type { AcquireGuard } from "./acquire_guard_types.ts";
import type * as F from "./failsafe_types.ts";
import type { DynamicSyncFields, PgSyncFields, ReplicaLsns, SyncAction, SyncMemory } from "./sync_types.ts";
import type { RaceBackoffMemory } from "./race_backoff_types.ts";
import type { SlotSettingsPart, SlotSyncFields } from "./slot_rules.ts";
import type { StandbyClusterPart, Upstream } from "./standby_types.ts";
import type { CheckpointAction, LeaderRead, PgCheckpointFields } from "./checkpoint_types.ts";
import type { HsfAction, HsfMemoryPart } from "./hot_standby_feedback_types.ts";
export type { Upstream } from "./standby_types.ts";
import type { DynamicStopPart, PrePromoteJobPart, PrePromoteMemoryPart } from "./hook_types.ts";
import type { DynamicPgRolePart } from "./pg_role_types.ts";

/** Patroni's PostgreSQL state strings. */
export type PgStateName =
  | "initializing new cluster"
  | "initdb failed"
  | "running custom bootstrap script"
  | "custom bootstrap failed"
  | "creating replica"
  | "running"
  | "starting"
  | "starting after custom bootstrap"
  | "start failed"
  | "restarting"
  | "restart failed"
  | "stopping"
  | "stopped"
  | "stop failed"
  | "crashed";

/** The ordered list of state names; the index is the value of the `patroni_postgres_state` metric. */
export const PG_STATE_NAMES: readonly PgStateName[] = [
  "initializing new cluster",
  "initdb failed",
  "running custom bootstrap script",
  "custom bootstrap failed",
  "creating replica",
  "running",
  "starting",
  "starting after custom bootstrap",
  "start failed",
  "restarting",
  "restart failed",
  "stopping",
  "stopped",
  "stop failed",
  "crashed",
];

/** Patroni's member roles as written into `members/<name>`. */
export type MemberRole = "primary" | "replica" | "standby_leader" | "demoted" | "uninitialized" | "promoted";

/** Tags as configured (`tags:` in YAML). Custom keys are allowed. */
export interface Tags {
  nofailover?: boolean;
  failover_priority?: number | string;
  nosync?: boolean;
  sync_priority?: number | string;
  clonefrom?: boolean;
  noloadbalance?: boolean;
  replicatefrom?: string;
  nostream?: boolean;
  [custom: string]: unknown;
}

/**
 * The JSON value of `members/<name>`, written compact with snake_case keys exactly
 * as Patroni writes it. Unknown keys written by other tools are preserved when read.
 */
export interface MemberRecord {
  conn_url: string;
  api_url: string;
  state: string;
  role: string;
  version: string;
  proxy_url?: string;
  xlog_location?: number;
  replay_lsn?: number;
  receive_lsn?: number;
  replication_state?: string;
  timeline?: number;
  tags?: Tags;
  pending_restart?: boolean;
  pending_restart_reason?: Record<string, { old_value: string; new_value: string }>;
  checkpoint_after_promote?: boolean;
  scheduled_restart?: Record<string, unknown>;
  pause?: boolean;
  [other: string]: unknown;
}

/** A registered member as read from the DCS. Revisions and lease ids are etcd int64 values kept as strings. */
export interface Member {
  name: string;
  data: MemberRecord;
  modRevision: string;
  /** Lease id as a decimal string, "0" when the key has no lease. */
  lease: string;
}

/** The holder of the `leader` key. `createRevision` + `lease` identify the lease term. */
export interface Leader {
  name: string;
  createRevision: string;
  modRevision: string;
  lease: string;
}

/** The value of the `status` key: `{"optime":<lsn>,"slots":{...},"retain_slots":[...]}`. */
export interface ClusterStatus {
  optime: number | null;
  slots: Record<string, number>;
  retainSlots: string[];
}

/** The value of the `failover` key; `member` is the candidate. */
export interface FailoverIntent {
  leader?: string;
  member?: string;
  scheduledAt?: string;
  modRevision: string;
}

/** The value of the `sync` key. */
export interface SyncState {
  leader: string | null;
  syncStandby: string[];
  quorum: number;
  modRevision: string;
}

/** One `history` entry: `[timeline, switch_lsn, reason, iso_timestamp?, new_leader?]`. */
export type HistoryEntry = [number, number, string, string?, string?];

/** The dynamic configuration as stored in the `config` key (raw JSON object) and its mod revision. */
export interface StoredConfig {
  value: Record<string, unknown>;
  modRevision: string;
}

/**
 * One consistent picture of `/<namespace>/<scope>/` in etcd. Absent keys are `null`.
 * Undecodable values are reported in `problems` rather than thrown (garbage in etcd must not stop the agent).
 */
export interface ClusterView extends F.FailsafeViewPart {
  /** `null` = key absent; `""` = bootstrap in progress; otherwise the system identifier. */
  initialize: string | null;
  config: StoredConfig | null;
  leader: Leader | null;
  members: Member[];
  status: ClusterStatus | null;
  failover: FailoverIntent | null;
  sync: SyncState | null;
  history: HistoryEntry[] | null;
  /** etcd header revision of the read that produced this view. */
  revision: string;
  /** Human-readable notes about keys that could not be decoded. */
  problems: string[];
}

/** What the local Postgres looks like, as read by the adapter at the start of a cycle. */
export interface PgObservation extends PgSyncFields, PgCheckpointFields {
  /** `empty`: no data dir or no PG_VERSION; `inaccessible`: exists but cannot be read. */
  dataDir: "empty" | "initialized" | "inaccessible";
  /** Postmaster process alive (from postmaster.pid + signal 0). */
  running: boolean;
  /** Accepts SQL connections and answered the status query. */
  queryable: boolean;
  /** `primary` when `pg_is_in_recovery()` is false. Null when unknown. */
  role: "primary" | "replica" | null;
  /** From the data dir: standby.signal present means Postgres will start as a replica. */
  standbySignal: boolean;
  sysid: string | null;
  timeline: number | null;
  /** Primary: current flush LSN. Replica: max(receive, replay). */
  walPosition: number | null;
  receiveLsn: number | null;
  replayLsn: number | null;
  replayedTimestamp: string | null;
  replayPaused: boolean;
  /** `streaming` when a WAL receiver is streaming, `in archive recovery` otherwise (replicas only). */
  replicationState: "streaming" | "in archive recovery" | null;
  /** The upstream the running replica is configured for (primary_conninfo host:port), if any. */
  upstream: string | null;
  /** Physical replication slots present on this server. */
  slots: string[];
  /** `restart_lsn` of the physical slots that reserve WAL, `confirmed_flush_lsn` of the logical ones. */
  slotPositions?: Record<string, number>;
  /** Logical slots present (not temporary, not PostgreSQL 17 failover slots); absent where not observed. */
  logicalSlots?: string[];
  /** Rows of pg_stat_replication. */
  replication: ReplicationRow[];
  serverVersion: number | null;
  postmasterStartTime: string | null;
  pendingRestart: boolean;
  /** Why a restart is pending: `{param: {old_value, new_value}}` (Patroni 3.x `pending_restart_reason`). */
  pendingRestartReason: Record<string, { old_value: string; new_value: string }>;
  /** The switches recorded in the current timeline's history file (`pg_wal/<TLI>.history`); empty on timeline 1. */
  timelineHistory: TimelineSwitch[];
  /**
   * A stopped server's position as pg_controldata records it (Patroni's rule): after a shutdown in recovery (or
   * a crash while in archive recovery) the minimum recovery ending location and its timeline, else the latest
   * checkpoint and its timeline. Absent while Postgres runs or when pg_controldata could not be read.
   */
  controlPosition?: LocalPosition | null;
  /**
   * A replica's timelines with a history file in its pg_wal: Postgres (`recovery_target_timeline = latest`) picks
   * the newest it finds when it starts, and cannot then follow a leader whose history does not contain that one.
   */
  historyTimelines?: readonly number[];
  /**
   * A running replica's minimum recovery point (`pg_control_recovery()`): its pages already hold WAL up to there,
   * on that timeline. After pg_rewind it is the source's position, which may be on a newer timeline than the
   * WAL replayed so far.
   */
  minRecoveryPoint?: LocalPosition | null;
  /**
   * The switches recorded in the history file of this member's own timeline (a stopped server's pg_controldata
   * timeline, a running replica's), to tell two histories that got the same timeline number apart; null when it
   * could not be read.
   */
  positionHistory?: TimelineSwitch[] | null;
}

/** Where this member's history ends: its timeline, the position on it, and whether it was in recovery. */
export interface LocalPosition {
  inRecovery: boolean;
  timeline: number;
  lsn: number;
}

/**
 * The leader's timeline and history read from its own server (src/pg/leader_timeline.ts) for the divergence check
 * (`switchWal`: whether the WAL after a stopped member's last switch point is the leader's); `error` when unreadable.
 */
export type LeaderTimeline =
  | ({ member: string; inRecovery: false; timeline: number; history: TimelineSwitch[] } & LeaderRead)
  | { member: string; error: string };

/** One line of a timeline history file: the parent timeline, the switch position and Postgres's reason. */
export interface TimelineSwitch {
  timeline: number;
  switchLsn: number;
  reason: string;
}

export interface ReplicationRow extends ReplicaLsns {
  usename: string;
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  sync_priority: number;
  /** How far the replica confirmed it flushed this server's WAL (`X/Y`), when it reported it. */
  flush_lsn?: string | null;
}

/** Long-running operations executed outside the cycle. Their state appears in the next observation. */
export type JobKind = JobRequest["kind"];

export interface JobState extends PrePromoteJobPart {
  kind: JobKind;
  /** Human description, e.g. "bootstrap from leader 'pg1'". */
  description: string;
  startedAt: number;
  /** `running` while in flight; `ok`/`failed` once, for one observation after completion. */
  status: "running" | "ok" | "failed";
  error?: string;
  /** A failed job that did not get to change anything (its upstream could not be reached): worth another try. */
  retryable?: boolean;
}

/** The fencing supervisor's state for `GET /patroni` and `/metrics`. */
export interface FenceSupervisorReport {
  /** `off` when `fencing.supervisor: false`. */
  state: "running" | "starting" | "not running" | "not answering" | "not persisting" | "off";
  /** The member may lead as far as the supervisor is concerned (also true when it is off). */
  usable: boolean;
  pid?: number | null;
  /** How many times it was started again after it exited. */
  restarts?: number;
  problem?: string | null;
}

/** A peer's answer to `GET /patroni`, reduced to what the leader race needs. */
export interface PeerStatus {
  name: string;
  reachable: boolean;
  role?: string;
  walPosition?: number;
  timeline?: number;
  nofailover?: boolean;
  failoverPriority?: number;
  watchdogFailed?: boolean;
  /** Its fencing supervisor is not usable (`fence_supervisor.usable: false`): it will not take the key. */
  fenceFailed?: boolean;
  /** `replication_state` of a replica (`streaming`, `in archive recovery`), when it said. */
  replicationState?: string;
}

/** The DCS part of an observation: a fresh view, or how long etcd has been unreachable. */
export type DcsObservation =
  | { kind: "ok"; cluster: ClusterView }
  | { kind: "unreachable"; since: number; error: string };

/** Dynamic settings after validation and timing-rule adjustment. */
export interface DynamicSettings
  extends
    F.FailsafeSettingsPart,
    DynamicSyncFields,
    SlotSettingsPart,
    StandbyClusterPart,
    DynamicStopPart,
    DynamicPgRolePart {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maximumLagOnFailover: number;
  checkTimeline: boolean;
  primaryStartTimeout: number;
  primaryRaceBackoff?: number;
  pause: boolean;
  useSlots: boolean;
  usePgRewind: boolean;
  /** `member_slots_ttl` in seconds: how long the leader keeps the slot of a member that left (default 1800). */
  memberSlotsTtl: number;
  /**
   * `isolation_fence_timeout` in seconds (hactl's own key; default 3, 0 disables): a primary that has heard from
   * neither etcd nor any replica for this long stops Postgres (src/core/isolation.ts).
   */
  isolationFenceTimeout: number;
  /** postgresql.parameters from the dynamic config. */
  parameters: Record<string, string | number | boolean>;
  /** postgresql.pg_hba from the dynamic config (a local postgresql.pg_hba wins over it). */
  pgHba?: string[];
  /**
   * Keys of the dynamic config that promise what hactl cannot keep yet (`synchronous_mode`, `standby_cluster`,
   * ...): while any is set this member does not take the leader key (src/core/unsupported_config.ts).
   */
  unsupportedGuarantees?: readonly string[];
}

/** Everything one cycle of `decide` may look at. Time is an input (ms on a monotonic clock). */
export interface Observation extends F.FailsafeObservationPart {
  now: number;
  /** Wall-clock epoch ms, for timestamps written into the DCS (`history`). */
  wallNow: number;
  dcs: DcsObservation;
  pg: PgObservation;
  job: JobState | null;
  /** Answers of the other members' `GET /patroni`, only present when the agent was asked to fetch them. */
  peers: PeerStatus[] | null;
  /** An operator asked for a reinitialisation (`hactl reinit`, `POST /reinitialize`) not yet carried out. */
  reinitRequested?: boolean;
  /** With `reinitRequested`: clone from the leader with pg_basebackup only (`--from-leader`). */
  reinitFromLeader?: boolean;
  /**
   * Set only in `watchdog.mode: required` when the watchdog cannot be used, saying why: this member must then
   * neither take nor keep the leader key (src/host/watchdog.ts).
   */
  watchdogUnusable?: string;
  /**
   * Set when the fencing supervisor is on (`fencing.supervisor`) but not usable, saying why (not running, or not
   * answering): this member must then neither take nor keep the leader key (src/core/fence_gate.ts).
   */
  fenceUnusable?: string;
  /** A restart asked for (`POST /restart`), now or scheduled, not yet carried out. */
  restart?: RestartIntent | null;
  /**
   * Postgres should re-read its configuration: `config` when the parameters may have changed (the `config` key or
   * the local file), `forced` for `POST /reload`/SIGHUP (Postgres is reloaded even when its files did not change).
   */
  reloadRequested?: "config" | "forced";
  /** The lease this member's keys are held under, as the DCS adapter holds it after this cycle's refresh. */
  lease?: HeldLease | null;
  /**
   * The leader's timeline history, fetched only when this member follows a leader and may have diverged from it
   * (src/core/divergence.ts `divergenceCheckTarget`): stopped, not streaming, or on an older timeline.
   */
  leaderTimeline?: LeaderTimeline;
  /** When this cycle's lease refresh started (monotonic ms): a key taken later sits on the lease as renewed then. */
  leaseRenewedFrom?: number;
  /** The fences as this cycle found them (src/core/lease_ttl.ts `fencesWithin`): gates a move to a shorter lease. */
  fences?: { ttl: number; acknowledged: boolean };
}

/** A lease of this member, as etcd granted it. */
export interface HeldLease {
  /** The TTL (seconds) the lease was asked for (the configured `ttl` at the time of the grant). */
  requestedTtl: number;
  /** The TTL (seconds) etcd granted (etcd raises one below its minimum). */
  ttl: number;
}

/** The filters a restart is subject to (`POST /restart`). */
export interface RestartConditions {
  /** Restart only when the member has this role (`primary`, `standby_leader`, `replica`). */
  role?: "primary" | "standby_leader" | "replica";
  /** Restart only when the running server is older than this (`X.Y` or `X.Y.Z`), kept as given. */
  postgresVersion?: string;
  /** Restart only when a restart is pending. */
  restartPending?: boolean;
  /** Seconds the restarted Postgres may take to come up (overrides `primary_start_timeout`). */
  timeout?: number;
}

/** A restart the agent was asked for: now (the API waits for it) or at a scheduled time. */
export interface RestartIntent {
  /** Wall-clock epoch ms when it is due; null = at once. */
  at: number | null;
  /** The schedule as the client gave it (published in the member key). */
  schedule?: string;
  conditions: RestartConditions;
  /** The postmaster start time when it was scheduled: a restart in between cancels it. */
  postmasterStartTime: string | null;
}

/**
 * State `decide` carries from one cycle to the next. Deliberately small: everything else is observed afresh
 * (the running job, the lock holder in etcd), so a restarted agent decides exactly as the old one would have.
 */
export interface Memory
  extends SyncMemory, RaceBackoffMemory, PrePromoteMemoryPart, OfflineMemoryPart, HsfMemoryPart {
  /** True when the view this cycle decided on named this member as the leader. */
  isLeader: boolean;
  /** Since when (monotonic ms) this leader's Postgres has not been up and answering; null while it is. */
  primaryDownSince: number | null;
  /**
   * Members seen in the DCS and when last (monotonic ms), kept for `member_slots_ttl`: the leader keeps their
   * slots, so a member that restarts (or a former primary that rejoins) finds its slot waiting.
   */
  membersSeen: Record<string, number>;
  /** pg_rewind failed and the data directory may not be removed: stay stopped rather than retry in a loop. */
  rewindFailed: boolean;
  /** Seconds a restarted leader's Postgres may stay down (a restart's `timeout`), instead of primary_start_timeout. */
  startTimeout?: number;
  /**
   * This leader is stopping Postgres cleanly for a switchover (a `demote` job): once Postgres is down the key is
   * released, and Postgres is never started again as a primary under it.
   */
  handover?: boolean;
  /** Since when (monotonic ms) this running replica has not been streaming; absent while it streams. */
  notStreamingSince?: number;
  /** Since when (monotonic ms) it waits for a switchover's final position before racing (handover_wait.ts). */
  finalPositionWaitSince?: number;
}

export const INITIAL_MEMORY: Memory = {
  isLeader: false,
  primaryDownSince: null,
  membersSeen: {},
  rewindFailed: false,
};

/**
 * Effects, in execution order. The executor stops at the first failed action.
 * Contract: `promote` is executed only when an `acquire_leader` or `renew_leader` earlier in the same plan
 * succeeded (the lock is ours in this very cycle).
 */
export type Action =
  | { type: "acquire_initialize" }
  | { type: "write_initialize"; sysid: string }
  | { type: "cancel_initialize" }
  | { type: "write_config"; value: Record<string, unknown> }
  | { type: "acquire_leader"; guard?: AcquireGuard }
  | { type: "renew_leader" }
  | { type: "release_leader" }
  /**
   * Move this member's keys to a new lease of `ttl` (src/core/lease_ttl.ts); with `leader`, the leader key by a
   * compare-and-set (refused when it is no longer ours), after which the old lease is revoked.
   */
  | { type: "move_lease"; ttl: number; leader: boolean }
  | { type: "drop_lease" }
  | { type: "write_status"; optime: number; slots?: Record<string, number>; retainSlots?: string[] }
  | { type: "write_history"; history: HistoryEntry[] }
  | { type: "start_job"; job: JobRequest }
  | { type: "promote" }
  | { type: "demote"; mode: "immediate" | "fast" }
  | { type: "follow"; upstream: Upstream }
  | ({ type: "sync_slots"; slots: string[] } & SlotSyncFields)
  | { type: "clear_failover"; modRevision: string }
  /** Forget the restart intent (its conditions no longer hold, or it came too late). */
  | { type: "drop_restart"; reason: string }
  /** Rewrite postgresql.conf for the role and reload Postgres (always when `force`, else when it changed). */
  | { type: "reload"; role: "primary" | "replica"; upstream: Upstream | null; force: boolean }
  | F.FailsafeAction
  | SyncAction
  | HsfAction
  | CheckpointAction;

/** A long operation the executor starts in the background. */
export type JobRequest =
  | { kind: "bootstrap" }
  /**
   * `fromLeader`: pg_basebackup only (`hactl reinit --from-leader`), not `create_replica_methods`. No `upstream`:
   * no member leads, only the methods with `no_leader` run.
   */
  | { kind: "clone"; upstream: Upstream | null; fromLeader?: boolean }
  | { kind: "rewind"; upstream: Upstream }
  | { kind: "start"; role: "primary" | "replica"; upstream: Upstream | null }
  | { kind: "stop"; mode: "fast" | "immediate" }
  /** Stop (fast) and start again in the same role; the leader keeps its key meanwhile. */
  | { kind: "restart"; role: "primary" | "replica"; upstream: Upstream | null }
  /**
   * A switchover's clean shutdown of the leader (fast, with its shutdown checkpoint sent to the streaming
   * replicas), in the background while the loop keeps renewing the key; the key is released once it is done.
   */
  | {
    kind: "demote";
    /**
     * Demoting to a standby cluster (`demote-cluster`): archive the shutdown checkpoint's WAL file afterwards when
     * archiving is on, with no `primary_stop_timeout`, as Patroni does.
     */
    archiveCheckpoint?: boolean;
  }
  /** `pg_ctl promote` and the end of recovery, in the background while the loop keeps renewing the key. */
  | { kind: "promote"; history: HistoryEntry[] };

/** The result of one decision. `reason` is the cycle's one log sentence. */
export interface Decision {
  actions: Action[];
  memory: Memory;
  reason: string;
  /**
   * Set when this member must not go on (Patroni's fatal conditions, e.g. a data directory of another cluster):
   * the agent logs it, shuts down and exits 1.
   */
  fatal?: string;
  /** An error the operator must fix, logged at error level every cycle it holds (the reason is still logged). */
  error?: string;
  warning?: string; // logged once at warning level beside the cycle's line (Patroni's one-off warnings)
}

export { formatLsn, parseLsn } from "./lsn.ts";
export { HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "./version.ts";

/** One phase of a role change, in milliseconds after the first. */
export interface RoleChangePhase {
  /** `leader_gone_detected`, `lock_taken`, `promoted`, `first_writable`. */
  phase: string;
  /** Milliseconds after the first phase. */
  offset_ms: number;
}

export interface RoleChangeRecord {
  /** When the change completed (ISO 8601). */
  at: string;
  /** The leader before, as last seen in the DCS (null when unknown). */
  from: string | null;
  to: string;
  /** `failover` (the leader key vanished), `switchover` (a failover key named a handover) or `takeover`. */
  kind: string;
  phases: RoleChangePhase[];
  /** Every peer's part in the race, as decided. */
  candidates: { name: string; accepted: boolean; why: string }[];
  total_ms: number;
  /** The timeline this member promoted to. */
  timeline?: number;
}

/**
 * What the agent knows about itself right now, published after every cycle and refreshed by the status
 * monitor about once a second. The REST API answers health checks from this snapshot alone (no SQL per request).
 */
export interface NodeSnapshot extends F.FailsafeSnapshotPart {
  name: string;
  scope: string;
  /** The Postgres state string (`running`, `starting`, `stopped`, ...). */
  state: string;
  /** The member role (`primary`, `replica`, `uninitialized`, ...). */
  role: MemberRole;
  pg: PgObservation;
  /** Monotonic ms when `pg` was last refreshed. */
  pgObservedAt: number;
  /** The last cluster view read from etcd, or null when etcd was never reached. */
  cluster: ClusterView | null;
  /** Wall-clock epoch seconds of the last successful DCS read. */
  dcsLastSeen: number;
  /** This member's belief that it holds the leader key, valid until `leaderExpiresAt` (monotonic ms). */
  isLeader: boolean;
  leaderExpiresAt: number;
  dynamic: DynamicSettings;
  tags: Tags;
  /** Monotonic ms when the HA loop will next run (for `/liveness`). */
  nextRunAt: number;
  watchdogFailed: boolean;
  /** The fencing supervisor as `GET /patroni` reports it (`fence_supervisor`); absent when the agent has none. */
  fenceSupervisor?: FenceSupervisorReport;
  /** This member's last promotions, explained (src/core/role_change.ts). */
  roleChanges?: readonly RoleChangeRecord[];
  /** The scheduled restart (`scheduled_restart` of `GET /patroni`), when one is pending. */
  scheduledRestart?: Record<string, unknown>;
}
