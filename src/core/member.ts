/**
 * The member key (`members/<name>`) as this member publishes it at the end of each cycle, in Patroni's shape, and
 * which changes of Postgres are worth publishing at once.
 *
 * Pure: imports `types.ts`, `version.ts`, `decide.ts` and `checkpoint_after_promote.ts` only.
 *
 * @module
 */
import { memberRole, postgresStateName } from "./decide.ts";
import { PATRONI_COMPATIBLE_VERSION } from "./version.ts";
import { checkpointPending } from "./checkpoint_after_promote.ts";
import type { MemberRecord, MemberRole, Observation, PgObservation, Tags } from "./types.ts";

/** What the member key is built from. */
export interface MemberInput {
  /** The cycle's observation; `pg` is the freshest picture of Postgres (the status monitor may have refreshed it). */
  obs: Observation;
  pg: PgObservation;
  holdsLock: boolean;
  connUrl: string;
  apiUrl: string;
  /** `postgresql.proxy_address` as a URL, published as `proxy_url` when set. */
  proxyUrl?: string;
  tags: Tags;
  /** `scheduled_restart` as published, or null. */
  scheduledRestart: Record<string, unknown> | null;
  paused: boolean;
  /** A standby cluster: the key holder whose Postgres is in recovery publishes the role `standby_leader`. */
  standbyCluster?: boolean;
}

/** The value of `members/<name>`: connection URLs, state, role, WAL positions, tags, pending and scheduled restarts. */
export function memberRecord(i: MemberInput): MemberRecord {
  const pg = i.pg;
  const record: MemberRecord = {
    conn_url: i.connUrl,
    api_url: i.apiUrl,
    state: postgresStateName({ ...i.obs, pg }),
    role: publishedRole(i),
    version: PATRONI_COMPATIBLE_VERSION,
  };
  if (i.proxyUrl) record.proxy_url = i.proxyUrl;
  if (pg.running && pg.walPosition !== null) record.xlog_location = pg.walPosition;
  if (pg.running && pg.role === "replica") {
    if (pg.replayLsn !== null) record.replay_lsn = pg.replayLsn;
    if (pg.receiveLsn !== null) record.receive_lsn = pg.receiveLsn;
    if (pg.replicationState) record.replication_state = pg.replicationState;
  }
  if (pg.timeline !== null) record.timeline = pg.timeline;
  const tags = publishedTags(i.tags);
  if (Object.keys(tags).length > 0) record.tags = tags;
  if (pg.pendingRestart) record.pending_restart = true;
  if (Object.keys(pg.pendingRestartReason).length > 0) {
    record.pending_restart_reason = pg.pendingRestartReason;
  }
  if (i.scheduledRestart) record.scheduled_restart = i.scheduledRestart;
  if (i.paused) record.pause = true;
  // As a Patroni leader says it: a member that needs pg_rewind waits for this checkpoint (checkpoint_after_promote.ts).
  if (i.holdsLock && checkpointPending(pg)) record.checkpoint_after_promote = false;
  return record;
}

/** Tags as published: boolean predefined tags are dropped when false (as Patroni does). */
export function publishedTags(tags: Tags): Tags {
  const out: Tags = {};
  for (const [k, v] of Object.entries(tags)) {
    if (["clonefrom", "nofailover", "noloadbalance", "nosync", "nostream"].includes(k) && v === false) {
      if (k === "nofailover" && tags.failover_priority !== undefined) out[k] = v;
      else if (k === "nosync" && tags.sync_priority !== undefined) out[k] = v;
      continue;
    }
    out[k] = v;
  }
  return out;
}

/**
 * The parts of a Postgres observation that the member key publishes, apart from WAL positions: when they change
 * (it started streaming, crashed, was promoted...), a cycle runs at once so etcd, `hactl list` and the other
 * members learn it without waiting out loop_wait.
 */
export function publishedShape(pg: PgObservation): string {
  return [pg.dataDir, pg.running, pg.queryable, pg.role, pg.timeline, pg.replicationState, pg.pendingRestart]
    .join("|");
}

/** Postgres' role, or `standby_leader` for the key holder of a standby cluster whose Postgres is in recovery. */
export function roleInCluster(obs: Observation, holdsLock: boolean, standbyCluster: boolean): MemberRole {
  const role = memberRole(obs, holdsLock);
  return standbyCluster && holdsLock && role === "replica" ? "standby_leader" : role;
}

function publishedRole(i: MemberInput): string {
  return roleInCluster({ ...i.obs, pg: i.pg }, i.holdsLock, i.standbyCluster === true);
}
