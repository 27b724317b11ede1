/**
 * Pure builders for the files and argument vectors hactl hands to PostgreSQL: the effective parameter set
 * (protected GUCs validated), `postgresql.conf` text, `pg_hba.conf` text, the
 * libpq `primary_conninfo` string, `.pgpass` lines, postmaster command-line options and `initdb` argv, plus the
 * small parsers they need (`conn_url`, conninfo, `pg_controldata` output).
 *
 * Pure: no `Deno.*`, no clock, no I/O. Imports nothing from the adapters. Secrets: only `pgpassLine` and
 * `quoteLiteral` ever see a password; nothing here puts one into a conf file or a conninfo string.
 *
 * @module
 */

/** A parameter value as it appears in YAML (`on`, `100`, `true`). */
export type ParamValue = string | number | boolean;

/** Name of the file the initdb-generated `postgresql.conf` is renamed to; hactl's conf includes it. */
export const BASE_CONF = "postgresql.base.conf";

interface ProtectedRule {
  default: string;
  /** Returns the normalized value, or null when the value is invalid. */
  check: (value: string) => string | null;
  /** False for the `wal_keep_*` exception: written to the conf file only, not on the command line. */
  cmdline: boolean;
}

function minInt(min: number): (v: string) => string | null {
  return (v) => /^-?\d+$/.test(v.trim()) && Number(v) >= min ? String(Number(v)) : null;
}

/** `on`/`off` from any spelling Postgres accepts; null when not a boolean. */
export function normalizeBool(v: string): string | null {
  const s = v.trim().toLowerCase();
  if (["on", "true", "yes", "1", "t", "y"].includes(s)) return "on";
  if (["off", "false", "no", "0", "f", "n"].includes(s)) return "off";
  return null;
}

const SIZE_UNITS_MB: Record<string, number> = { kb: 1 / 1024, mb: 1, gb: 1024, tb: 1024 * 1024 };

/** A size in MB from `128MB`, `1GB` or a bare number (MB, the unit of `wal_keep_size`); null when invalid. */
export function parseSizeMb(v: string): number | null {
  const m = /^\s*(\d+)\s*([kKmMgGtT][bB])?\s*$/.exec(v);
  if (!m) return null;
  return Number(m[1]) * (m[2] ? SIZE_UNITS_MB[m[2].toLowerCase()]! : 1);
}

/** The GUCs only the dynamic configuration may set, with their defaults and checks (PG13+ flavour). */
export const PROTECTED: Readonly<Record<string, ProtectedRule>> = {
  max_connections: { default: "100", check: minInt(25), cmdline: true },
  max_locks_per_transaction: { default: "64", check: minInt(32), cmdline: true },
  max_worker_processes: { default: "8", check: minInt(2), cmdline: true },
  max_prepared_transactions: { default: "0", check: minInt(0), cmdline: true },
  wal_level: {
    default: "replica",
    check: (v) => {
      const s = v.trim().toLowerCase();
      if (s === "hot_standby" || s === "replica") return "replica";
      return s === "logical" ? "logical" : null;
    },
    cmdline: true,
  },
  track_commit_timestamp: { default: "off", check: normalizeBool, cmdline: true },
  max_wal_senders: { default: "10", check: minInt(3), cmdline: true },
  max_replication_slots: { default: "10", check: minInt(4), cmdline: true },
  wal_keep_size: {
    default: "128MB",
    check: (v) => {
      const mb = parseSizeMb(v);
      return mb !== null && mb >= 16 ? `${Math.round(mb)}MB` : null;
    },
    cmdline: false,
  },
  wal_log_hints: { default: "on", check: normalizeBool, cmdline: true },
  hot_standby: { default: "on", check: (v) => normalizeBool(v) === "on" ? "on" : null, cmdline: true },
};

/**
 * Defaults hactl sets where PostgreSQL's own do not suit a cluster that changes upstreams, each overridden by a
 * value in either configuration. `wal_retrieve_retry_interval`: a replica whose upstream changed (a switchover,
 * a failover) retries streaming after 1 s instead of PostgreSQL's 5 s, which a new primary in
 * `synchronous_mode_strict` waits out without accepting commits (Patroni keeps PostgreSQL's 5 s).
 */
const HACTL_DEFAULTS: Readonly<Record<string, string>> = { wal_retrieve_retry_interval: "1s" };

/** Parameters hactl always sets itself; a value from the local or dynamic configuration is ignored. */
const OWNED = new Set(["listen_addresses", "port", "cluster_name", "hba_file", "ident_file", "config_file"]);

/** Parameters written into the recovery section only, never taken from `parameters`. */
const RECOVERY = new Set([
  "primary_conninfo",
  "primary_slot_name",
  "recovery_target_timeline",
  "recovery_target",
  "recovery_target_name",
  "recovery_target_time",
  "recovery_target_xid",
  "recovery_target_lsn",
]);

/** Render a YAML value the way Postgres reads it (`true` -> `on`). */
export function paramToString(v: ParamValue): string {
  if (typeof v === "boolean") return v ? "on" : "off";
  return String(v);
}

export interface EffectiveInput {
  /** `postgresql.parameters` from the DCS `config` key. */
  dynamic: Record<string, ParamValue>;
  /** `postgresql.parameters` from the local file (win over dynamic ones, except protected GUCs). */
  local: Record<string, ParamValue>;
  /** `parameters_<role>` of the server's role (win over both, except protected GUCs); `roleName` names it. */
  role?: Record<string, ParamValue>;
  roleName?: string;
  scope: string;
  listen: { hosts: string[]; port: number };
  /** Absolute paths of the hba and ident files hactl writes. */
  hbaFile: string;
  identFile: string;
  /** Used when neither configuration sets `unix_socket_directories`. */
  defaultSocketDir: string;
}

export interface EffectiveParameters {
  /** Every parameter for `postgresql.conf`, values as strings. */
  params: Record<string, string>;
  /** Human notes about ignored or invalid values (no secrets: parameter values are not secrets). */
  warnings: string[];
}

/**
 * Merge dynamic and local parameters into the set hactl writes: protected GUCs come from the dynamic config
 * only (invalid -> default, with a warning), listen/port/cluster_name from `postgresql.listen` and `scope`.
 */
export function effectiveParameters(input: EffectiveInput): EffectiveParameters {
  const params: Record<string, string> = {};
  const warnings: string[] = [];
  const take = (source: Record<string, ParamValue>, origin: "dynamic" | "local" | "role") => {
    for (const [name, value] of Object.entries(source)) {
      if (value === null || value === undefined) continue;
      if (name === "wal_keep_segments") continue; // PG13+: converted to wal_keep_size above
      if (OWNED.has(name) || RECOVERY.has(name)) {
        const what = origin === "role" ? `parameters_${input.roleName}` : `${origin} parameter`;
        warnings.push(`${what} ${name} is ignored: hactl sets it`);
        continue;
      }
      if (name in PROTECTED) {
        if (origin === "local") {
          warnings.push(`local parameter ${name} is ignored: only the dynamic configuration may set it`);
          continue;
        }
        if (origin === "role") {
          warnings.push(
            `parameters_${input.roleName} sets ${name}, which only postgresql.parameters may set; ignored`,
          );
          continue;
        }
        const normalized = PROTECTED[name]!.check(paramToString(value));
        if (normalized === null) {
          warnings.push(
            `dynamic parameter ${name}=${paramToString(value)} is invalid; using ${PROTECTED[name]!.default}`,
          );
          continue;
        }
        params[name] = normalized;
        continue;
      }
      params[name] = paramToString(value);
    }
  };
  for (const [name, rule] of Object.entries(PROTECTED)) params[name] = rule.default;
  Object.assign(params, HACTL_DEFAULTS);
  const segments = input.dynamic["wal_keep_segments"];
  if (segments !== undefined && input.dynamic["wal_keep_size"] === undefined) {
    const n = Number(paramToString(segments));
    if (Number.isInteger(n) && n >= 1) params["wal_keep_size"] = `${Math.max(16, n * 16)}MB`;
  }
  take(input.dynamic, "dynamic");
  take(input.local, "local");
  if (input.role) take(input.role, "role");
  params["listen_addresses"] = input.listen.hosts.join(",");
  params["port"] = String(input.listen.port);
  params["cluster_name"] = input.scope;
  params["hba_file"] = input.hbaFile;
  params["ident_file"] = input.identFile;
  if (params["unix_socket_directories"] === undefined) {
    params["unix_socket_directories"] = input.defaultSocketDir;
  }
  return { params, warnings };
}

/** The controldata fields that bound what a hot standby needs, keyed by GUC. */
const CONTROLDATA_MINIMUMS: Record<string, string> = {
  max_connections: "max_connections setting",
  max_worker_processes: "max_worker_processes setting",
  max_wal_senders: "max_wal_senders setting",
  max_prepared_transactions: "max_prepared_xacts setting",
  max_locks_per_transaction: "max_locks_per_xact setting",
};

/**
 * The pg_controldata rule for standbys: a hot standby refuses to start with a smaller value than the primary
 * had, so raise each of these GUCs to the controldata value. Returns the names that were raised.
 */
export function applyControlDataMinimums(
  params: Record<string, string>,
  controldata: Record<string, string>,
): string[] {
  const raised: string[] = [];
  for (const [guc, field] of Object.entries(CONTROLDATA_MINIMUMS)) {
    const cd = Number(controldata[field]);
    const cur = Number(params[guc]);
    if (Number.isFinite(cd) && Number.isFinite(cur) && cd > cur) {
      params[guc] = String(cd);
      raised.push(guc);
    }
  }
  return raised;
}

/** Postmaster options for the protected GUCs (they then beat `ALTER SYSTEM`), as separate argv words. */
export function cmdlineOptions(params: Record<string, string>): string[] {
  const names = ["listen_addresses", "port", "cluster_name"];
  for (const [name, rule] of Object.entries(PROTECTED)) if (rule.cmdline) names.push(name);
  return names.sort().filter((n) => params[n] !== undefined).map((n) => `--${n}=${params[n]}`);
}

/** Quote a value for `postgresql.conf`: single quotes, with `\` and `'` escaped. */
export function quoteConfValue(v: string): string {
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

export interface ConfInput {
  params: Record<string, string>;
  /** Write `include 'postgresql.base.conf'` as the first line. */
  includeBase: boolean;
  /** `postgresql.custom_conf`: the file included first instead of `postgresql.base.conf` (as Patroni). */
  customConf?: string;
  /** The recovery section (replicas): `primary_conninfo`, `primary_slot_name`, ... Null for a primary. */
  recovery: Record<string, string> | null;
}

/** The text of hactl's `postgresql.conf`: the include line first, then parameters sorted by name. */
export function buildPostgresqlConf(input: ConfInput): string {
  const lines: string[] = [];
  if (input.customConf) lines.push(`include ${quoteConfValue(input.customConf)}`);
  else if (input.includeBase) lines.push(`include ${quoteConfValue(BASE_CONF)}`);
  lines.push("# Written by hactl. Do not edit: it is rewritten at every start.", "");
  for (const name of Object.keys(input.params).sort()) {
    lines.push(`${name} = ${quoteConfValue(input.params[name]!)}`);
  }
  if (input.recovery) {
    lines.push("", "# recovery");
    for (const name of Object.keys(input.recovery).sort()) {
      lines.push(`${name} = ${quoteConfValue(input.recovery[name]!)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A reasonable pg_hba when neither `postgresql.pg_hba` nor `bootstrap.pg_hba` is configured. */
export function defaultPgHba(replicationUser: string): string[] {
  const repl = quoteHbaName(replicationUser);
  return [
    "local all all peer",
    "host all all 127.0.0.1/32 md5",
    "host all all ::1/128 md5",
    `host replication ${repl} 127.0.0.1/32 md5`,
    `host replication ${repl} ::1/128 md5`,
    `host replication ${repl} all md5`,
    "host all all all md5",
  ];
}

function quoteHbaName(name: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * The pg_hba lines in effect, as Patroni chooses them: the local `postgresql.pg_hba`, else the dynamic
 * configuration's, else `bootstrap.pg_hba` (older layout); null when none is set (hactl then keeps the file it
 * wrote, or writes `defaultPgHba`).
 */
export function chooseHba(
  local: string[],
  dynamic: string[] | undefined,
  bootstrap: string[],
): string[] | null {
  if (local.length > 0) return local;
  if (dynamic !== undefined && dynamic.length > 0) return dynamic;
  return bootstrap.length > 0 ? bootstrap : null;
}

/** The text of `pg_hba.conf` (or `pg_ident.conf`) from configured lines. */
export function buildHba(lines: string[]): string {
  return ["# Written by hactl. Do not edit: it is rewritten at every start.", ...lines].join("\n") + "\n";
}

/** Quote a libpq conninfo value when needed: single quotes with `\` and `'` backslash-escaped. */
export function quoteConninfoValue(v: string): string {
  if (v !== "" && /^[A-Za-z0-9_.,:@/+-]+$/.test(v)) return v;
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** `key=value key2='va lue'` from ordered pairs; undefined/empty-key pairs are skipped. */
export function buildConninfo(pairs: [string, string | undefined][]): string {
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quoteConninfoValue(v!)}`).join(" ");
}

/** Parse a libpq key=value conninfo string (the inverse of `buildConninfo`). Throws on malformed input. */
export function parseConninfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  while (true) {
    ws();
    if (i >= text.length) return out;
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`conninfo: expected key=value at offset ${i}`);
    const key = text.slice(i, eq).trim();
    i = eq + 1;
    ws();
    let value = "";
    if (text[i] === "'") {
      i++;
      while (true) {
        if (i >= text.length) throw new Error("conninfo: unterminated quoted value");
        const c = text[i]!;
        if (c === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
    }
    out[key] = value;
  }
}

/** host/port/dbname of a member's `conn_url` (`postgres://10.0.0.1:5432/postgres`). */
export function parseConnUrl(connUrl: string): { host: string; port: number; dbname: string | undefined } {
  let url: URL;
  try {
    url = new URL(connUrl);
  } catch (e) {
    throw new Error(`invalid conn_url ${JSON.stringify(connUrl)}: expected postgres://host:port/dbname`, {
      cause: e,
    });
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new Error(`invalid conn_url ${JSON.stringify(connUrl)}: expected the postgres:// scheme`);
  }
  const host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new Error(`invalid conn_url ${JSON.stringify(connUrl)}: no host`);
  const port = url.port ? Number(url.port) : 5432;
  const db = decodeURIComponent(url.pathname.replace(/^\//, ""));
  return { host, port, dbname: db || undefined };
}

export interface ReplicationConninfoInput {
  connUrl: string;
  user: string;
  passfile: string;
  applicationName: string;
  sslmode?: string | undefined;
  gssencmode?: string | undefined;
  channelBinding?: string | undefined;
  /** Extra `sslcert`/`sslkey`/... pairs from `authentication.replication`. */
  ssl?: Record<string, string | undefined>;
}

/**
 * The conninfo a replica (walreceiver or pg_basebackup) uses to reach its upstream. The password is never part
 * of it: libpq reads it from `passfile`.
 */
export function replicationConninfo(input: ReplicationConninfoInput): string {
  const { host, port, dbname } = parseConnUrl(input.connUrl);
  const pairs: [string, string | undefined][] = [
    ["dbname", dbname],
    ["user", input.user],
    ["passfile", input.passfile],
    ["host", host],
    ["port", String(port)],
    ["sslmode", input.sslmode ?? "prefer"],
    ["application_name", input.applicationName],
    ["gssencmode", input.gssencmode ?? "prefer"],
    ["channel_binding", input.channelBinding ?? "prefer"],
  ];
  for (const [k, v] of Object.entries(input.ssl ?? {})) if (v !== undefined) pairs.push([k, v]);
  return buildConninfo(pairs);
}

function escapePgpass(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

/** One `.pgpass` line `host:port:*:user:password`, with `\` and `:` escaped. */
export function pgpassLine(host: string, port: number | "*", user: string, password: string): string {
  return `${escapePgpass(host)}:${port}:*:${escapePgpass(user)}:${escapePgpass(password)}`;
}

/** initdb options hactl owns; a user-supplied one is dropped. */
const INITDB_FORBIDDEN = new Set(["pgdata", "nosync", "pwfile", "sync-only", "version", "username"]);
const INITDB_FORBIDDEN_SHORT = new Set(["-D", "-N", "-U", "-V", "-S"]);

/** `initdb` argv (without the binary): hactl's options, then the allowed `bootstrap.initdb` ones. */
export function initdbArgv(
  opts: { dataDir: string; superuser: string; pwfile: string | null; extra: string[] },
): { argv: string[]; dropped: string[] } {
  const argv = [`--pgdata=${opts.dataDir}`, `--username=${opts.superuser}`];
  if (opts.pwfile) argv.push(`--pwfile=${opts.pwfile}`);
  const dropped: string[] = [];
  for (const option of opts.extra) {
    const long = /^--([^=]+)/.exec(option)?.[1];
    if ((long && INITDB_FORBIDDEN.has(long)) || INITDB_FORBIDDEN_SHORT.has(option.slice(0, 2))) {
      dropped.push(option.replace(/=.*$/, ""));
      continue;
    }
    argv.push(option);
  }
  return { argv, dropped };
}

/** pg_basebackup options hactl owns; a user-supplied one is dropped. */
const BASEBACKUP_FORBIDDEN = new Set([
  "pgdata",
  "format",
  "wal-method",
  "xlog-method",
  "gzip",
  "version",
  "dbname",
  "host",
  "port",
  "username",
  "password",
]);

/** `pg_basebackup` argv (without the binary). */
export function basebackupArgv(
  opts: { dataDir: string; conninfo: string; extra: string[] },
): { argv: string[]; dropped: string[] } {
  const argv = [`--pgdata=${opts.dataDir}`, "-X", "stream", `--dbname=${opts.conninfo}`];
  const dropped: string[] = [];
  for (const option of opts.extra) {
    const long = /^--([^=]+)/.exec(option)?.[1];
    if ((long && BASEBACKUP_FORBIDDEN.has(long)) || /^-[DFXzVdhpUwW]/.test(option)) {
      dropped.push(option.replace(/=.*$/, ""));
      continue;
    }
    argv.push(option);
  }
  return { argv, dropped };
}

/** Parse `pg_controldata` output (LANG=C) into `field -> value`. */
export function parseControlData(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const idx = line.indexOf(":");
    if (idx <= 0) continue;
    out[line.slice(0, idx).trim()] = line.slice(idx + 1).trim();
  }
  return out;
}

/** An SQL string literal; `E''` form when the value contains a backslash. */
export function quoteLiteral(v: string): string {
  const q = v.replace(/'/g, "''");
  return v.includes("\\") ? `E'${q.replace(/\\/g, "\\\\")}'` : `'${q}'`;
}

/** An SQL identifier, always double-quoted. */
export function quoteIdent(v: string): string {
  return `"${v.replace(/"/g, '""')}"`;
}

/** Quote one word for `/bin/sh` (pg_ctl passes `-o` through the shell). */
export function shellQuote(v: string): string {
  return /^[A-Za-z0-9_.,:@/=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The address hactl connects to for its own SQL: the first listen host, loopback for wildcards. */
export function localConnectHost(hosts: string[]): string {
  const first = (hosts[0] ?? "").trim();
  if (first === "" || first === "*" || first === "0.0.0.0") return "127.0.0.1";
  if (first === "::") return "::1";
  return first;
}
