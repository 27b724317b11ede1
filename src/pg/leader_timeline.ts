/**
 * The leader's timeline and timeline history for the divergence check (src/core/divergence.ts), and a stopped
 * server's position from pg_controldata.
 *
 * Source: one short SQL session on the leader with the superuser credentials (the ones pg_rewind's CHECKPOINT on
 * the source already uses), reading `pg_is_in_recovery()`, the timeline of the current WAL file (the leader's
 * insert timeline, as Patroni reads it before a rewind) and `pg_wal/<TLI>.history` with `pg_read_file`. That file
 * is exactly what a replication connection's `TIMELINE_HISTORY` command sends (the walsender reads the same file),
 * and Postgres never removes history files from pg_wal; SQL avoids a replication-protocol client and works where
 * pg_hba admits replication connections only from the replicas' own addresses. The timeline of the leader's latest
 * checkpoint (`pg_control_checkpoint()`) tells whether pg_rewind can use it yet (src/core/checkpoint_after_promote.ts).
 * A leader still in recovery (a promotion not finished) is not used, as Patroni does: the check waits for the next
 * cycle.
 *
 * I/O: one SQL connection to the leader. May import: `src/core/`, `src/config/`, `src/pg/`.
 *
 * @module
 */
import type postgres from "postgres";
import type { PostgresqlConfig } from "../config/config.ts";
import { type LeaderTimeline, type LocalPosition, parseLsn, type Upstream } from "../core/types.ts";
import type { SwitchWal, WalProbe } from "../core/wal_probe.ts";
import { parseConnUrl } from "./conf.ts";
import { parseTimelineHistory } from "./status.ts";
import { userSession } from "./user_session.ts";

const TIMELINE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn,
  (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_timeline`;

/**
 * Read the leader's timeline and history; any failure is an `{ error }` answer, never a throw. With a `probe` (a
 * stopped member's WAL after its switch point, from `dataDir`), compare those bytes with the leader's.
 */
export async function readLeaderTimeline(
  leader: Upstream,
  su: PostgresqlConfig["authentication"]["superuser"],
  probe: { wal: WalProbe; dataDir: string } | null = null,
): Promise<LeaderTimeline> {
  let host: string | undefined;
  let port: number | undefined;
  try {
    ({ host, port } = parseConnUrl(leader.connUrl));
  } catch (e) {
    return { member: leader.name, error: `unusable conn_url of ${leader.name}: ${message(e)}` };
  }
  let sql;
  try {
    sql = userSession(su, host, port, { idleTimeoutS: 1 });
  } catch (e) {
    return { member: leader.name, error: message(e) };
  }
  try {
    const [row] = await sql.unsafe(TIMELINE_SQL);
    if (!row || row["in_recovery"] === true || typeof row["timeline"] !== "number") {
      return { member: leader.name, error: `the leader ${leader.name} is still in recovery` };
    }
    const timeline = row["timeline"] as number;
    const cp = row["checkpoint_timeline"];
    const checkpoint = typeof cp === "number" ? { checkpointTimeline: cp } : {};
    if (timeline <= 1) {
      return { member: leader.name, inRecovery: false, timeline, history: [], ...checkpoint };
    }
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
    const [h] = await sql.unsafe("SELECT pg_read_file($1) AS text", [file]);
    const history = parseTimelineHistory(String(h?.["text"]));
    const read = probe && probe.wal.timeline === timeline
      ? walRange(probe.wal, parseLsn(String(row["lsn"])), Number(row["segment_size"]))
      : null;
    const switchWal = read ? await compareWal(sql, read, probe!.dataDir) : null;
    return {
      member: leader.name,
      inRecovery: false,
      timeline,
      history,
      ...(switchWal ? { switchWal } : {}),
      ...checkpoint,
    };
  } catch (e) {
    return {
      member: leader.name,
      error: `cannot read the timeline history of ${leader.name}: ${message(e)}`,
    };
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * A stopped server's position from pg_controldata, as Patroni reads it: after a shutdown in recovery (or a crash
 * in archive recovery) the minimum recovery ending location and its timeline, unless those are 0 (it was a primary
 * when it stopped); else the latest checkpoint location and its timeline. Null when the output lacks them.
 */
export function controlPosition(data: Record<string, string>): LocalPosition | null {
  const state = data["Database cluster state"] ?? "";
  try {
    if (state === "shut down in recovery" || state === "in archive recovery") {
      const lsn = parseLsn(data["Minimum recovery ending location"] ?? "");
      const timeline = Number(data["Min recovery ending loc's timeline"]);
      if (lsn > 0 && Number.isInteger(timeline) && timeline > 0) return { inRecovery: true, timeline, lsn };
    }
    const lsn = parseLsn(data["Latest checkpoint location"] ?? "");
    const timeline = Number(data["Latest checkpoint's TimeLineID"]);
    return Number.isInteger(timeline) && timeline > 0 ? { inRecovery: false, timeline, lsn } : null;
  } catch {
    return null;
  }
}

/** A range of one WAL segment file: its name, the offset in it and how many bytes. */
export interface WalRange {
  lsn: number;
  file: string;
  offset: number;
  length: number;
}

/**
 * Where the probe's bytes are: within the switch point's segment file, and no further than the leader has written
 * (its segment files hold zeros past that). Null when nothing is left to compare.
 */
export function walRange(probe: WalProbe, leaderLsn: number, segmentSize: number): WalRange | null {
  if (!Number.isInteger(segmentSize) || segmentSize <= 0) return null;
  const segment = Math.floor(probe.lsn / segmentSize);
  const perId = Math.floor(0x1_0000_0000 / segmentSize);
  const offset = probe.lsn % segmentSize;
  const length = Math.min(probe.length, leaderLsn - probe.lsn, segmentSize - offset);
  if (length <= 0) return null;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");
  const file = `${hex(probe.timeline)}${hex(Math.floor(segment / perId))}${hex(segment % perId)}`;
  return { lsn: probe.lsn, file, offset, length };
}

/** The leader's bytes (pg_read_binary_file) against this member's own: null when either cannot be read in full. */
async function compareWal(
  sql: postgres.Sql,
  r: WalRange,
  dataDir: string,
): Promise<SwitchWal | null> {
  const [row] = await sql.unsafe(
    "SELECT pg_read_binary_file($1, $2, $3, true) AS bytes",
    [`pg_wal/${r.file}`, r.offset, r.length],
  );
  const theirs = row?.["bytes"];
  if (!(theirs instanceof Uint8Array) || theirs.length !== r.length) return null;
  const mine = await readLocal(`${dataDir}/pg_wal/${r.file}`, r.offset, r.length);
  if (!mine) return null;
  return { lsn: r.lsn, match: mine.every((b, i) => b === theirs[i]) };
}

async function readLocal(path: string, offset: number, length: number): Promise<Uint8Array | null> {
  let f: Deno.FsFile | null = null;
  try {
    f = await Deno.open(path, { read: true });
    await f.seek(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) return null;
      got += n;
    }
    return buf;
  } catch {
    return null;
  } finally {
    f?.close();
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
