/**
 * Creating a replica: pg_basebackup from the upstream into an emptied data directory (two attempts, five seconds
 * apart), then the replica's configuration. The replication password reaches pg_basebackup only through pgpass.
 *
 * I/O: runs pg_basebackup, wipes and writes the data directory. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PostgresError } from "../core/ports.ts";
import type { Upstream } from "../core/types.ts";
import { basebackupArgv } from "./conf.ts";
import { replicationConninfoFor, writeConfig, writePgpass } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { delay, postmasterPid, removeIfExists, runChecked, wipeDirectory } from "./process.ts";

const log = getLogger(["hactl", "postgres"]);

/** Clone the data directory from `upstream`; on failure the data directory is left empty. */
export async function cloneFrom(inst: PgInstance, upstream: Upstream): Promise<void> {
  if ((await postmasterPid(inst.dataDir)) !== null) {
    throw new PostgresError(`cannot create a replica in ${inst.dataDir}: Postgres is running there`);
  }
  await inst.sql.close();
  await writePgpass(inst, upstream);
  const { argv, dropped } = basebackupArgv({
    dataDir: inst.dataDir,
    conninfo: replicationConninfoFor(inst, upstream),
    extra: inst.pg.basebackup,
  });
  if (dropped.length) log.warn("ignored pg_basebackup options hactl sets itself: {dropped}", { dropped });
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= 2; attempt++) {
    await wipeDirectory(inst.dataDir);
    inst.sysid = null;
    log.info("pg_basebackup from {upstream} (attempt {attempt})", { upstream: upstream.name, attempt });
    try {
      await runChecked(await inst.bin("pg_basebackup"), argv, {
        timeoutMs: 7 * 24 * 3600_000,
        what: `pg_basebackup from ${upstream.name}`,
      });
      lastError = null;
      break;
    } catch (e) {
      lastError = e;
      log.warn("{error}", { error: e instanceof Error ? e.message : String(e) });
      if (attempt < 2) await delay(5_000);
    }
  }
  if (lastError) {
    await wipeDirectory(inst.dataDir);
    throw lastError;
  }
  await removeIfExists(`${inst.dataDir}/postgresql.log`);
  await writeConfig(inst, "replica", upstream);
}
