/**
 * Bootstrapping a new cluster on this member: a custom `bootstrap.method` (`custom_bootstrap.ts`), or initdb (the superuser's password only in a temporary 0600
 * `--pwfile`), initdb's `postgresql.conf` kept as `postgresql.base.conf`, pg_hba.conf, a start as primary, the
 * roles and the `post_bootstrap` script. A failed bootstrap never leaves a data directory behind that could be started later.
 *
 * I/O: runs initdb and pg_ctl, writes and moves files, SQL for the roles. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { customBootstrap } from "./custom_bootstrap.ts";
import { BASE_CONF, buildHba, chooseHba, initdbArgv } from "./conf.ts";
import { defaultHba } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { startPostgres, stopPostgres } from "./lifecycle.ts";
import { runPostBootstrap } from "./post_bootstrap.ts";
import { removeIfExists, runChecked, writeIfChanged } from "./process.ts";
import { ensureRoles } from "./roles.ts";

const log = getLogger(["hactl", "postgres"]);

/**
 * initdb + configuration + start as primary + roles. On any failure Postgres is stopped and the half-built data
 * directory is moved aside to `<data_dir>.failed` (replacing an older one), as Patroni does, so it can never be
 * started later and win a leader race with a system identifier of its own; the next race starts from scratch.
 */
export async function bootstrapCluster(inst: PgInstance): Promise<void> {
  try {
    if (inst.config.bootstrap.methodConfig !== undefined) await customBootstrap(inst);
    else await initializeAndStart(inst);
  } catch (e) {
    await stopPostgres(inst, "immediate").catch(() => {});
    const failed = `${inst.dataDir}.failed`;
    await Deno.remove(failed, { recursive: true }).catch(() => {});
    await Deno.rename(inst.dataDir, failed).catch(() => {});
    inst.sysid = null;
    log.error("bootstrap failed; moved the data directory aside to {failed}", { failed });
    throw e;
  }
}

async function initializeAndStart(inst: PgInstance): Promise<void> {
  await runInitdb(inst);
  inst.sysid = null;
  await Deno.mkdir(inst.configDir, { recursive: true, mode: 0o700 });
  await Deno.rename(`${inst.dataDir}/postgresql.conf`, `${inst.configDir}/${BASE_CONF}`);
  const hba = chooseHba(inst.pg.pgHba, inst.dynamicPgHba(), inst.config.bootstrap.pgHba) ?? defaultHba(inst);
  await writeIfChanged(`${inst.configDir}/pg_hba.conf`, buildHba(hba));
  await startPostgres(inst, "primary", null);
  await ensureRoles((fn) => inst.sql.query(fn), inst.pg.authentication);
  log.info("roles for superuser, replication and rewind are in place");
  await runPostBootstrap(inst);
}

/** initdb with `bootstrap.initdb`'s options; the password file exists only while it runs. */
async function runInitdb(inst: PgInstance): Promise<void> {
  const su = inst.pg.authentication.superuser;
  let pwfile: string | null = null;
  try {
    if (su.password !== undefined) {
      pwfile = await Deno.makeTempFile({ prefix: "hactl-initdb-" });
      await Deno.writeTextFile(pwfile, su.password + "\n", { mode: 0o600 });
    }
    const { argv, dropped } = initdbArgv({
      dataDir: inst.dataDir,
      superuser: su.username,
      pwfile,
      extra: inst.config.bootstrap.initdb,
    });
    if (dropped.length) log.warn("ignored initdb options hactl sets itself: {dropped}", { dropped });
    log.info("running initdb in {dir}", { dir: inst.dataDir });
    await runChecked(await inst.bin("initdb"), argv, { timeoutMs: 600_000, what: "initdb" });
  } finally {
    if (pwfile) await removeIfExists(pwfile);
  }
}
