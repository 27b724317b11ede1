/**
 * The ports the loop shell talks through. `src/dcs/etcd.ts` and `src/pg/postgres.ts` implement them for real;
 * `tests/fakes/` holds honest in-memory versions for the simulator, kept in line by contract tests.
 *
 * Pure: interfaces only.
 *
 * @module
 */
import type { AcquireGuard } from "./acquire_guard_types.ts";
import type {
  ClusterView,
  HeldLease,
  HistoryEntry,
  LeaderTimeline,
  MemberRecord,
  PgObservation,
  Upstream,
} from "./types.ts";
import type { WalProbe } from "./wal_probe.ts";
import type { WatchViewFacts } from "./watch_view.ts";
import type { SlotSyncFields } from "./slot_rules.ts";

/** A DCS call failed (timeout, unreachable, permission). Carries the underlying error as `cause`. */
export class DcsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DcsError";
  }
}

/** A Postgres operation failed. */
export class PostgresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PostgresError";
  }
}

/**
 * The consensus store, scoped to one cluster (`/<namespace>/<scope>/`) and one member (`name`).
 *
 * Every method throws `DcsError` when etcd cannot be reached within the call deadline; "did not win" answers
 * (a lost CAS) are `false`, not errors.
 */
export interface Dcs {
  /** One range over the cluster prefix, decoded. */
  loadCluster(): Promise<ClusterView>;
  /** Bound every later call by this many seconds (the dynamic config's `retry_timeout`). */
  setRetryTimeout(seconds: number): void;
  /**
   * Make sure this member has a live lease and renew it once: a lease of `ttl` is granted only when there is none
   * (or etcd dropped it); a lease of another TTL is kept, since it may hold the leader key (`moveLease` changes
   * the TTL). Returns false when the lease had expired and a new one had to be granted.
   */
  refreshLease(ttl: number): Promise<boolean>;
  /** The lease held now with the TTL etcd granted it, or null when there is none. */
  heldLease(): HeldLease | null;
  /**
   * Move this member's keys to a new lease of `ttl`. With `leader`: grant the lease, move `leader` onto it by a
   * transaction that holds only while the key has our name at the create revision just read (so it is never left
   * without an owner nor taken from another member), with `members/<name>`, then revoke the old lease; false (nothing
   * moved, the old lease kept) when the key is not ours. Without `leader`: the member key moves and the
   * old lease is left to expire. The new lease is the one held from then on.
   */
  moveLease(ttl: number, leader: boolean): Promise<boolean>;
  /**
   * Stop renewing the lease held now, without a call: the next call grants a new one (the member key is written
   * on it), and the old lease expires within its TTL with whatever still hangs on it — a leader key whose delete
   * never got through to etcd.
   */
  dropLease(): void;
  /** Write `members/<name>` with the lease (skipped when the value and lease are unchanged). */
  touchMember(data: MemberRecord): Promise<void>;
  /** `txn{ create_revision(leader)==0 -> put(leader, name, lease) }`. True when the lock was taken. */
  attemptToAcquireLeader(guard?: AcquireGuard): Promise<boolean>;
  /**
   * Keep the lock: renew the lease, then verify against etcd (not the cache) that `leader` holds our name with our
   * lease; when the lease was re-granted, move the key to the new lease by a value CAS. False when not ours.
   */
  updateLeader(): Promise<boolean>;
  /**
   * No call: true when the last `refreshLease` renewed the lease held now, the `loadCluster` (or `watchView`) after
   * it read `leader` with our name on that lease, and nothing has changed since (no other lease held, no change of the key seen by
   * the watch, no other read). The lock is then kept by the cycle's own refresh (src/core/cycle_renewal.ts).
   * Answers once: false again until the next refresh and read.
   */
  lockReadSinceRenewal?(): boolean;
  /**
   * No call: right after `refreshLease`, the revision of its keepalive's answer, the revision the watch's copy of
   * the prefix is complete at, and the highest revision seen, for `mayUseWatchView` (src/core/watch_view.ts).
   */
  watchViewFacts?(): WatchViewFacts;
  /**
   * No call: the watch's copy of the prefix, decoded, in place of `loadCluster` (with the same effects on the
   * adapter's state: `lockReadSinceRenewal`, the member and status caches). Throws when the copy is not complete.
   */
  watchView?(): ClusterView;
  /** `txn{ value(leader)==name -> delete(leader) }`. True when deleted. */
  deleteLeader(): Promise<boolean>;
  /** `createNew`: CAS-create `initialize` with `value` (the bootstrap race); else unconditional put. */
  initialize(createNew: boolean, value: string): Promise<boolean>;
  /** Delete `initialize` (a failed bootstrap). */
  cancelInitialization(): Promise<void>;
  /** Write `config`; with `modRevision` as a CAS on the key's mod revision ("0" = must not exist). */
  setConfig(value: Record<string, unknown>, modRevision?: string): Promise<boolean>;
  /** Write `status` (`{"optime":...,"slots":{...}}`), only when it changed since the last write. */
  writeStatus(optime: number, slots?: Record<string, number>, retainSlots?: string[]): Promise<void>;
  /** Write `history`. */
  setHistory(history: HistoryEntry[]): Promise<void>;
  /** Write `failsafe` (the leader's failsafe topology, `{"<name>":"<api_url>",...}`). */
  writeFailsafe(value: Record<string, string>): Promise<void>;
  /** Write `failover`; with `modRevision` as CAS. */
  setFailover(value: Record<string, unknown>, modRevision?: string): Promise<boolean>;
  /**
   * Write `sync` (`{"leader":...,"quorum":n,"sync_standby":"a,b"}`) by a compare-and-set on its mod revision
   * (null: the key must not exist). False when someone else changed it.
   */
  writeSync(leader: string, standbys: string[], quorum: number, modRevision: string | null): Promise<boolean>;
  /** Delete `sync` if its mod revision is still `modRevision`. False when someone else changed it. */
  deleteSync(modRevision: string): Promise<boolean>;
  /**
   * Resolve when something the loop cares about changed (`leader`, `config`, `failover`, `sync`, or `status` when
   * we are not the leader) or when `timeoutMs` passed. True when woken by a change. Aborting `signal` ends the
   * wait at once with false, leaving any change that arrives later pending for the next call.
   */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * Revoke the lease (dropping `members/<name>` and a held `leader`) and close connections. With `keepLease`
   * the lease is left to expire by itself (a paused leader's key outlives its agent, as Patroni's does).
   */
  close(opts?: { keepLease?: boolean }): Promise<void>;
}

/** How a stop is asked for: `emergency` (the lease or isolation fence) skips the `before_stop` script. */
export interface StopOptions {
  emergency?: boolean;
  /**
   * `primary_stop_timeout` in force (src/core/stop_timeout.ts): seconds the stop may take before the postmaster is
   * killed (SIGKILL), instead of `pg_ctl_timeout` for each of the fast and immediate attempts.
   */
  timeoutS?: number;
  /** After the stop, archive the WAL file of the shutdown checkpoint when archiving is on (`demote-cluster`). */
  archiveShutdownCheckpoint?: boolean;
}

/** Upstream connection and the replication credentials a replica needs. */
export type { Upstream };

/**
 * The local PostgreSQL instance. Long operations (`bootstrap`, `createReplica`, `start`, `stop`) may take many
 * seconds; the shell runs them as background jobs so the loop keeps renewing its lease meanwhile.
 */
export interface PostgresPort {
  /** Read the data directory and, when running, query the server. Never throws for a stopped server. */
  observe(): Promise<PgObservation>;
  /** initdb, write config and pg_hba, start as primary, wait until it accepts connections, create roles. */
  bootstrap(): Promise<void>;
  /**
   * Create the data directory from `upstream` with `upstream.cloneMethods` (a standby cluster's), else
   * `postgresql.create_replica_methods`, in order (pg_basebackup only with `fromLeader`), then write the replica
   * configuration. No `upstream` (no member leads): only the methods marked `no_leader`, with an empty
   * connection string.
   */
  createReplica(upstream: Upstream | null, opts?: { fromLeader?: boolean }): Promise<void>;
  /** Write config files for the role (standby.signal/primary_conninfo for replicas) and start the postmaster. */
  start(role: "primary" | "replica", upstream: Upstream | null): Promise<void>;
  /**
   * Stop the postmaster (`fast` = SIGINT, `immediate` = SIGQUIT), waiting until it has exited. `onSafepoint` is
   * called once (before this resolves, at the latest when the postmaster has exited) as soon as the server can no
   * longer commit a client's write: it got the shutdown request and no client backend is left. The shell closes
   * the watchdog there, so a long shutdown checkpoint cannot reset the host. The `before_stop` script runs first,
   * except for an `emergency` stop (a fence's, which must not wait for a script).
   */
  stop(mode: "fast" | "immediate", onSafepoint?: () => void, opts?: StopOptions): Promise<void>;
  /**
   * Make a stopped former primary (or a diverged replica) follow `upstream`: bring it to a clean shutdown (crash
   * recovery in single-user mode when needed), then `pg_rewind` from the upstream, which does nothing when the
   * histories have not diverged. Leaves Postgres stopped, ready to start as a replica.
   */
  rewind(upstream: Upstream): Promise<void>;
  /**
   * `pg_ctl promote` and wait until it is out of recovery. `clusterHistory` is the `history` key: before promoting,
   * the adapter makes every timeline it names known to Postgres (history files in pg_wal), so the new timeline's
   * number is above every timeline the cluster has used and never names two different histories.
   */
  promote(clusterHistory: readonly HistoryEntry[]): Promise<void>;
  /**
   * CHECKPOINT on the running primary (its new timeline then is in pg_control, which pg_rewind reads), in a session
   * of its own without a statement timeout. Rejects when Postgres does not answer or is in recovery, or when a stop
   * of Postgres ends the session. Called beside the HA loop (src/shell/checkpoint_runner.ts), never awaited by it.
   */
  checkpoint(): Promise<void>;
  /**
   * Point a running replica at `upstream`: rewrite primary_conninfo/primary_slot_name and reload.
   * Returns true when something changed.
   */
  follow(upstream: Upstream): Promise<boolean>;
  /**
   * Rewrite postgresql.conf for the running server's role (a replica keeps following `upstream`) with the current
   * parameters, and `pg_ctl reload` when the file changed or `force` is set. Returns true when Postgres was
   * reloaded. Which parameters then wait for a restart shows in the next observation (`pendingRestart`).
   */
  reload(role: "primary" | "replica", upstream: Upstream | null, force: boolean): Promise<boolean>;
  /**
   * Make this server's slots what `planSlotSync` (src/core/slot_rules.ts) says: on a primary, the member slots
   * `names` and the permanent slots exist and other inactive slots that are not ignored are dropped; on a replica
   * (`fields.role`), the permanent slots exist and are advanced. Does nothing when the server's role differs.
   */
  syncSlots(names: string[], fields?: SlotSyncFields): Promise<void>;
  /**
   * Set `synchronous_standby_names` (null: back to the configured value) in postgresql.conf and reload when the
   * file changed; the value stays in force for later starts and reloads of this agent.
   */
  setSyncStandbyNames(value: string | null): Promise<void>;
  /**
   * The timeline and timeline history of the read-write `leader`, read from the leader's own server, for the
   * divergence check. Never throws: an unreachable leader, or one still in recovery, gives `{ error }`. With a
   * `probe`, this stopped member's WAL after its switch point is compared with the leader's (`switchWal`).
   */
  leaderTimeline(leader: Upstream, probe?: WalProbe | null): Promise<LeaderTimeline>;
  /** Close pooled connections. */
  close(): Promise<void>;
}

/**
 * A Postgres operation could not start because its upstream (the member to rewind or clone from) did not answer;
 * nothing was changed, so the operation may simply be tried again.
 */
export class UpstreamUnavailableError extends PostgresError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamUnavailableError";
  }
}

/** Asks the other members for their status (`GET <api_url>`), in parallel, with a short timeout. */
export interface PeerClient {
  fetchStatuses(
    members: { name: string; apiUrl: string }[],
    timeoutMs: number,
  ): Promise<import("./types.ts").PeerStatus[]>;
  /**
   * The leader's failsafe round: `POST <api_url>/failsafe` with `body` to every member, in parallel, each bounded by
   * `timeoutMs`; never throws (a member that does not answer 200 `Accepted` has `accepted: false`). Optional: a
   * client without it runs no round, and a primary without etcd then demotes.
   */
  postFailsafe?(
    members: { name: string; apiUrl: string }[],
    body: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<import("./failsafe_types.ts").FailsafeAnswer[]>;
}

export { slotNameFor } from "./slots.ts";

/** Time as the agent sees it. `now` is monotonic ms; `wallNow` is epoch ms. */
export interface Clock {
  now(): number;
  wallNow(): number;
  /**
   * Run `fn` once `ms` from now on this clock, beside whatever the loop is doing (a hung etcd call included);
   * returns a cancel function. The agent arms its fence deadline with it. Real time: `setTimeout`; the simulator:
   * a virtual timer.
   */
  after(ms: number, fn: () => void): () => void;
}

/** The one-sentence-per-cycle logger and friends. */
export interface AgentLog {
  cycle(reason: string, fields: Record<string, unknown>): void;
  /** Other informative lines (a completed role change). */
  info?(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * The agent's line to the watchdog (src/host/watchdog.ts `Watchdog`). The shell pings it after each successful lock
 * action, closes it once this member cannot be a writable primary (or in pause), and tells the core whether a
 * required watchdog is unusable.
 */
export interface WatchdogPort {
  /** Null, or (only in `required` mode) why the watchdog cannot be used. */
  unusable(ttl: number, loopWait: number): string | null;
  /** Activate when needed, ping, apply timeout changes; false when a required watchdog is not running. */
  keepalive(ttl: number, loopWait: number): boolean;
  /** Magic-close it (no-op when closed). */
  disable(why: string): void;
  readonly running: boolean;
  /**
   * The timeout (s) a `keepalive(ttl)` now would leave the device counting down (the longer of the running and the
   * wanted one), or null when it pings nothing (mode `off`). Absent: `ttl - 5` (the default safety margin).
   */
  pingTimeout?(ttl: number): number | null;
}

/** The agent's line to its fencing supervisor (src/host/fence_supervisor.ts). */
export interface FenceChannel {
  /**
   * Stop Postgres unless re-armed within `ms` of `from` (the agent's monotonic time, `Clock.now()`; default: now).
   * The supervisor gets the deadline as an instant, so a line it reads late still means the same deadline.
   */
  arm(ms: number, from?: number): void;
  disarm(): void;
  /**
   * Null while the supervisor runs and has answered every line in time; otherwise why it cannot be relied on
   * (not running, or not answering): this member must then neither take nor keep the leader key.
   */
  unusable(): string | null;
  /**
   * The supervisor runs and has acknowledged every line sent (it holds the last deadline armed); absent: assume so.
   * A leader key moves onto a shorter lease only then (src/core/lease_ttl.ts).
   */
  answered?(): boolean;
}

export type CallbackAction = "on_start" | "on_stop" | "on_restart" | "on_reload" | "on_role_change";

/** What the agent calls; the simulator passes none. */
export interface CallbackRunner {
  fire(action: CallbackAction, role: string): void;
}
