/**
 * Changing a running Postgres' configuration without a restart: point a replica at a new upstream (rewrite its
 * recovery settings, reload when the file or the live settings differ) and reload after a configuration change or
 * on request.
 *
 * I/O: writes configuration files, one SQL round trip, runs `pg_ctl reload`. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Upstream } from "../core/types.ts";
import { primarySlotFor, renderConf, replicationConninfoFor, writeAccessFiles } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { exists, postmasterPid, runChecked, writeIfChanged } from "./process.ts";

const log = getLogger(["hactl", "postgres"]);

/**
 * Make a running replica stream from `upstream`: true when its configuration changed and Postgres was reloaded,
 * false when nothing needed doing (or Postgres is not a running standby).
 */
export async function followUpstream(inst: PgInstance, upstream: Upstream): Promise<boolean> {
  if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) return false;
  if (!(await exists(`${inst.dataDir}/standby.signal`))) return false;
  const confChanged = await writeIfChanged(
    `${inst.configDir}/postgresql.conf`,
    (await renderConf(inst, "replica", upstream)).text,
  );
  // A replica that becomes a standby leader (or stops being one) takes that role's pg_hba and pg_ident.
  const fileChanged = (await writeAccessFiles(inst, "replica", upstream)) || confChanged;
  let liveDiffers = false;
  if (!fileChanged) {
    const wanted = upstream.connUrl === "" ? "" : replicationConninfoFor(inst, upstream);
    const slot = primarySlotFor(inst, upstream);
    try {
      const rows = await inst.sql.query((sql) =>
        sql`SELECT current_setting('primary_conninfo') AS c, current_setting('primary_slot_name') AS s`
      );
      liveDiffers = rows[0]!["c"] !== wanted || rows[0]!["s"] !== slot;
    } catch {
      liveDiffers = false; // not queryable: the file is right, Postgres reads it when it is up
    }
  }
  if (!fileChanged && !liveDiffers) return false;
  log.info("following {upstream}: reloading Postgres", { upstream: upstream.name });
  await runChecked(await inst.bin("pg_ctl"), ["reload", "-D", inst.dataDir], {
    timeoutMs: 30_000,
    what: "pg_ctl reload",
  });
  return true;
}

/** Rewrite the configuration files and reload when they changed (or when `force`); true when it reloaded. */
export async function reloadPostgres(
  inst: PgInstance,
  role: "primary" | "replica",
  upstream: Upstream | null,
  force: boolean,
): Promise<boolean> {
  if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) return false;
  const { text } = await renderConf(inst, role, upstream);
  let changed = await writeIfChanged(`${inst.configDir}/postgresql.conf`, text);
  changed = (await writeAccessFiles(inst, role, upstream)) || changed;
  if (!changed && !force) return false;
  log.info("reloading Postgres ({why})", { why: changed ? "configuration changed" : "requested" });
  await runChecked(await inst.bin("pg_ctl"), ["reload", "-D", inst.dataDir], {
    timeoutMs: 30_000,
    what: "pg_ctl reload",
  });
  inst.controlDataCache = null;
  return true;
}
