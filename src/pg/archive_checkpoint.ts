/**
 * Demoting a primary to a standby cluster (`demote-cluster`) with WAL archiving on: after the clean shutdown, the
 * WAL file holding the shutdown checkpoint is archived with `archive_command`, as Patroni does. Postgres archives
 * only completed files, and this one is not, so without it a site that follows this one through the archive (and is
 * promoted next) cannot replay up to the checkpoint: its new timeline would fork before it, and this member, now
 * following that site, could not continue on it.
 *
 * I/O: runs pg_controldata (through the instance) and the archive command. May import: `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { effective } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { childEnv, run } from "./process.ts";

const log = getLogger(["hactl", "postgres"]);

/** An archive command may copy a 16 MB file to slow storage: a generous bound, never the demotion's deadline. */
const ARCHIVE_TIMEOUT_MS = 300_000;

/**
 * `template` with Postgres's archiver placeholders filled as Patroni fills them: `%p` the file's path, `%f` its
 * name, `%r` the first possible file name, `%%` a percent sign; any other `%` is kept.
 */
export function archiverCommand(template: string, walDir: string, walFile: string): string {
  return template.replace(/%(.)/g, (whole, c: string) => {
    if (c === "p") return `${walDir}/${walFile}`;
    if (c === "f") return walFile;
    if (c === "r") return "000000010000000000000001";
    if (c === "%") return "%";
    return whole;
  });
}

/** `archive_command` when archiving is on (`archive_mode` on or always, a command set), else null. */
export function archiveCommandInEffect(params: Record<string, string>): string | null {
  const mode = (params["archive_mode"] ?? "").toLowerCase();
  const cmd = (params["archive_command"] ?? "").trim();
  return (mode === "on" || mode === "always") && cmd !== "" && cmd !== "(disabled)" ? cmd : null;
}

/** Archive the WAL file of the latest (shutdown) checkpoint of the stopped server; failures are logged. */
export async function archiveShutdownCheckpoint(inst: PgInstance): Promise<void> {
  const template = archiveCommandInEffect(effective(inst, true));
  if (template === null) {
    log.info("Not archiving latest checkpoint WAL file. Archiving is not configured.");
    return;
  }
  const walFile = (await inst.controlData())["Latest checkpoint's REDO WAL file"] ?? "";
  if (walFile === "") {
    log.error("Cannot extract latest checkpoint's WAL file name");
    return;
  }
  const cmd = archiverCommand(template, `${inst.dataDir}/pg_wal`, walFile);
  log.info("archiving the WAL file {file} of the shutdown checkpoint", { file: walFile });
  // In the data directory, as Postgres's archiver runs the command (a relative path in it means the same).
  const r = await run("/bin/sh", ["-c", cmd], {
    timeoutMs: ARCHIVE_TIMEOUT_MS,
    env: childEnv(),
    cwd: inst.dataDir,
  });
  if (r.code !== 0 || r.timedOut) log.error("Failed to archive WAL file with the shutdown checkpoint");
}
