/**
 * Recovery settings outside hactl's postgresql.conf, as Patroni handles them: recovery parameters a restore tool
 * left in `postgresql.auto.conf` (which Postgres reads after postgresql.conf, so they would win) are removed at
 * every configuration write, except while a custom bootstrap keeps the restored recovery settings
 * (`keep_existing_recovery_conf`); and the signal files of a custom bootstrap's recovery (`recovery.signal` with
 * `recovery_conf`; those of the restore with `keep_existing_recovery_conf`).
 *
 * I/O: rewrites `postgresql.auto.conf`, writes signal files. May import: `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PgInstance } from "./instance.ts";
import { removeIfExists, writePrivateFile } from "./process.ts";

const log = getLogger(["hactl", "postgres"]);

/** The recovery parameters of PostgreSQL 12 and later (and older names a restore tool may still write). */
export const RECOVERY_PARAMETERS = new Set([
  "archive_cleanup_command",
  "pause_at_recovery_target",
  "primary_conninfo",
  "primary_slot_name",
  "promote_trigger_file",
  "recovery_end_command",
  "recovery_min_apply_delay",
  "recovery_target",
  "recovery_target_action",
  "recovery_target_inclusive",
  "recovery_target_lsn",
  "recovery_target_name",
  "recovery_target_time",
  "recovery_target_timeline",
  "recovery_target_xid",
  "restore_command",
  "standby_mode",
  "trigger_file",
]);

/**
 * Whether a custom bootstrap's recovery runs with `hot_standby` off, as Patroni decides: with the restored
 * settings, or when `recovery_target_action` is `promote` (or `pause_at_recovery_target` is false and no action is
 * set). Hot standby then cannot refuse to start for parameters lower than the backup's.
 */
export function bootstrapWithoutHotStandby(
  rec: { params: Record<string, string>; keepExisting: boolean },
): boolean {
  if (rec.keepExisting) return true;
  if (Object.keys(rec.params).length === 0) return false;
  const pause = rec.params["pause_at_recovery_target"]?.trim().toLowerCase();
  const pauseFalse = pause !== undefined && ["off", "false", "no", "0", "f", "n"].includes(pause);
  const action = rec.params["recovery_target_action"] ?? (pauseFalse ? "promote" : "pause");
  return action.trim().toLowerCase() === "promote";
}

/** `text` (a postgresql.auto.conf) without its recovery parameter lines, and the names removed. */
export function withoutRecoveryParameters(text: string): { text: string; removed: string[] } {
  const removed: string[] = [];
  const kept = text.split("\n").filter((line) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?/.exec(line);
    const name = m?.[1]?.toLowerCase();
    if (name === undefined || !RECOVERY_PARAMETERS.has(name)) return true;
    removed.push(name);
    return false;
  });
  return { text: kept.join("\n"), removed };
}

/** Remove the recovery parameters from `<dataDir>/postgresql.auto.conf` (when it has any). */
export async function sanitizeAutoConf(dataDir: string): Promise<void> {
  const path = `${dataDir}/postgresql.auto.conf`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return;
  }
  const out = withoutRecoveryParameters(text);
  if (out.removed.length === 0) return;
  await writePrivateFile(path, out.text);
  log.info("removed recovery parameters {names} from postgresql.auto.conf", {
    names: out.removed.join(", "),
  });
}

/**
 * The signal files of a custom bootstrap's recovery, for a start as primary while one runs: `recovery.signal` when
 * recovery parameters are set; nothing touched with `keepExisting`. Returns false when no such recovery runs (the
 * caller then writes the role's usual signal files).
 */
export async function writeBootstrapRecovery(
  inst: PgInstance,
  role: "primary" | "replica",
): Promise<boolean> {
  const rec = inst.bootstrapRecovery;
  if (role !== "primary" || rec === null) return false;
  if (rec.keepExisting) return true;
  await removeIfExists(`${inst.dataDir}/standby.signal`);
  if (Object.keys(rec.params).length > 0) {
    await Deno.writeTextFile(`${inst.dataDir}/recovery.signal`, "", { mode: 0o600 });
  } else {
    await removeIfExists(`${inst.dataDir}/recovery.signal`);
  }
  await sanitizeAutoConf(inst.dataDir);
  return true;
}
