/**
 * A new cluster from a custom `bootstrap.method` (a restore from a backup), as Patroni bootstraps one: run the
 * method's command (`--scope`, `--datadir` unless `no_params`, then `--key=value` for its other keys); keep the
 * restored `postgresql.conf` as `postgresql.base.conf` when hactl's is not there yet; remove a `promote` trigger
 * file; start with the method's `recovery_conf` (and `recovery.signal`), or with the restored recovery settings
 * (`keep_existing_recovery_conf`), or with none (as Patroni: `hot_standby` off while recovering to a target with
 * `recovery_target_action: promote` or with the restored settings, since parameters such as max_connections may
 * be lower than the backup's; with hot standby they are raised to pg_controldata's values); wait, with no deadline while Postgres runs, for the end of
 * recovery (a point-in-time target with `recovery_target_action: promote` ends it by itself; with `pause`, an
 * operator promotes); then the roles, `post_bootstrap`, and a restart with hactl's configuration alone (recovery
 * settings removed). The caller (`bootstrap.ts`) moves the data directory aside when any step fails.
 *
 * I/O: runs the command and pg_ctl, writes files, SQL. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PostgresError } from "../core/ports.ts";
import { BASE_CONF, buildHba, chooseHba } from "./conf.ts";
import { defaultHba } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { startPostgres, stopPostgres } from "./lifecycle.ts";
import { runPostBootstrap } from "./post_bootstrap.ts";
import {
  childEnv,
  delay,
  exists,
  postmasterPid,
  removeIfExists,
  runChecked,
  scriptCwd,
  tail,
  writeIfChanged,
} from "./process.ts";
import { bootstrapMethodArgv, flagSet, recoveryParams } from "./replica_methods.ts";
import { ensureRoles } from "./roles.ts";

const log = getLogger(["hactl", "postgres"]);

/** Run the custom bootstrap method and bring the restored cluster up as a primary. */
export async function customBootstrap(inst: PgInstance): Promise<void> {
  const method = inst.config.bootstrap.method;
  const section = inst.config.bootstrap.methodConfig ?? {};
  // The method creates the data directory (a copy into a missing directory, as Patroni's acceptance suite's script
  // does, fails on one that exists): only its parent is made, as Patroni leaves it to the method too.
  await Deno.mkdir(parentDir(inst.dataDir), { recursive: true });
  const argv = bootstrapMethodArgv(section, { scope: inst.config.scope, dataDir: inst.dataDir });
  log.info("running custom bootstrap script {command}", { command: String(section.command) });
  await runChecked(argv[0]!, argv.slice(1), {
    cwd: scriptCwd(),
    timeoutMs: 7 * 24 * 3600_000,
    env: childEnv(),
    what: `custom bootstrap method ${method}`,
  });
  inst.sysid = null;
  if ((await inst.dataDirState()) !== "initialized") {
    throw new PostgresError(`custom bootstrap method ${method} left no data directory in ${inst.dataDir}`);
  }
  await postRestore(inst);
  const hasRecoveryConf = section.recovery_conf !== undefined && section.recovery_conf !== null;
  inst.bootstrapRecovery = {
    params: recoveryParams(section.recovery_conf),
    keepExisting: !hasRecoveryConf && flagSet(section, "keep_existing_recovery_conf"),
  };
  try {
    const hba = chooseHba(inst.pg.pgHba, inst.dynamicPgHba(), inst.config.bootstrap.pgHba) ??
      defaultHba(inst);
    await writeIfChanged(`${inst.configDir}/pg_hba.conf`, buildHba(hba));
    const logFrom = (await serverLog(inst)).length;
    await startPostgres(inst, "primary", null, { wait: false });
    await waitForEndOfRecovery(inst, logFrom);
  } finally {
    inst.bootstrapRecovery = null;
  }
  await ensureRoles((fn) => inst.sql.query(fn), inst.pg.authentication);
  log.info("roles for superuser, replication and rewind are in place");
  await runPostBootstrap(inst);
  // The recovery settings are gone from the configuration only after a restart (most need one).
  await stopPostgres(inst, "fast");
  await startPostgres(inst, "primary", null);
}

/**
 * What a restored data directory needs before its first start: its own `postgresql.conf` kept as
 * `postgresql.base.conf` (hactl writes postgresql.conf at every start), and no `promote` trigger file.
 */
async function postRestore(inst: PgInstance): Promise<void> {
  await Deno.mkdir(inst.configDir, { recursive: true, mode: 0o700 });
  const restored = `${inst.dataDir}/postgresql.conf`;
  if (!(await exists(`${inst.configDir}/${BASE_CONF}`)) && (await exists(restored))) {
    await Deno.rename(restored, `${inst.configDir}/${BASE_CONF}`);
  }
  await removeIfExists(`${inst.dataDir}/promote`);
  await removeIfExists(`${inst.dataDir}/postmaster.pid`);
}

/** The server's log (`pg_ctl -l`), or nothing. */
function serverLog(inst: PgInstance): Promise<string> {
  return Deno.readTextFile(`${inst.dataDir}/postgresql.log`).catch(() => "");
}

/**
 * Poll (every second) until Postgres is out of recovery. Fails when the postmaster has gone (recovery failed, e.g.
 * `recovery ended before configured recovery target was reached`). Says every minute that it still waits.
 */
async function waitForEndOfRecovery(inst: PgInstance, logFrom: number): Promise<void> {
  let lastSaid = Date.now();
  // pg_ctl did not wait: the postmaster may not have written its pid file yet (or has already gone, which its
  // log says since the start: `database system is shut down`).
  const startBy = Date.now() + inst.timeoutMs;
  let seen = false;
  for (;;) {
    if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) !== null) seen = true;
    else if (
      seen || Date.now() > startBy ||
      /database system is shut down/.test((await serverLog(inst)).slice(logFrom))
    ) {
      const text = await serverLog(inst);
      throw new PostgresError(
        `Postgres stopped during recovery after the custom bootstrap: ${tail(text, 5)}`,
      );
    }
    const inRecovery = await inst.sql.query(async (sql) => {
      const rows = await sql`SELECT pg_is_in_recovery() AS r`;
      return rows[0]!["r"] === true;
    }, 5_000).catch(() => null);
    if (inRecovery === false) {
      log.info("recovery after the custom bootstrap has ended");
      return;
    }
    if (Date.now() - lastSaid >= 60_000) {
      lastSaid = Date.now();
      log.info("waiting for end of recovery after bootstrap");
    }
    await delay(1_000);
  }
}

/** The directory `path` is in. */
function parentDir(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i <= 0 ? "/" : trimmed.slice(0, i);
}
