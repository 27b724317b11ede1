/**
 * The shapes of the validated local configuration (`Config` and its sections) and `ConfigError`. Types only, so
 * the section readers and the builder can share them without importing each other.
 *
 * @module
 */
import type { Tags } from "../core/types.ts";
import type { RoleConfigs } from "../core/pg_role_types.ts";
import type { LogConfig } from "../log/settings.ts";

export type { LogConfig };

export interface HostPort {
  host: string;
  port: number;
}

export interface PgUser {
  username: string;
  password?: string;
  sslmode?: string;
  sslcert?: string;
  sslkey?: string;
  sslpassword?: string;
  sslrootcert?: string;
  sslcrl?: string;
  sslcrldir?: string;
  gssencmode?: string;
  channel_binding?: string;
}

export interface Etcd3Config {
  /** Endpoint URLs including the scheme, e.g. `http://127.0.0.1:2379`. */
  hosts: string[];
  protocol: "http" | "https";
  username?: string;
  password?: string;
  cacert?: string;
  cert?: string;
  key?: string;
}

export interface RestApiConfig {
  /** Where to bind; host `""`/`*` means all addresses (`0.0.0.0`). */
  listen: HostPort;
  /** host:port advertised in `api_url`. Defaults to `listen`. */
  connectAddress: HostPort;
  authentication?: { username: string; password: string };
  certfile?: string;
  keyfile?: string;
  keyfilePassword?: string;
  cafile?: string;
  verifyClient: "none" | "optional" | "required";
  allowlist: string[];
  allowlistIncludeMembers: boolean;
  httpExtraHeaders: Record<string, string>;
  /** Added as well when the API serves HTTPS (e.g. `Strict-Transport-Security`). */
  httpsExtraHeaders: Record<string, string>;
}

export interface CtlConfig {
  authentication?: { username: string; password: string };
  insecure: boolean;
  cacert?: string;
  certfile?: string;
  keyfile?: string;
  /** Decrypts `keyfile` (used by the control commands' client certificate). */
  keyfilePassword?: string;
}

export interface PostgresqlConfig {
  /** `listen: host[,host2]:port` -> listen_addresses + port. */
  listen: { hosts: string[]; port: number };
  /** Advertised in `conn_url`. */
  connectAddress: HostPort;
  dataDir: string;
  configDir: string;
  /** Directory of the Postgres binaries; `""` means: search PATH and /usr/lib/postgresql/<ver>/bin. */
  binDir: string;
  pgpass: string;
  authentication: { superuser: PgUser; replication: PgUser; rewind?: PgUser };
  /** Local parameters (protected GUCs already removed). */
  parameters: Record<string, string | number | boolean>;
  pgHba: string[];
  pgIdent: string[];
  /** `parameters_<role>`, `pg_hba_<role>`, `pg_ident_<role>` (each wins over the dynamic configuration's). */
  roleConfig?: RoleConfigs;
  /** `use_pg_rewind` of the local file: wins over the dynamic configuration's when set. */
  usePgRewind?: boolean;
  /** `rewind`: extra pg_rewind arguments (`--option[=value]`); absent when not set (the dynamic ones then apply). */
  rewind?: string[];
  callbacks: Partial<Record<"on_start" | "on_stop" | "on_restart" | "on_reload" | "on_role_change", string>>;
  createReplicaMethods: string[];
  /** The sections of the non-basebackup methods named in `createReplicaMethods` (`{command, keep_data, ...}`). */
  replicaMethods?: Record<string, Record<string, unknown>>;
  /** `recovery_conf`: recovery parameters a replica runs with (`restore_command`, ...), as written. */
  recoveryConf?: Record<string, unknown>;
  /** `proxy_address`, advertised as the member's `proxy_url`. */
  proxyAddress?: HostPort;
  /** `bin_name`: other names for the Postgres binaries, e.g. `{ pg_ctl: "pg_ctl.wrapper" }`. */
  binName?: Record<string, string>;
  /** `custom_conf`: a postgresql.conf of the operator's, included first instead of `postgresql.base.conf`. */
  customConf?: string;
  /** Scripts: `pre_promote` (fencing; promotion is cancelled when it fails) and `before_stop`. */
  prePromote?: string;
  beforeStop?: string;
  /** pg_basebackup extra options, already flattened to argv form (`--checkpoint=fast`). */
  basebackup: string[];
  pgCtlTimeout: number;
  useUnixSocket: boolean;
  removeDataDirectoryOnRewindFailure: boolean;
  removeDataDirectoryOnDivergedTimelines: boolean;
}

export interface BootstrapConfig {
  /** The raw `bootstrap.dcs` object, written once into the `config` key. */
  dcs: Record<string, unknown>;
  method: string;
  /** initdb options flattened to argv form: `--encoding=UTF8`, `--data-checksums`. */
  initdb: string[];
  pgHba: string[];
  postBootstrap?: string;
  /** The section of a custom bootstrap `method` (`{command, no_params, ...}`); absent for `initdb`. */
  methodConfig?: Record<string, unknown>;
}

export interface WatchdogConfig {
  mode: "off" | "automatic" | "required";
  device: string;
  safetyMargin: number;
  driver: "default" | "testing";
}

/** The `fencing` section (hactl's own): what guards a primary beside the agent. */
export interface FencingConfig {
  /**
   * `fencing.supervisor` (default true): run `hactl fence-supervisor` beside the agent and lead only while it runs
   * and answers. False on hosts that rely on a hardware watchdog alone.
   */
  supervisor: boolean;
}

/** The validated local configuration. Immutable once built. */
export interface Config {
  /** Path of the file it came from, or `environment`. Used to prefix error messages. */
  source: string;
  scope: string;
  /** Always starts and ends with `/`, e.g. `/service/`. */
  namespace: string;
  name: string;
  log: LogConfig;
  restapi: RestApiConfig;
  ctl: CtlConfig;
  etcd3: Etcd3Config;
  bootstrap: BootstrapConfig;
  postgresql: PostgresqlConfig;
  tags: Tags;
  watchdog: WatchdogConfig;
  fencing: FencingConfig;
}

/** All problems found in one configuration, each already formatted as `<file>: <dotted.key>: <message>`. */
export class ConfigError extends Error {
  /** `warnings`: what was found besides the problems (unknown keys, ...), without the `<file>: ` prefix. */
  constructor(readonly problems: string[], readonly warnings: string[] = []) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/** The connection keys of a database user (`postgresql.authentication.<user>`) that the reader takes. */
export const PG_USER_KEYS = [
  "username",
  "password",
  "sslmode",
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslrootcert",
  "sslcrl",
  "sslcrldir",
  "gssencmode",
  "channel_binding",
] as const;
