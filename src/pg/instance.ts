/**
 * What the parts of the Postgres adapter share about the one local instance: the configuration (replaced on a
 * reload), the paths derived from it (data and config directories, pgpass, the pg_ctl timeout), the program
 * lookup, pg_controldata (with the system identifier cached until the data directory changes) and the SQL client.
 *
 * I/O: runs pg_controldata, stats the data directory. May import: `src/core/`, `src/config/` (types), `src/pg/`.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { slotNameFor } from "../core/ports.ts";
import type { PgObservation } from "../core/types.ts";
import { paramToString, type ParamValue, parseControlData } from "./conf.ts";
import { DEFAULT_SOCKET_DIR } from "./local_address.ts";
import { childEnv, resolveBinDir, run } from "./process.ts";
import { SqlClient } from "./sql_client.ts";
import type { ConfigRole, DynamicPgRolePart, RoleConfig } from "../core/pg_role_types.ts";
import { roleSetFor } from "./role_config.ts";
import { secondsToMs } from "../core/settings.ts";

/** The local instance's settings and caches, shared by `LocalPostgres` and the functions it delegates to. */
export class PgInstance {
  /** `pg_ident.conf` lines: the local `postgresql.pg_ident`, else the dynamic configuration's (as `pg_hba`). */
  identLines(): string[] {
    return this.pg.pgIdent.length > 0 ? this.pg.pgIdent : this.dynamicPgIdent() ?? [];
  }

  /** The local configuration; `LocalPostgres.setConfig` replaces it on a reload. */
  config: Config;
  /** `postgresql.parameters` of the DCS `config` key, read at every start. */
  readonly dynamicParameters: () => Record<string, ParamValue>;
  /** `postgresql.use_slots` of the dynamic configuration. */
  readonly useSlots: () => boolean;
  /** `postgresql.pg_hba` of the dynamic configuration. */
  readonly dynamicPgHba: () => string[] | undefined;
  /** `postgresql.pg_ident` of the dynamic configuration. */
  readonly dynamicPgIdent: () => string[] | undefined;
  /** The superuser connection. */
  readonly sql: SqlClient;
  /** The system identifier from pg_controldata; null to read it again (after initdb, a clone or a rewind). */
  sysid: string | null = null;
  /** `synchronous_standby_names` set by the leader in synchronous mode (src/pg/sync_standby.ts); null: as configured. */
  syncStandbyNames: string | null = null;
  /** pg_controldata output and when it was read (monotonic ms): replicas re-read it at most every 10 s. */
  controlDataCache: { at: number; data: Record<string, string> } | null = null;
  /**
   * A custom bootstrap's recovery in progress (src/pg/custom_bootstrap.ts): the recovery parameters the first start
   * runs with (with `recovery.signal`), or, with `keepExisting`, the restored recovery settings and signal files
   * left as the restore wrote them. Null otherwise.
   */
  bootstrapRecovery: { params: Record<string, string>; keepExisting: boolean } | null = null;
  /** Copies of logical slots read from the leader, installed when Postgres next starts as a replica. */
  stagedSlots: Map<string, Uint8Array> | null = null;
  /**
   * Whether a replica runs with `hot_standby_feedback = on`, as the HA core decided it last (it keeps copies of
   * logical slots, or a member streaming from it does: src/core/hot_standby_feedback.ts).
   */
  hotStandbyFeedback: () => boolean = () => false;
  /** The role-specific keys and `postgresql.rewind` of the dynamic configuration. */
  dynamicPg: () => DynamicPgRolePart = () => ({});

  /** `postgresql.bin_name.postgres` when set: the name the postmaster runs under (see `isPostmasterName`). */
  get postmasterNames(): string[] {
    const name = this.pg.binName?.["postgres"];
    return name ? [name] : [];
  }

  /** The role-specific set in force for `role` (src/pg/role_config.ts). */
  roleSet(role: ConfigRole): RoleConfig {
    return roleSetFor(role, this.pg.roleConfig, this.dynamicPg().roleConfig);
  }

  /** pg_rewind's extra arguments: the local `postgresql.rewind` when set, else the dynamic configuration's. */
  rewindOptions(): string[] {
    return this.pg.rewind ?? this.dynamicPg().rewind ?? [];
  }
  #binDir: string | null = null;

  constructor(
    config: Config,
    dynamicParameters: () => Record<string, ParamValue>,
    useSlots: () => boolean,
    dynamicPgHba: () => string[] | undefined = () => undefined,
    dynamicPgIdent: () => string[] | undefined = () => undefined,
  ) {
    this.dynamicPgHba = dynamicPgHba;
    this.dynamicPgIdent = dynamicPgIdent;
    this.config = config;
    this.dynamicParameters = dynamicParameters;
    this.useSlots = useSlots;
    this.sql = new SqlClient(() => this.pg, () => this.unixSocketDirectories());
  }

  /** `unix_socket_directories` in effect: the local file's, else the dynamic configuration's, else hactl's default. */
  unixSocketDirectories(): string {
    const v = this.pg.parameters["unix_socket_directories"] ??
      this.dynamicParameters()["unix_socket_directories"];
    return v === undefined || v === null ? DEFAULT_SOCKET_DIR : paramToString(v);
  }

  get pg(): Config["postgresql"] {
    return this.config.postgresql;
  }
  get dataDir(): string {
    return this.pg.dataDir.replace(/\/+$/, "");
  }
  get configDir(): string {
    return (this.pg.configDir || this.pg.dataDir).replace(/\/+$/, "");
  }
  get pgpass(): string {
    return this.pg.pgpass || `/tmp/pgpass_${slotNameFor(this.config.name)}`;
  }
  /** `pg_ctl_timeout` in ms (60 s when unset). */
  get timeoutMs(): number {
    return secondsToMs(this.pg.pgCtlTimeout > 0 ? this.pg.pgCtlTimeout : 60);
  }

  /**
   * The path of one of Postgres' programs under the name `postgresql.bin_name` gives it (the bin directory is looked
   * up once, by the name of pg_ctl).
   */
  async bin(program: string): Promise<string> {
    const name = (p: string) => this.pg.binName?.[p] || p;
    this.#binDir ??= await resolveBinDir(this.pg.binDir, Deno.env.get("PATH"), name("pg_ctl"));
    return `${this.#binDir}/${name(program)}`;
  }

  /** pg_controldata's fields, or nothing when it fails. */
  async controlData(): Promise<Record<string, string>> {
    const r = await run(await this.bin("pg_controldata"), [this.dataDir], {
      timeoutMs: 10_000,
      env: childEnv({ LC_ALL: "C", LANG: "C" }),
    });
    return r.code === 0 ? parseControlData(r.stdout) : {};
  }

  /** The data directory's system identifier (read once, then cached). */
  async systemIdentifier(): Promise<string | null> {
    if (this.sysid === null) {
      this.sysid = (await this.controlData())["Database system identifier"] ?? null;
    }
    return this.sysid;
  }

  /** Whether the data directory holds a cluster (`PG_VERSION`), is absent, or cannot be read. */
  async dataDirState(): Promise<PgObservation["dataDir"]> {
    try {
      const st = await Deno.stat(this.dataDir);
      if (!st.isDirectory) return "inaccessible";
      await Deno.stat(`${this.dataDir}/PG_VERSION`);
      return "initialized";
    } catch (e) {
      return e instanceof Deno.errors.NotFound ? "empty" : "inaccessible";
    }
  }
}
