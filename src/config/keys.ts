/**
 * Every configuration key Patroni 4 accepts, and hactl's own, with where it lives (the local YAML file or the
 * cluster's dynamic configuration, which `bootstrap.dcs` seeds), Patroni's default, and what hactl does with it:
 * - `implemented`: read and acted on;
 * - `not yet`: refused (`<file>: <key>: not supported by hactl yet`) when set to a value that would change
 *   behaviour (`inert` says which values change nothing and are accepted); keys that act only together with
 *   another unsupported key (`dependsOn`) are warned about instead;
 * - `not applicable`: Patroni internals with no meaning here (warned about, never fatal), or another DCS than
 *   etcd v3 (refused by the DCS section's reader).
 * `guarantee` marks the dynamic keys whose promise (synchronous replication, a standby cluster) an
 * agent must not lead under without keeping it (src/core/unsupported_config.ts).
 *
 * Pure data, checked against Patroni's schema and docs and against what hactl's code acts on; the table in
 * docs/configuration.md is generated from it (`scripts/config_keys_doc.ts`) and a unit test keeps both equal.
 * Imports nothing.
 *
 * @module
 */
import { PG_USER_KEYS } from "./types.ts";

export type KeyStatus = "implemented" | "not yet" | "not applicable";

/** Values of a `not yet` key that change nothing (so they are accepted). */
export type Inert =
  | "false" // false/off/no, or absent
  | "empty" // null, "", [] or {}
  | "zero" // 0 or absent
  | "initdb" // "initdb"
  | "basebackup" // [basebackup]
  | "default" // the default value
  | "no standby" // no host, port or restore_command
  | "not quorum"; // anything but quorum

export interface ConfigKey {
  /** Dotted path. Dynamic keys are named as in the cluster's `config` key (also read under `bootstrap.dcs.`). */
  key: string;
  where: "local" | "dynamic";
  /** Patroni's default, as text (`""`: none). */
  default: string;
  status: KeyStatus;
  /** `not yet`: the values that are accepted because they change nothing. */
  inert?: Inert;
  /** `not yet`: acts only together with this unsupported key, so setting it is a warning. */
  dependsOn?: string;
  /** `not applicable`: `warn` (ignored, with a warning) or `reader` (refused by its section's reader). */
  onSet?: "warn" | "reader";
  /** Any sub-key is accepted (GUCs, custom tags, headers, logger names, slot names, ...). */
  open?: true;
  /** Dynamic only: a promise the cluster makes that hactl cannot keep yet; an agent does not take the key. */
  guarantee?: true;
  /** hactl's own key (Patroni does not have it). */
  hactl?: true;
  /** Shown in the docs and in messages. */
  note?: string;
}

type Extra = Partial<Pick<ConfigKey, "open" | "note" | "hactl" | "guarantee" | "dependsOn">>;

const local = (key: string, def: string, extra: Extra = {}): ConfigKey => ({
  key,
  where: "local",
  default: def,
  status: "implemented",
  ...extra,
});
const dynamic = (key: string, def: string, extra: Extra = {}): ConfigKey => ({
  key,
  where: "dynamic",
  default: def,
  status: "implemented",
  ...extra,
});
const notYet = (c: ConfigKey, inert: Inert, extra: Extra = {}): ConfigKey => ({
  ...c,
  status: "not yet",
  inert,
  ...extra,
});
const notApplicable = (c: ConfigKey, onSet: "warn" | "reader", note: string): ConfigKey => ({
  ...c,
  status: "not applicable",
  onSet,
  note,
});

/**
 * Patroni 4.1's role-specific keys: `parameters_<role>` merged over `parameters`, `pg_hba_<role>` and
 * `pg_ident_<role>` replacing `pg_hba` and `pg_ident`, while the server has that role.
 */
function roleKeys(make: typeof local): ConfigKey[] {
  const notes: Record<string, string> = {
    parameters: "merged over parameters while the server has that role (not the parameters only " +
      "postgresql.parameters may set); a role change rewrites the files and reloads",
    pg_hba: "replaces pg_hba while the server has that role",
    pg_ident: "replaces pg_ident while the server has that role",
  };
  return ["parameters", "pg_hba", "pg_ident"].flatMap((base) =>
    ["primary", "replica", "standby_leader"].map((role) =>
      make(`postgresql.${base}_${role}`, "", {
        ...(base === "parameters" ? { open: true } : {}),
        ...(role === "primary" ? { note: notes[base]! } : {}),
        ...(role === "standby_leader" && base === "parameters"
          ? { note: "the role of a standby cluster's member that streams from the remote primary" }
          : {}),
      })
    )
  );
}

const PG_USERS = ["superuser", "replication", "rewind"] as const;
/**
 * Patroni's connection parameters of a database user (`_AUTH_ALLOWED_PARAMETERS`): those the reader takes, plus
 * `sslnegotiation` (Patroni 4; not read by hactl yet).
 */
const PG_USER_FIELDS = [...PG_USER_KEYS, "sslnegotiation"] as const;

/** The TLS fields hactl's own connections as the superuser and rewind users honour (src/pg/tls.ts). */
const OWN_CONNECTION_TLS = ["sslmode", "sslcert", "sslkey", "sslrootcert", "sslpassword"];

/**
 * One database user's keys: hactl passes every TLS/GSS field for the replication user; for the superuser and rewind
 * users, the login and the TLS fields its own connections (npm:postgres, pg_rewind) honour.
 */
function pgUserKeys(user: typeof PG_USERS[number]): ConfigKey[] {
  return PG_USER_FIELDS.map((field) => {
    const c = local(
      `postgresql.authentication.${user}.${field}`,
      field === "username" && user !== "rewind" ? "required" : "",
    );
    const used = field === "username" || field === "password" || OWN_CONNECTION_TLS.includes(field) ||
      (user === "replication" && field !== "sslnegotiation");
    return used ? c : notYet(c, "empty");
  });
}

const DCS_NOTE = "hactl uses etcd v3 (the etcd3 section)";
/** The sections of the other DCS Patroni supports, each refused by name by the DCS reader. */
const OTHER_DCS_KEYS: Record<string, string[]> = {
  etcd: [
    "host",
    "hosts",
    "use_proxies",
    "url",
    "proxy",
    "srv",
    "srv_suffix",
    "protocol",
    "username",
    "password",
    "cacert",
    "cert",
    "key",
  ],
  consul: [
    "host",
    "url",
    "port",
    "scheme",
    "token",
    "verify",
    "cacert",
    "cert",
    "key",
    "dc",
    "consistency",
    "checks",
    "register_service",
    "service_tags",
    "service_check_interval",
    "service_check_tls_server_name",
  ],
  zookeeper: ["hosts", "use_ssl", "cacert", "cert", "key", "key_password", "verify", "set_acls", "auth_data"],
  exhibitor: ["hosts", "poll_interval", "port"],
  kubernetes: [
    "bypass_api_service",
    "namespace",
    "labels",
    "scope_label",
    "bootstrap_labels",
    "role_label",
    "leader_label_value",
    "follower_label_value",
    "standby_leader_label_value",
    "tmp_role_label",
    "use_endpoints",
    "pod_ip",
    "ports",
    "cacert",
    "retriable_http_codes",
  ],
  raft: [
    "self_addr",
    "bind_addr",
    "partner_addrs",
    "data_dir",
    "password",
    "min_timeout",
    "max_timeout",
    "connection_timeout",
    "append_entries_period",
    "connection_retry_time",
    "leader_fallback_timeout",
  ],
};

const SYNC = "synchronous_mode";
const PY_ONLY = "a Python runtime setting";

/** The local configuration file. */
const LOCAL_KEYS: ConfigKey[] = [
  local("name", "required"),
  local("scope", "required"),
  local("namespace", "/service/"),
  notApplicable(local("thread_pool_size", "5"), "warn", PY_ONLY),
  notApplicable(local("thread_stack_size", ""), "warn", PY_ONLY),
  local("log", ""),
  local("log.type", "plain"),
  local("log.level", "INFO"),
  local("log.traceback_level", "ERROR"),
  local("log.format", "%(asctime)s %(levelname)s: %(message)s", {
    note:
      "source-location fields (%(pathname)s, %(lineno)d, ...) are shown as their nearest equivalent or '-', with a warning",
  }),
  local("log.dateformat", ""),
  local("log.static_fields", "", { open: true }),
  notApplicable(
    local("log.max_queue_size", "1000"),
    "warn",
    "hactl writes log lines synchronously, without a queue",
  ),
  local("log.dir", ""),
  local("log.mode", ""),
  local("log.file_num", "4"),
  local("log.file_size", "25000000"),
  local("log.loggers", "", { open: true }),
  local("log.deduplicate_heartbeat_logs", "false"),
  local("ctl", ""),
  local("ctl.authentication", "restapi.authentication"),
  local("ctl.authentication.username", ""),
  local("ctl.authentication.password", ""),
  local("ctl.insecure", "false"),
  local("ctl.cacert", "restapi.cafile"),
  local("ctl.certfile", ""),
  local("ctl.keyfile", ""),
  local("ctl.keyfile_password", ""),
  local("restapi", "required"),
  notApplicable(local("restapi.thread_pool_size", "5"), "warn", PY_ONLY),
  local("restapi.listen", "required"),
  local("restapi.connect_address", "restapi.listen"),
  local("restapi.authentication", ""),
  local("restapi.authentication.username", ""),
  local("restapi.authentication.password", ""),
  local("restapi.certfile", ""),
  local("restapi.keyfile", ""),
  notYet(local("restapi.keyfile_password", ""), "empty", { note: "encrypted keys" }),
  local("restapi.cafile", ""),
  notYet(local("restapi.ciphers", ""), "empty"),
  local("restapi.verify_client", "none"),
  local("restapi.allowlist", "[]"),
  local("restapi.allowlist_include_members", "false"),
  local("restapi.http_extra_headers", "", { open: true }),
  local("restapi.https_extra_headers", "", { open: true }),
  notApplicable(local("restapi.request_queue_size", "5"), "warn", "the listen backlog is the runtime's"),
  notApplicable(
    local("restapi.server_tokens", "original"),
    "warn",
    "hactl's Server header is always hactl/<version>",
  ),
  local("bootstrap", ""),
  local("bootstrap.dcs", "", { note: "the first dynamic configuration: every dynamic key below" }),
  local("bootstrap.method", "initdb", {
    note: "initdb, or the name of a custom method whose section has a command (a restore from a backup)",
  }),
  local("bootstrap.<method>", "", {
    open: true,
    note: "command (run with --scope, --datadir unless no_params, and --key=value for other keys), " +
      "keep_existing_recovery_conf, recovery_conf (e.g. a point-in-time target); a failure fails the bootstrap",
  }),
  local("bootstrap.initdb", "[]"),
  local("bootstrap.pg_hba", "[]", { note: "older Patroni layout; postgresql.pg_hba wins" }),
  local("bootstrap.post_bootstrap", "", {
    note:
      "run once after the first start, with the superuser's connection string; non-zero fails the bootstrap",
  }),
  local("bootstrap.post_init", "", { note: "older name of post_bootstrap" }),
  notApplicable(
    local("bootstrap.users", ""),
    "warn",
    "removed in Patroni 4; create users in a post_bootstrap script",
  ),
  notYet(local("citus", ""), "empty"),
  notYet(local("citus.group", ""), "empty"),
  notYet(local("citus.database", ""), "empty"),
  local("etcd3", "required"),
  local("etcd3.host", "", { note: "one of host, hosts, url" }),
  local("etcd3.hosts", ""),
  local("etcd3.url", ""),
  notYet(local("etcd3.use_proxies", "false"), "false"),
  { ...notYet(local("etcd3.proxy", ""), "empty"), onSet: "reader" },
  { ...notYet(local("etcd3.srv", ""), "empty"), onSet: "reader" },
  notYet(local("etcd3.srv_suffix", ""), "empty"),
  local("etcd3.protocol", "http"),
  local("etcd3.username", ""),
  local("etcd3.password", ""),
  local("etcd3.cacert", ""),
  local("etcd3.cert", ""),
  local("etcd3.key", ""),
  ...Object.entries(OTHER_DCS_KEYS).flatMap(([section, keys]) =>
    [section, ...keys.map((k) => `${section}.${k}`)].map((key) =>
      notApplicable(local(key, ""), "reader", DCS_NOTE)
    )
  ),
  local("postgresql", "required"),
  local("postgresql.listen", "required"),
  local("postgresql.connect_address", "postgresql.listen"),
  local("postgresql.proxy_address", "", { note: "published in the member key as proxy_url" }),
  local("postgresql.authentication", "required"),
  ...PG_USERS.map((u) => local(`postgresql.authentication.${u}`, u === "rewind" ? "superuser" : "required")),
  ...PG_USERS.flatMap(pgUserKeys),
  local("postgresql.superuser", "", {
    open: true,
    note: "older layout of postgresql.authentication.superuser",
  }),
  local("postgresql.replication", "", {
    open: true,
    note: "older layout of postgresql.authentication.replication",
  }),
  local("postgresql.data_dir", "required"),
  local("postgresql.config_dir", "postgresql.data_dir"),
  local("postgresql.bin_dir", "PATH"),
  local("postgresql.bin_name", "", { note: "other names of the programs in bin_dir (wrappers)" }),
  ...["pg_ctl", "initdb", "pg_controldata", "pg_basebackup", "pg_rewind"].map((b) =>
    local(`postgresql.bin_name.${b}`, b)
  ),
  local("postgresql.bin_name.postgres", "postgres", {
    note: "started by pg_ctl -p; hactl knows the postmaster by this name too (the first 15 characters)",
  }),
  notApplicable(
    local("postgresql.bin_name.pg_isready", "pg_isready"),
    "warn",
    "hactl runs no pg_isready: it asks the server over SQL",
  ),
  local("postgresql.pgpass", "~/pgpass"),
  local("postgresql.parameters", "", { open: true }),
  ...roleKeys(local),
  local("postgresql.pg_hba", "[]"),
  local("postgresql.pg_ident", "[]"),
  local("postgresql.pg_ctl_timeout", "60"),
  local("postgresql.use_pg_rewind", "false", {
    note: "when set, wins over the dynamic configuration's (as Patroni's local postgresql keys do)",
  }),
  notApplicable(
    local("postgresql.use_slots", "true"),
    "warn",
    "Patroni too reads it from the dynamic configuration only",
  ),
  local("postgresql.rewind", "[]", {
    note: "extra pg_rewind options (`[name, {name: value}]` or `{name: value}`), passed after the source; " +
      "wins over the dynamic one",
  }),
  local("postgresql.basebackup", "[]"),
  local("postgresql.callbacks", ""),
  ...["on_reload", "on_restart", "on_role_change", "on_start", "on_stop"].map((cb) =>
    local(`postgresql.callbacks.${cb}`, "")
  ),
  local("postgresql.create_replica_methods", "[basebackup]", {
    note: "tried in order until one succeeds; hactl reinit --from-leader uses basebackup only",
  }),
  local("postgresql.<replica_method>", "", {
    open: true,
    note:
      "command (run with --scope, --role, --datadir, --connstring unless no_params, and --key=value for " +
      "other keys), keep_data, no_params, no_leader (also runs with no leader, empty --connstring); read for " +
      "every method create_replica_methods names, and for any other postgresql section with a command (a " +
      "standby cluster's dynamic create_replica_methods may name it)",
  }),
  local("postgresql.recovery_conf", "", {
    note: "recovery parameters of a replica (restore_command, ...); hactl's primary_conninfo, " +
      "primary_slot_name and recovery_target_timeline win",
  }),
  local("postgresql.custom_conf", "", {
    note: "included first in postgresql.conf instead of postgresql.base.conf",
  }),
  notYet(local("postgresql.config_base_name", "postgresql"), "default"),
  local("postgresql.use_unix_socket", "false", {
    note: "hactl's own superuser connection goes through the first absolute unix_socket_directories entry",
  }),
  notApplicable(
    local("postgresql.use_unix_socket_repl", "false"),
    "warn",
    "hactl opens no replication connection to its own server",
  ),
  local("postgresql.remove_data_directory_on_rewind_failure", "false"),
  local("postgresql.remove_data_directory_on_diverged_timelines", "false"),
  local("postgresql.pre_promote", "", {
    note:
      "run after the leader key is taken, before pg_ctl promote; non-zero: key released, no race for a ttl",
  }),
  local("postgresql.before_stop", "", {
    note: "run and waited for (at most pg_ctl_timeout) before Postgres is stopped; not before a fence's stop",
  }),
  local("watchdog", ""),
  local("watchdog.mode", "automatic"),
  local("watchdog.device", "/dev/watchdog"),
  local("watchdog.safety_margin", "5"),
  local("watchdog.driver", "default", { note: "`testing`: a FIFO instead of a device, for tests" }),
  local("tags", "", { open: true, note: "custom tags are published as they are" }),
  local("tags.nofailover", "false"),
  local("tags.failover_priority", "1"),
  local("tags.clonefrom", "false", {
    note:
      "a new or reinitialised replica clones from a running clonefrom member (the first by name), else the leader",
  }),
  local("tags.noloadbalance", "false"),
  local("tags.replicatefrom", ""),
  local("tags.nosync", "false"),
  local("tags.sync_priority", "1"),
  local("tags.nostream", "false"),
  local("fencing", "", { hactl: true }),
  local("fencing.supervisor", "true", {
    hactl: true,
    note: "false: no fencing supervisor process (hosts that rely on a hardware watchdog alone)",
  }),
];

/** The dynamic configuration (the DCS `config` key; `bootstrap.dcs` in the local file). */
const DYNAMIC_KEYS: ConfigKey[] = [
  dynamic("ttl", "30", {
    note: "hactl's minimum is 5 (Patroni: 20); a smaller value is raised, with a warning",
  }),
  dynamic("loop_wait", "10", {
    note:
      "minimum 1; lowered, with a warning, while loop_wait + 2 * retry_timeout > ttl (as Patroni), and while " +
      "it leaves less than 1 s between the next renewal and the fence deadline (hactl)",
  }),
  dynamic("retry_timeout", "10", {
    note:
      "minimum 2 (Patroni: 3); lowered to (ttl - 1) // 2, with a warning, when loop_wait 1 still does not fit " +
      "(as Patroni)",
  }),
  dynamic("maximum_lag_on_failover", "1048576"),
  dynamic("maximum_lag_on_syncnode", "-1"),
  dynamic("max_timelines_history", "0", {
    note:
      "the leader publishes only the last N entries of the history key; a promotion still lands above every " +
      "timeline number up to the newest one the key names",
  }),
  dynamic("primary_start_timeout", "300"),
  dynamic("master_start_timeout", "300", { note: "older name of primary_start_timeout" }),
  dynamic("primary_stop_timeout", "0", {
    note: "in synchronous_mode: a demotion or shutdown taking longer ends with SIGKILL of Postgres",
  }),
  dynamic("master_stop_timeout", "0", { note: "older name of primary_stop_timeout" }),
  dynamic("primary_race_backoff", "0"),
  dynamic(SYNC, "false", {
    note: "true/on, false/off or quorum (quorum commit: `ANY k (...)` and the votes a new leader needs)",
  }),
  dynamic("synchronous_mode_strict", "false"),
  dynamic("synchronous_node_count", "1"),
  dynamic("failsafe_mode", "false", {
    note: "a leader that loses etcd keeps its primary while every member of the failsafe key confirms it",
  }),
  dynamic("check_timeline", "false"),
  dynamic("pause", "false"),
  dynamic("member_slots_ttl", "1800"),
  dynamic("isolation_fence_timeout", "3", {
    hactl: true,
    note: "a primary that hears from neither etcd nor any replica for this long stops Postgres; 0 disables",
  }),
  dynamic("postgresql", ""),
  dynamic("postgresql.use_pg_rewind", "false"),
  dynamic("postgresql.use_slots", "true"),
  dynamic("postgresql.parameters", "", { open: true }),
  ...roleKeys(dynamic),
  dynamic("postgresql.pg_hba", "[]", {
    note: "written to pg_hba.conf (then Postgres is reloaded); a local postgresql.pg_hba wins over it",
  }),
  dynamic("postgresql.pg_ident", "[]", {
    note: "written to pg_ident.conf (then Postgres is reloaded); a local postgresql.pg_ident wins over it",
  }),
  dynamic("postgresql.recovery_conf", "", {
    note: "recovery parameters of a replica (restore_command, ...); a local postgresql.recovery_conf wins",
  }),
  dynamic("postgresql.rewind", "[]", { note: "extra pg_rewind options; a local postgresql.rewind wins" }),
  notYet(dynamic("postgresql.basebackup", "[]"), "empty", {
    note: "set postgresql.basebackup in the local file instead",
  }),
  notYet(dynamic("postgresql.pg_ctl_timeout", "60"), "default", {
    note: "set postgresql.pg_ctl_timeout in the local file instead",
  }),
  dynamic("standby_cluster", "", {
    note: "with host, port or restore_command: a standby cluster (its leader follows the remote primary)",
  }),
  dynamic("standby_cluster.host", "", { note: "the remote primary to clone from and stream from" }),
  dynamic("standby_cluster.port", "5432"),
  dynamic("standby_cluster.primary_slot_name", "", {
    note: "the standby leader's slot on the remote primary",
  }),
  dynamic("standby_cluster.create_replica_methods", "[basebackup]", {
    note:
      "every clone in the standby cluster (the standby leader's, its replicas') tries these in order, with the " +
      "local postgresql.<method> sections, in place of postgresql.create_replica_methods",
  }),
  ...["restore_command", "archive_cleanup_command", "recovery_min_apply_delay"].map((k) =>
    dynamic(`standby_cluster.${k}`, "", { note: "written for the standby leader" })
  ),
  ...[
    [
      "slots",
      "permanent physical and logical slots, kept on the primary and on replicas that may become primary",
    ],
    ["permanent_slots", "older name of slots"],
    ["permanent_replication_slots", "older name of slots"],
  ].map(([k, what]) => dynamic(k!, "", { open: true, note: what! })),
  dynamic("ignore_slots", "[]", {
    open: true,
    note: "slots matching an entry (name, type, database, plugin) are never created, advanced or dropped",
  }),
];

/** Every key, local then dynamic. */
export const CONFIG_KEYS: readonly ConfigKey[] = [...LOCAL_KEYS, ...DYNAMIC_KEYS];
