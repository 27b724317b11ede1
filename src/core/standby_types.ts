/**
 * The vocabulary of a standby cluster: the dynamic `standby_cluster` section as the core reads it, and the recovery
 * settings an upstream carries in a standby cluster (the remote primary's, for the standby leader; the WAL archive
 * commands, for the members that follow the standby leader). Mixed into `DynamicSettings` and `Upstream`
 * (src/core/types.ts) as optional parts, so a value built without them means "not a standby cluster".
 *
 * Pure types; imports nothing.
 *
 * @module
 */

/**
 * The dynamic `standby_cluster` section, present only when it makes this cluster a standby cluster (a non-empty
 * `host`, `port` or `restore_command`; a section with none of them changes nothing, as in Patroni).
 */
export interface StandbyClusterSettings {
  /** The remote primary (or any member of the remote cluster) to clone from and stream from. */
  host?: string;
  port?: number;
  /** The slot on the remote primary the standby leader streams through (`primary_slot_name`). */
  primarySlotName?: string;
  /** `restore_command` of the standby leader (and of its replicas, as Patroni passes it on). */
  restoreCommand?: string;
  /** `archive_cleanup_command`, as `restore_command`. */
  archiveCleanupCommand?: string;
  /** `recovery_min_apply_delay` of the standby leader, as written (`"1h"`, `3600000`). */
  recoveryMinApplyDelay?: string;
  /**
   * `create_replica_methods`: how every clone in the standby cluster is made, in order (absent or empty:
   * `basebackup`), in place of `postgresql.create_replica_methods`, as Patroni clones from its remote member.
   */
  createReplicaMethods?: string[];
}

/** The `DynamicSettings` part of a standby cluster. */
export interface StandbyClusterPart {
  standbyCluster?: StandbyClusterSettings;
}

/** Recovery settings that come with an upstream in a standby cluster (none outside one). */
export interface UpstreamRecovery {
  /**
   * True when the upstream is the remote primary: the standby leader streams through `primarySlotName` (or no
   * slot), never through a member slot of its own cluster, and applies `recoveryMinApplyDelay`.
   */
  remote?: true;
  primarySlotName?: string;
  restoreCommand?: string;
  archiveCleanupCommand?: string;
  recoveryMinApplyDelay?: string;
}

/** Where a replica streams from: a member's name and its `conn_url` (and, in a standby cluster, its recovery). */
export interface Upstream {
  name: string;
  connUrl: string;
  recovery?: UpstreamRecovery;
  /**
   * The methods a clone from this upstream tries, in order, in place of `postgresql.create_replica_methods`
   * (empty: `basebackup`): `standby_cluster.create_replica_methods` in a standby cluster. Absent: the local ones.
   */
  cloneMethods?: readonly string[];
}
