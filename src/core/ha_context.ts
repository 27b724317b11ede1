/**
 * What every branch of the HA decision shares: the member's context (`HaContext`), one cycle's inputs gathered in
 * a `Cycle`, and the small helpers that build a `Decision`.
 *
 * Pure. May import: `src/core/types.ts` only.
 *
 * @module
 */
import type {
  Action,
  ClusterView,
  Decision,
  DynamicSettings,
  Memory,
  Observation,
  PgObservation,
  Tags,
} from "./types.ts";

/** What decide needs to know about this member besides the observation. */
export interface HaContext {
  name: string;
  tags: Tags;
  dynamic: DynamicSettings;
  /** `postgresql.remove_data_directory_on_rewind_failure`: re-clone when pg_rewind fails. */
  removeDataOnRewindFailure?: boolean;
  /**
   * `postgresql.remove_data_directory_on_diverged_timelines`: without pg_rewind, re-clone a former primary rather
   * than start it on a history the new leader may not share; re-clone a diverged member pg_rewind cannot repair;
   * and, as Patroni does, re-clone when pg_rewind fails.
   */
  removeDataOnDivergedTimelines?: boolean;
  /**
   * The document written into `config` when etcd holds none: `bootstrap.dcs`, or the last dynamic configuration
   * known (the agent's local copy), as Patroni writes its own back after the key was lost.
   */
  bootstrapDcs: Record<string, unknown>;
  /**
   * A method of `postgresql.create_replica_methods` has `no_leader` (e.g. a restore from a backup repository): the
   * member may create its data directory while no member leads, as Patroni does.
   */
  noLeaderReplicaMethod?: boolean;
}

/** One cycle with the DCS in reach: the observation, the memory carried into it, and who holds the lock. */
export interface Cycle {
  obs: Observation;
  /** The memory as this cycle updated it (leadership, primary down since, members seen). */
  mem: Memory;
  ctx: HaContext;
  view: ClusterView;
  /** True when the leader key names this member. */
  holdsLock: boolean;
  /** This member's WAL position in the previous cycle, for primary_race_backoff (absent: not tracked). */
  previousWal?: number | null;
}

/** A decision that carries `memory` on, with its reason and the actions (none by default). */
export function noChange(memory: Memory, reason: string, actions: Action[] = []): Decision {
  return { actions, memory, reason };
}

/** A running Postgres that is a primary, or whose role is unknown and that has no standby.signal. */
export function mayBeWritable(pg: PgObservation): boolean {
  return pg.running && (pg.role === "primary" || (pg.role === null && !pg.standbySignal));
}
