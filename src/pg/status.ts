/**
 * The status query hactl runs against a live server (one SQL round trip returning one JSON object) and its
 * mapping onto `PgObservation`.
 *
 * Pure: SQL text and data mapping only; imports `types.ts` and `pg_conf.ts`.
 *
 * @module
 */
import {
  formatLsn,
  type HistoryEntry,
  parseLsn,
  type PgObservation,
  type ReplicationRow,
  type TimelineSwitch,
} from "../core/types.ts";
import { parseConninfo } from "./conf.ts";

/**
 * The history files Postgres would hold for the timelines of the `history` key: `0000000T.history` for every T
 * from 2 to the newest timeline the key names (last entry + 1), listing the key's switches below T
 * (`parentTLI<TAB>X/Y<TAB>reason`). Every number, also one the key does not name (trimmed by
 * `max_timelines_history`, or skipped): Postgres takes for a promotion the first number after its own timeline
 * with no history file, so a gap would let it reuse a number the cluster already used. A file for a number below
 * what a trimmed key still holds lists only the switches the key holds below it (none for the oldest numbers).
 */
export function timelineHistoryFiles(history: readonly HistoryEntry[]): { name: string; text: string }[] {
  const sorted = [...history].filter((e) => Number.isInteger(e[0]) && e[0] > 0).sort((a, b) => a[0] - b[0]);
  const newest = sorted.reduce((max, e) => Math.max(max, e[0] + 1), 1);
  const files: { name: string; text: string }[] = [];
  for (let t = 2; t <= newest; t++) {
    files.push({
      name: `${t.toString(16).toUpperCase().padStart(8, "0")}.history`,
      text: sorted.filter((e) => e[0] < t).map((e) => `${e[0]}\t${formatLsn(e[1])}\t${e[2]}\n`).join(""),
    });
  }
  return files;
}

/**
 * Parse a timeline history file (`pg_wal/00000002.history`): one `parentTLI<TAB>X/Y<TAB>reason` line per switch;
 * comments and blank lines are skipped, malformed lines ignored.
 */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ timeline: Number(m[1]), switchLsn: parseLsn(m[2]!), reason: m[3]!.trim() });
  }
  return out;
}

/** What the status query returns (one JSON object, one round trip). */
export interface StatusRow {
  in_recovery: boolean;
  walfile: string | null;
  flush_lsn: string | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  /** `synchronous_standby_names` in force (absent in answers of older hactl status queries). */
  sync_names?: string | null;
  /** `synchronous_commit` in force (absent in answers of older hactl status queries). */
  sync_commit?: string | null;
  replay_ts: string | null;
  replay_paused: boolean;
  checkpoint_tli: number | null;
  /** In recovery: the highest timeline among the WAL segment files in pg_wal (null when not readable). */
  wal_tli?: number | null;
  /** In recovery: the timelines with a history file in pg_wal (`recovery_target_timeline = latest` chases one). */
  history_tlis?: number[] | null;
  /** In recovery: `pg_control_recovery()`'s minimum recovery ending location and its timeline. */
  min_recovery?: { lsn: string | null; tli: number | null } | null;
  receiver: { status: string; tli: number | null; host: string | null; port: number | null } | null;
  conninfo: string;
  replication: ReplicationRow[];
  slots: string[];
  /** `restart_lsn` of the physical slots that reserve WAL, `confirmed_flush_lsn` of the logical slots. */
  slot_positions?: Record<string, string> | null;
  /** Logical slots (not temporary, not PostgreSQL 17 failover slots). */
  logical_slots?: string[] | null;
  version: number;
  start_time: string;
  pending_restart: boolean;
  /** `{name: {old_value, new_value}}` for the rows of pg_settings with `pending_restart`. */
  pending?: Record<string, { old_value: string; new_value: string | null }> | null;
  /** The running values of the parameters hactl passes on the postmaster command line. */
  settings?: Record<string, string> | null;
}

/** Parameters passed on the postmaster command line: Postgres never flags them as pending, hactl compares them. */
export const CMDLINE_PARAMETERS = [
  "cluster_name",
  "hot_standby",
  "listen_addresses",
  "max_connections",
  "max_locks_per_transaction",
  "max_prepared_transactions",
  "max_replication_slots",
  "max_wal_senders",
  "max_worker_processes",
  "port",
  "track_commit_timestamp",
  "wal_level",
  "wal_log_hints",
];

export const STATUS_SQL = `
SELECT json_build_object(
  'in_recovery', pg_is_in_recovery(),
  'walfile', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
  'flush_lsn', CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END,
  'receive_lsn', pg_last_wal_receive_lsn()::text,
  'replay_lsn', pg_last_wal_replay_lsn()::text,
  'replay_ts', pg_last_xact_replay_timestamp()::text,
  'replay_paused', CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END,
  'checkpoint_tli', (SELECT timeline_id FROM pg_control_checkpoint()),
  'wal_tli', CASE WHEN pg_is_in_recovery() AND pg_has_role('pg_monitor', 'USAGE') THEN
    (SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$')
  END,
  'history_tlis', CASE WHEN pg_is_in_recovery() AND pg_has_role('pg_monitor', 'USAGE') THEN
    (SELECT json_agg(('x' || substr(name, 1, 8))::bit(32)::int ORDER BY name) FROM pg_ls_waldir()
      WHERE name ~ '^[0-9A-F]{8}\\.history$')
  END,
  'min_recovery', CASE WHEN pg_is_in_recovery() THEN (SELECT json_build_object('lsn',
    min_recovery_end_lsn::text, 'tli', min_recovery_end_timeline) FROM pg_control_recovery()) END,
  'receiver', (SELECT json_build_object('status', status, 'tli', received_tli, 'host', sender_host,
                 'port', sender_port) FROM pg_stat_wal_receiver LIMIT 1),
  'conninfo', current_setting('primary_conninfo'),
  'sync_names', current_setting('synchronous_standby_names'),
  'sync_commit', current_setting('synchronous_commit'),
  'replication', (SELECT coalesce(json_agg(json_build_object('usename', usename,
                    'application_name', application_name, 'client_addr', host(client_addr), 'state', state,
                    'sync_state', sync_state, 'sync_priority', sync_priority, 'flush_lsn', flush_lsn::text,
                    'write_lsn', write_lsn::text, 'replay_lsn', replay_lsn::text)
                    ORDER BY application_name),
                    '[]'::json) FROM pg_stat_replication),
  'slots', (SELECT coalesce(json_agg(slot_name::text ORDER BY slot_name), '[]'::json)
              FROM pg_replication_slots WHERE slot_type = 'physical'),
  'slot_positions', (SELECT json_object_agg(slot_name, CASE WHEN slot_type = 'physical' THEN restart_lsn
                         ELSE confirmed_flush_lsn END::text) FROM pg_replication_slots
                       WHERE (CASE WHEN slot_type = 'physical' THEN restart_lsn ELSE confirmed_flush_lsn END)
                         IS NOT NULL AND NOT temporary),
  'logical_slots', (SELECT json_agg(slot_name::text ORDER BY slot_name) FROM pg_replication_slots s
                      WHERE slot_type = 'logical' AND NOT temporary
                        AND NOT coalesce((to_jsonb(s)->>'failover')::boolean, false)),
  'version', current_setting('server_version_num')::int,
  'start_time', pg_postmaster_start_time()::text,
  'pending_restart', (SELECT count(*) > 0 FROM pg_settings WHERE pending_restart),
  'pending', (SELECT json_object_agg(s.name, json_build_object('old_value', s.setting,
                'new_value', (SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name AND f.error IS NULL
                              ORDER BY f.seqno DESC LIMIT 1)))
              FROM pg_settings s WHERE s.pending_restart),
  'settings', (SELECT json_object_agg(name, setting) FROM pg_settings
               WHERE name IN ('${CMDLINE_PARAMETERS.join("', '")}'))
) AS status`;

/**
 * Add the command-line parameters whose running value differs from the one hactl would start Postgres with
 * (`wanted`, after the pg_controldata rule on replicas) to the pending-restart reasons: Postgres itself never
 * flags them, as a command-line value outranks the file.
 */
export function addCmdlinePending(
  obs: PgObservation,
  running: Record<string, string> | null | undefined,
  wanted: Record<string, string>,
): void {
  for (const name of CMDLINE_PARAMETERS) {
    const have = running?.[name];
    const want = wanted[name];
    if (have === undefined || want === undefined || have === want) continue;
    obs.pendingRestartReason[name] = { old_value: have, new_value: want };
    obs.pendingRestart = true;
  }
}

function lsnOrNull(text: string | null): number | null {
  return text ? parseLsn(text) : null;
}

/** Complete an observation of a running server from the status query's answer. */
export function fillFromStatus(obs: PgObservation, row: StatusRow): void {
  obs.queryable = true;
  obs.role = row.in_recovery ? "replica" : "primary";
  obs.serverVersion = row.version;
  obs.postmasterStartTime = row.start_time;
  obs.pendingRestart = row.pending_restart;
  obs.pendingRestartReason = {};
  for (const [name, r] of Object.entries(row.pending ?? {})) {
    obs.pendingRestartReason[name] = { old_value: String(r.old_value), new_value: String(r.new_value ?? "") };
  }
  obs.slots = row.slots;
  obs.logicalSlots = row.logical_slots ?? [];
  obs.slotPositions = {};
  for (const [name, lsn] of Object.entries(row.slot_positions ?? {})) obs.slotPositions[name] = parseLsn(lsn);
  obs.replication = row.replication;
  obs.synchronousStandbyNames = row.sync_names ?? null;
  obs.synchronousCommit = row.sync_commit ?? null;
  if (!row.in_recovery) {
    obs.timeline = row.walfile ? parseInt(row.walfile.slice(0, 8), 16) : row.checkpoint_tli;
    obs.checkpointTimeline = row.checkpoint_tli;
    obs.walPosition = lsnOrNull(row.flush_lsn);
    return;
  }
  obs.receiveLsn = lsnOrNull(row.receive_lsn);
  obs.replayLsn = lsnOrNull(row.replay_lsn);
  obs.walPosition = Math.max(obs.receiveLsn ?? 0, obs.replayLsn ?? 0) || null;
  obs.replayedTimestamp = row.replay_ts;
  obs.replayPaused = row.replay_paused;
  obs.timeline = replicaTimeline(row);
  if (Array.isArray(row.history_tlis)) {
    obs.historyTimelines = row.history_tlis.filter((t) => Number.isInteger(t) && t > 0);
  }
  const min = row.min_recovery;
  if (min && typeof min.tli === "number" && min.tli > 0 && min.lsn && min.lsn !== "0/0") {
    obs.minRecoveryPoint = { inRecovery: true, timeline: min.tli, lsn: parseLsn(min.lsn) };
  }
  obs.replicationState = row.receiver?.status === "streaming" ? "streaming" : "in archive recovery";
  obs.upstream = upstreamOf(row);
}

/**
 * A replica's timeline: the WAL receiver's while it runs (never raised by other sources); without one (its primary just stopped, or it replays
 * from an archive) the newest timeline it holds WAL segments of, which the receiver wrote. The last restartpoint's
 * timeline (`pg_control_checkpoint`) alone would lag a timeline switch by up to `checkpoint_timeout`: a replica
 * that had streamed the new timeline for minutes would report the old one the moment its primary stopped, and
 * lose the leader race to a member it is ahead of (seen in a switchover right after a switchover).
 */
function replicaTimeline(row: StatusRow): number | null {
  const positive = (t: number | null | undefined): t is number => typeof t === "number" && t > 0;
  // A running receiver knows the timeline it streams; WAL files in pg_wal may include leftovers of a higher
  // timeline this replica is not on, so they only count without a receiver.
  if (positive(row.receiver?.tli)) return row.receiver.tli;
  const known = [row.checkpoint_tli, row.wal_tli].filter(positive);
  return known.length ? Math.max(...known) : null;
}

/** `host:port` of the configured upstream (primary_conninfo), else of the live WAL sender. */
function upstreamOf(row: StatusRow): string | null {
  try {
    const ci = parseConninfo(row.conninfo ?? "");
    if (ci["host"]) return `${ci["host"]}:${ci["port"] ?? "5432"}`;
  } catch {
    // unparsable conninfo: fall back to the receiver
  }
  return row.receiver?.host ? `${row.receiver.host}:${row.receiver.port ?? 5432}` : null;
}
