/**
 * The leader's timeline and timeline history for the divergence check (src/core/divergence.ts), and a stopped
 * server's position from pg_controldata.
 *
 * Source: one short SQL session on the leader with the superuser credentials (the ones pg_rewind's CHECKPOINT on
 * the source already uses), reading `pg_is_in_recovery()`, the timeline of the current WAL file (the leader's
 * insert timeline, as Patroni reads it before a rewind) and `pg_wal/<TLI>.history` with `pg_read_file`. That file
 * is exactly what a replication connection's `TIMELINE_HISTORY` command sends (the walsender reads the same file),
 * and Postgres never removes history files from pg_wal; SQL avoids a replication-protocol client and works where
 * pg_hba admits replication connections only from the replicas' own addresses. A leader still in recovery (a
 * promotion not finished) is not used, as Patroni does: the check waits for the next cycle.
 *
 * I/O: one SQL connection to the leader. May import: `src/core/`, `src/config/`, `src/pg/`.
 *
 * @module
 */
import postgres from "postgres";
import type { PostgresqlConfig } from "../config/config.ts";
import { type LeaderTimeline, type LocalPosition, parseLsn, type Upstream } from "../core/types.ts";
import { parseConnUrl } from "./conf.ts";
import { parseTimelineHistory } from "./status.ts";
import { pgSslOption } from "./tls.ts";

const TIMELINE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline`;

/** Read the leader's timeline and history; any failure is an `{ error }` answer, never a throw. */
export async function readLeaderTimeline(
  leader: Upstream,
  su: PostgresqlConfig["authentication"]["superuser"],
): Promise<LeaderTimeline> {
  let host: string | undefined;
  let port: number | undefined;
  try {
    ({ host, port } = parseConnUrl(leader.connUrl));
  } catch (e) {
    return { member: leader.name, error: `unusable conn_url of ${leader.name}: ${message(e)}` };
  }
  let ssl;
  try {
    ssl = pgSslOption(su);
  } catch (e) {
    return { member: leader.name, error: message(e) };
  }
  const sql = postgres({
    host,
    port,
    ...(ssl !== undefined ? { ssl } : {}),
    database: "postgres",
    username: su.username,
    ...(su.password !== undefined ? { password: su.password } : {}),
    max: 1,
    connect_timeout: 5,
    idle_timeout: 1,
    prepare: false,
    onnotice: () => {},
  });
  try {
    const [row] = await sql.unsafe(TIMELINE_SQL);
    if (!row || row["in_recovery"] === true || typeof row["timeline"] !== "number") {
      return { member: leader.name, error: `the leader ${leader.name} is still in recovery` };
    }
    const timeline = row["timeline"] as number;
    if (timeline <= 1) return { member: leader.name, inRecovery: false, timeline, history: [] };
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
    const [h] = await sql.unsafe("SELECT pg_read_file($1) AS text", [file]);
    return {
      member: leader.name,
      inRecovery: false,
      timeline,
      history: parseTimelineHistory(String(h?.["text"])),
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

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
