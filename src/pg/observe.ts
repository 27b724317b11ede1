/**
 * Observing the local instance once per cycle: the data directory's state, standby.signal, the system identifier,
 * whether a postmaster runs (when not, its pg_controldata position), and then one status query (role, WAL position, timeline, replication, settings),
 * the command-line parameters a restart would change, and a primary's timeline history.
 *
 * I/O: stats files, reads pg_wal, runs pg_controldata, one SQL round trip. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PgObservation, TimelineSwitch } from "../core/types.ts";
import { emptyPgObservation } from "../core/pg_empty.ts";
import { applyControlDataMinimums } from "./conf.ts";
import { effective } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { exists, postmasterPid } from "./process.ts";
import { controlPosition } from "./leader_timeline.ts";
import {
  addCmdlinePending,
  fillFromStatus,
  parseTimelineHistory,
  STATUS_SQL,
  type StatusRow,
} from "./status.ts";

const log = getLogger(["hactl", "postgres"]);

/** One observation of the local Postgres; a failed status query leaves the fields it would fill empty. */
export async function observePostgres(inst: PgInstance): Promise<PgObservation> {
  const obs = emptyPgObservation();
  obs.dataDir = await inst.dataDirState();
  if (obs.dataDir !== "initialized") {
    if (obs.dataDir === "empty") inst.sysid = null;
    return obs;
  }
  obs.standbySignal = await exists(`${inst.dataDir}/standby.signal`);
  obs.sysid = await inst.systemIdentifier();
  obs.running = (await postmasterPid(inst.dataDir, inst.postmasterNames)) !== null;
  if (!obs.running) {
    obs.controlPosition = controlPosition(await inst.controlData());
    if (obs.controlPosition) obs.positionHistory = await historyOrNull(inst, obs.controlPosition.timeline);
    return obs;
  }
  let row: StatusRow;
  try {
    const rows = await inst.sql.query((sql) => sql.unsafe(STATUS_SQL));
    row = rows[0]!["status"] as StatusRow;
  } catch (e) {
    log.debug("status query failed: {error}", { error: e instanceof Error ? e.message : String(e) });
    return obs;
  }
  fillFromStatus(obs, row);
  try {
    addCmdlinePending(obs, row.settings, await wantedCmdline(inst, obs.role === "replica"));
  } catch (e) {
    log.debug("cannot compare command-line parameters: {error}", { error: String(e) });
  }
  if (obs.role === "primary" && obs.timeline !== null && obs.timeline > 1) {
    obs.timelineHistory = await timelineHistory(inst, obs.timeline);
  }
  if (obs.role === "replica" && obs.timeline !== null) {
    obs.positionHistory = await historyOrNull(inst, obs.timeline);
  }
  return obs;
}

/** A timeline's history file, parsed (none on timeline 1); null when it cannot be read. */
async function historyOrNull(inst: PgInstance, timeline: number): Promise<TimelineSwitch[] | null> {
  if (timeline <= 1) return [];
  const file = `${inst.dataDir}/pg_wal/${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
  return await Deno.readTextFile(file).then(parseTimelineHistory, () => null);
}

/** The current timeline's history file, parsed; empty when it cannot be read. */
async function timelineHistory(inst: PgInstance, timeline: number): Promise<TimelineSwitch[]> {
  const file = `${inst.dataDir}/pg_wal/${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
  try {
    return parseTimelineHistory(await Deno.readTextFile(file));
  } catch (e) {
    log.debug("cannot read {file}: {error}", { file, error: e instanceof Error ? e.message : String(e) });
    return [];
  }
}

/**
 * The command-line parameters this server would be started with now: the current configuration, on a replica
 * raised to the primary's values recorded in pg_controldata (re-read at most every 10 s).
 */
async function wantedCmdline(inst: PgInstance, replica: boolean): Promise<Record<string, string>> {
  const params = effective(inst, true);
  if (replica) {
    const now = performance.now();
    if (!inst.controlDataCache || now - inst.controlDataCache.at > 10_000) {
      inst.controlDataCache = { at: now, data: await inst.controlData() };
    }
    applyControlDataMinimums(params, inst.controlDataCache.data);
  }
  return params;
}
