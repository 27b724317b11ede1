/**
 * The vocabulary of synchronous replication: the settings read from the dynamic configuration (`SyncConfig`),
 * what the leader carries between cycles about `synchronous_standby_names` (`SyncMemory`), what the local
 * Postgres reports of it (`PgSyncFields`) and the effects on the `sync` key and on Postgres (`SyncAction`).
 *
 * Pure: imports nothing (src/core/types.ts extends these interfaces).
 *
 * @module
 */

/** `synchronous_mode` as Patroni reads it: false/off, true/on, or quorum. */
export type SyncModeName = "off" | "on" | "quorum";

/** The synchronous replication settings of the dynamic configuration. */
export interface SyncConfig {
  mode: SyncModeName;
  /** `synchronous_mode_strict`: without a synchronous standby, commits wait rather than go asynchronous. */
  strict: boolean;
  /** `synchronous_node_count` (at least 1). */
  nodeCount: number;
  /** `maximum_lag_on_syncnode` in bytes; <= 0: a lagging synchronous standby is never replaced. */
  maximumLagOnSyncnode: number;
}

/** Synchronous replication off (Patroni's defaults). */
export const SYNC_OFF: SyncConfig = { mode: "off", strict: false, nodeCount: 1, maximumLagOnSyncnode: -1 };

/** Dynamic settings of synchronous replication (part of `DynamicSettings`; absent = off). */
export interface DynamicSyncFields {
  synchronous?: SyncConfig;
}

/** What the local Postgres says of synchronous replication (part of `PgObservation`). */
export interface PgSyncFields {
  /** `SHOW synchronous_standby_names` of the running server; absent or null when unknown. */
  synchronousStandbyNames?: string | null;
  /** `SHOW synchronous_commit` of the running server (which standby position commits wait for); absent: unknown. */
  synchronousCommit?: string | null;
}

/** The positions a standby reports in `pg_stat_replication` besides `flush_lsn` (part of `ReplicationRow`). */
export interface ReplicaLsns {
  /** How far the standby wrote this server's WAL (`X/Y`), when it reported it. */
  write_lsn?: string | null;
  /** How far the standby replayed this server's WAL (`X/Y`), when it reported it. */
  replay_lsn?: string | null;
}

/**
 * What the leader remembers across cycles (part of `Memory`): the value of `synchronous_standby_names` it last
 * saw and its own flush position when it first saw it. A standby newly named there counts as synchronous only
 * once Postgres reports it `sync` and it has flushed up to that position, so it holds every commit acknowledged
 * before it was named (as Patroni counts a standby only after it caught up with the primary's flush position).
 */
export interface SyncMemory {
  syncNamesSeen?: { value: string; lsn: number };
  /** Strict mode found no standby to name and said so (Patroni warns once, until a standby is back). */
  strictWarned?: boolean;
}

/**
 * Effects on synchronous replication, in plan order. `write_sync` is a compare-and-set on the `sync` key's mod
 * revision (null: the key must not exist); the executor stops the plan when it fails (someone else wrote it).
 * `set_sync_standby_names` writes the value into postgresql.conf and reloads (null: back to the configured
 * value of `postgresql.parameters`).
 */
export type SyncAction =
  | { type: "write_sync"; leader: string; standbys: string[]; quorum: number; modRevision: string | null }
  | { type: "delete_sync"; modRevision: string }
  | { type: "set_sync_standby_names"; value: string | null };
