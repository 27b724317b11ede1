/**
 * The configuration files hactl writes for the local instance: `postgresql.conf` (with the recovery settings of a
 * replica, including `postgresql.base.conf`, initdb's original), `pg_hba.conf`, `pg_ident.conf`, the signal files
 * and the `pgpass` file (0600) that keeps the replication password out of every conninfo.
 *
 * I/O: writes files (only when their text changes). May import: `src/core/`, `src/config/` (types), `src/log/`
 * (through logtape), `src/pg/` helpers.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { slotNameFor } from "../core/ports.ts";
import type { Upstream } from "../core/types.ts";
import {
  applyControlDataMinimums,
  BASE_CONF,
  buildHba,
  buildPostgresqlConf,
  cmdlineOptions,
  defaultPgHba,
  effectiveParameters,
  parseConnUrl,
  pgpassLine,
  replicationConninfo,
  shellQuote,
} from "./conf.ts";
import { exists, removeIfExists, writeIfChanged, writePrivateFile } from "./process.ts";
import type { PgInstance } from "./instance.ts";
import { DEFAULT_SOCKET_DIR } from "./local_address.ts";
import { recoveryParams } from "./replica_methods.ts";
import { configRoleFor, hbaLinesFor, identLinesFor } from "./role_config.ts";
import type { ConfigRole } from "../core/pg_role_types.ts";
import { bootstrapWithoutHotStandby, sanitizeAutoConf, writeBootstrapRecovery } from "./recovery_conf.ts";

const log = getLogger(["hactl", "postgres"]);

/**
 * Write postgresql.conf, pg_hba/pg_ident, pgpass and the signal files for `role`. Returns the postmaster
 * command-line options (shell-quoted for pg_ctl -o), built from the same parameters as the conf file.
 */
export async function writeConfig(
  inst: PgInstance,
  role: "primary" | "replica",
  upstream: Upstream | null,
): Promise<string> {
  await Deno.mkdir(inst.configDir, { recursive: true, mode: 0o700 });
  const { text, params } = await renderConf(inst, role, upstream);
  await writeIfChanged(`${inst.configDir}/postgresql.conf`, text);
  const hba = `${inst.configDir}/pg_hba.conf`;
  const set = inst.roleSet(configRoleFor(role, upstream));
  const lines = hbaLinesFor(set, inst.pg.pgHba, inst.dynamicPgHba());
  if (lines !== null) await writeIfChanged(hba, buildHba(lines));
  else if (!(await exists(hba))) await writeIfChanged(hba, buildHba(defaultHba(inst)));
  const ident = `${inst.configDir}/pg_ident.conf`;
  const identLines = identLinesFor(set, inst.identLines());
  if (identLines.length > 0) await writeIfChanged(ident, buildHba(identLines));
  else if (!(await exists(ident))) await writeIfChanged(ident, buildHba([]));
  if (await writeBootstrapRecovery(inst, role)) return cmdlineOptions(params).map(shellQuote).join(" ");
  await sanitizeAutoConf(inst.dataDir);
  if (role === "replica") {
    if (!(await exists(`${inst.dataDir}/standby.signal`))) {
      await Deno.writeTextFile(`${inst.dataDir}/standby.signal`, "", { mode: 0o600 });
    }
  } else {
    await removeIfExists(`${inst.dataDir}/standby.signal`);
  }
  await removeIfExists(`${inst.dataDir}/recovery.signal`);
  return cmdlineOptions(params).map(shellQuote).join(" ");
}

/**
 * Rewrite pg_hba.conf and pg_ident.conf of a running server for `role` (its role-specific lines when set, else the
 * configured ones; a file with nothing configured is left as it is). True when either file changed.
 */
export async function writeAccessFiles(
  inst: PgInstance,
  role: "primary" | "replica",
  upstream: Upstream | null,
): Promise<boolean> {
  const set = inst.roleSet(configRoleFor(role, upstream));
  const hba = hbaLinesFor(set, inst.pg.pgHba, inst.dynamicPgHba());
  let changed = false;
  if (hba !== null) changed = await writeIfChanged(`${inst.configDir}/pg_hba.conf`, buildHba(hba));
  const ident = identLinesFor(set, inst.identLines());
  if (ident.length > 0) {
    changed = (await writeIfChanged(`${inst.configDir}/pg_ident.conf`, buildHba(ident))) || changed;
  }
  return changed;
}

/** The pg_hba.conf lines hactl writes when the configuration names none. */
export function defaultHba(inst: PgInstance): string[] {
  return defaultPgHba(inst.pg.authentication.replication.username);
}

/**
 * The server parameters in effect: dynamic, then local, then those of `role` (`parameters_<role>`), then the ones
 * hactl sets itself (warnings logged). Without a role: the role-independent ones (the command line's are the same).
 */
export function effective(inst: PgInstance, quiet = false, role?: ConfigRole): Record<string, string> {
  const roleParams = role === undefined ? undefined : inst.roleSet(role).parameters;
  const { params, warnings } = effectiveParameters({
    dynamic: inst.dynamicParameters(),
    local: inst.pg.parameters,
    ...(roleParams !== undefined ? { role: roleParams, roleName: role } : {}),
    scope: inst.config.scope,
    listen: inst.pg.listen,
    hbaFile: `${inst.configDir}/pg_hba.conf`,
    identFile: `${inst.configDir}/pg_ident.conf`,
    defaultSocketDir: DEFAULT_SOCKET_DIR,
  });
  if (!quiet) { for (const w of warnings) log.warn(w); }
  if (inst.syncStandbyNames !== null) params["synchronous_standby_names"] = inst.syncStandbyNames;
  return params;
}

/**
 * The text of postgresql.conf for `role` and the parameters in it. A replica's parameters are raised to the
 * primary's values in pg_controldata, and its recovery settings name the upstream (writing pgpass for it).
 */
export async function renderConf(
  inst: PgInstance,
  role: "primary" | "replica",
  upstream: Upstream | null,
): Promise<{ text: string; params: Record<string, string> }> {
  const params = effective(inst, false, configRoleFor(role, upstream));
  let recovery: Record<string, string> | null = null;
  if (role === "replica" || inst.bootstrapRecovery !== null) {
    const raised = applyControlDataMinimums(params, await inst.controlData());
    if (raised.length) {
      log.debug("raised {names} to the values in pg_controldata", { names: raised.join(",") });
    }
    // The local `postgresql.recovery_conf` when set, else the dynamic configuration's (as Patroni's local keys win).
    const recoveryConf = inst.pg.recoveryConf ?? inst.dynamicPg().recoveryConf;
    recovery = { ...recoveryParams(recoveryConf), recovery_target_timeline: "latest" };
    // Patroni enforces it where logical slots are copied (the primary keeps the catalog rows they need): the HA
    // core decides it (src/core/hot_standby_feedback.ts), this only applies the value.
    if (inst.hotStandbyFeedback()) params["hot_standby_feedback"] = "on";
    if (upstream && upstream.name !== inst.config.name) {
      if (upstream.connUrl !== "") {
        await writePgpass(inst, upstream);
        recovery["primary_conninfo"] = replicationConninfoFor(inst, upstream);
      }
      const slot = primarySlotFor(inst, upstream);
      if (slot !== "") recovery["primary_slot_name"] = slot;
      Object.assign(recovery, standbyRecoverySettings(upstream));
    }
  }
  if (role === "primary" && inst.bootstrapRecovery) {
    recovery = Object.keys(inst.bootstrapRecovery.params).length > 0 ? inst.bootstrapRecovery.params : null;
    if (bootstrapWithoutHotStandby(inst.bootstrapRecovery)) params["hot_standby"] = "off";
  }
  const includeBase = await exists(`${inst.configDir}/${BASE_CONF}`);
  const custom = inst.pg.customConf ? { customConf: inst.pg.customConf } : {};
  return { text: buildPostgresqlConf({ params, includeBase, recovery, ...custom }), params };
}

/**
 * The `primary_slot_name` for streaming from `upstream`: the standby_cluster's slot on a remote primary (none when it
 * names none), else this member's slot when slots are used, else none.
 */
export function primarySlotFor(inst: PgInstance, upstream: Upstream): string {
  if (upstream.recovery?.remote) return upstream.recovery.primarySlotName ?? "";
  return inst.useSlots() ? slotNameFor(inst.config.name) : "";
}

/** The recovery settings a standby cluster adds (restore_command, archive_cleanup_command, the apply delay). */
export function standbyRecoverySettings(upstream: Upstream): Record<string, string> {
  const r = upstream.recovery;
  const out: Record<string, string> = {};
  if (r?.restoreCommand) out["restore_command"] = r.restoreCommand;
  if (r?.archiveCleanupCommand) out["archive_cleanup_command"] = r.archiveCleanupCommand;
  if (r?.remote && r.recoveryMinApplyDelay) out["recovery_min_apply_delay"] = r.recoveryMinApplyDelay;
  return out;
}

/** The `primary_conninfo` (and pg_basebackup conninfo) for streaming from `upstream` as the replication user. */
export function replicationConninfoFor(inst: PgInstance, upstream: Upstream): string {
  const user = inst.pg.authentication.replication;
  return replicationConninfo({
    connUrl: upstream.connUrl,
    user: user.username,
    passfile: inst.pgpass,
    applicationName: inst.config.name,
    sslmode: user.sslmode,
    gssencmode: user.gssencmode,
    channelBinding: user.channel_binding,
    ssl: {
      sslcert: user.sslcert,
      sslkey: user.sslkey,
      sslpassword: user.sslpassword,
      sslrootcert: user.sslrootcert,
      sslcrl: user.sslcrl,
      sslcrldir: user.sslcrldir,
    },
  });
}

/** Write the pgpass file (0600) with the replication password for `upstream` (empty without a password). */
export async function writePgpass(inst: PgInstance, upstream: Upstream): Promise<void> {
  const { host, port } = parseConnUrl(upstream.connUrl);
  const user = inst.pg.authentication.replication;
  const lines = user.password !== undefined ? [pgpassLine(host, port, user.username, user.password)] : [];
  await writePrivateFile(inst.pgpass, lines.map((l) => l + "\n").join(""));
}
