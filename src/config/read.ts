/**
 * The readers behind `parseConfig`: typed access to the YAML document with every problem collected as
 * `<source>: <dotted.key>: <message>` (never echoing a secret), and one reader per section that needs more than a
 * few lines (`etcd3`, `postgresql`, `tags`, `bootstrap.dcs`). Internal to `./config.ts`.
 *
 * Pure. Imports `./env.ts`, `./dynamic.ts` (the shared rules of the dynamic configuration), `./command_line.ts`
 * (commands that must split) and types only.
 *
 * @module
 */
import type { Tags } from "../core/types.ts";
import { tagInt } from "../core/member_state.ts";
import {
  type Etcd3Config,
  type HostPort,
  PG_USER_KEYS,
  type PgUser,
  type PostgresqlConfig,
} from "./types.ts";

import {
  adjustTiming,
  DYNAMIC_DEFAULTS,
  DYNAMIC_MINIMUMS,
  PROTECTED_PARAMETERS,
  TIMING_KEYS,
} from "./dynamic.ts";
import { type Doc, isDoc, parseBoolText, parseIntWithUnits } from "./env.ts";
import { readRewindOptions, readRoleConfigs } from "./pg_role_config.ts";
import { methodSectionNames } from "./standby_methods.ts";
import { isKnownPostgresqlKey } from "./key_check.ts";
import { commandProblem } from "./command_line.ts";

export const OTHER_DCS = ["etcd", "consul", "zookeeper", "exhibitor", "kubernetes", "raft"];
export const INITDB_FORBIDDEN = ["pgdata", "nosync", "pwfile", "sync-only", "version"];
export const BASEBACKUP_FORBIDDEN = ["pgdata", "format", "wal-method", "xlog-method", "write-recovery-conf"];
export const RESERVED_NAME = "__patroni_strict_sync_replica_placeholder__";

/** What a value is, for messages that must not echo it. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number" && !Number.isInteger(value)) return "a fractional number";
  return `a ${typeof value}`;
}

export function isSecretKey(key: string): boolean {
  return /password/i.test(key);
}

/** Collects problems as `<source>: <dotted.key>: <message>` and reads typed values out of YAML objects. */
export class Reader {
  constructor(readonly source: string, readonly problems: string[]) {}

  problem(path: string, message: string): void {
    this.problems.push(`${this.source}: ${path}: ${message}`);
  }

  section(parent: Doc, key: string, path: string): Doc {
    const value = parent[key];
    if (value === undefined || value === null) return {};
    if (isDoc(value)) return value;
    this.problem(path, `must be a mapping, found ${kindOf(value)}`);
    return {};
  }

  str(parent: Doc, key: string, path: string, required = false): string | undefined {
    const value = parent[key];
    if (value === undefined || value === null || value === "") {
      if (required) this.problem(path, "is required");
      return undefined;
    }
    if (typeof value === "string") return value;
    const hint = typeof value === "number" && (isSecretKey(key) || key === "username")
      ? " (quote it in YAML)"
      : "";
    this.problem(path, `must be a string, found ${kindOf(value)}${hint}`);
    return undefined;
  }

  /** A command line hactl runs without a shell: a string that splits as Patroni splits it (`./command_line.ts`). */
  command(parent: Doc, key: string, path: string, required = false): string | undefined {
    const value = this.str(parent, key, path, required);
    const problem = value === undefined ? null : commandProblem(value);
    if (problem !== null) this.problem(path, problem);
    return problem === null ? value : undefined;
  }

  bool(parent: Doc, key: string, path: string, fallback: boolean): boolean {
    const value = parent[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === "boolean") return value;
    const parsed = typeof value === "string"
      ? parseBoolText(value)
      : value === 0
      ? false
      : value === 1
      ? true
      : undefined;
    if (parsed !== undefined) return parsed;
    this.problem(path, `must be a boolean (true/false), found ${kindOf(value)}`);
    return fallback;
  }

  int(parent: Doc, key: string, path: string, fallback: number, min?: number): number {
    const value = parent[key];
    if (value === undefined || value === null) return fallback;
    const n = typeof value === "number"
      ? value
      : typeof value === "string"
      ? parseIntWithUnits(value)
      : undefined;
    if (n === undefined || !Number.isInteger(n)) {
      this.problem(path, `must be an integer, found ${kindOf(value)}`);
      return fallback;
    }
    if (min !== undefined && n < min) {
      this.problem(path, `must be >= ${min} (found ${n})`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(parent: Doc, key: string, path: string, allowed: readonly T[], fallback: T): T {
    const value = parent[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    const found = typeof value === "string" ? `"${value}"` : kindOf(value);
    this.problem(path, `must be one of ${allowed.join(", ")}, found ${found}`);
    return fallback;
  }

  strList(parent: Doc, key: string, path: string): string[] {
    const value = parent[key];
    if (value === undefined || value === null) return [];
    if (typeof value === "string") return [value];
    if (!Array.isArray(value)) {
      this.problem(path, `must be a list of strings, found ${kindOf(value)}`);
      return [];
    }
    const out: string[] = [];
    value.forEach((item, i) => {
      if (typeof item === "string") out.push(item);
      else if (typeof item === "number") out.push(String(item));
      else this.problem(`${path}.${i}`, `must be a string, found ${kindOf(item)}`);
    });
    return out;
  }

  /** `host:port` (or `[v6]:port`); `defaultPort` allows the port to be omitted. */
  hostPort(value: unknown, path: string, defaultPort?: number): HostPort | undefined {
    if (typeof value !== "string" || value.trim() === "") {
      this.problem(path, `must be host:port, found ${kindOf(value)}`);
      return undefined;
    }
    const text = value.trim();
    const colon = text.lastIndexOf(":");
    const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    let host: string;
    let portText: string | undefined;
    if (bracketed) [host, portText] = [bracketed[1], bracketed[2]];
    else if (colon < 0) [host, portText] = [text, undefined];
    else [host, portText] = [text.slice(0, colon), text.slice(colon + 1)];
    if (portText === undefined) {
      if (defaultPort !== undefined) return { host, port: defaultPort };
      this.problem(path, `must be host:port, found "${text}" (no port)`);
      return undefined;
    }
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      this.problem(path, `port "${portText}" is not a number between 1 and 65535 (expected host:port)`);
      return undefined;
    }
    return { host: host.replace(/^\[(.*)\]$/, "$1"), port };
  }

  /** A list of `"flag"` / `{option: value}` items (or one mapping) as argv: `--flag`, `--option=value`. */
  options(parent: Doc, key: string, path: string, forbidden: readonly string[]): string[] {
    const value = parent[key];
    if (value === undefined || value === null) return [];
    const items: unknown[] = Array.isArray(value) ? value : isDoc(value) ? [value] : [undefined];
    if (!Array.isArray(value) && !isDoc(value)) {
      this.problem(path, `must be a list of options, found ${kindOf(value)}`);
      return [];
    }
    const argv: string[] = [];
    const add = (name: string, val: unknown, at: string) => {
      const option = name.replace(/^-+/, "");
      if (forbidden.includes(option)) {
        return this.problem(at, `option "${option}" is set by hactl and not allowed`);
      }
      if (val === undefined || val === null) return argv.push(`--${option}`);
      if (typeof val === "object" && val !== null) {
        return this.problem(at, `value of "${option}" must be a scalar`);
      }
      argv.push(`--${option}=${val}`);
    };
    items.forEach((item, i) => {
      const at = Array.isArray(value) ? `${path}.${i}` : path;
      if (typeof item === "string") add(item, undefined, at);
      else if (isDoc(item)) { for (const [k, v] of Object.entries(item)) add(k, v, at); }
      else this.problem(at, `must be an option name or {option: value}, found ${kindOf(item)}`);
    });
    return argv;
  }
}

export function normalizeNamespace(ns: string): string {
  const trimmed = ns.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "/" : `/${trimmed}/`;
}

export function endpointUrl(protocol: string, host: string, port: number): string {
  return `${protocol}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export function readEtcd3(r: Reader, sec: Doc): Etcd3Config {
  const protocol = r.oneOf(sec, "protocol", "etcd3.protocol", ["http", "https"] as const, "http");
  for (const key of ["srv", "proxy"]) {
    if (sec[key] !== undefined) {
      r.problem(`etcd3.${key}`, "is not supported by hactl; list the endpoints in etcd3.hosts");
    }
  }
  const parseOne = (entry: string, path: string): string | undefined => {
    const m = /^(https?):\/\/(.*?)\/?$/.exec(entry.trim());
    const hp = r.hostPort(m ? m[2] : entry, path, 2379);
    return hp && endpointUrl(m ? m[1] : protocol, hp.host, hp.port);
  };
  let hosts: string[] = [];
  if (sec.url !== undefined) {
    const url = r.str(sec, "url", "etcd3.url");
    if (url !== undefined) {
      if (!/^https?:\/\//.test(url)) r.problem("etcd3.url", `must be http(s)://host:port, found "${url}"`);
      else hosts = [parseOne(url, "etcd3.url")].filter((h): h is string => h !== undefined);
    }
  } else if (sec.hosts !== undefined) {
    const raw = typeof sec.hosts === "string" ? sec.hosts.split(",").map((h) => h.trim()) : sec.hosts;
    const list = r.strList({ hosts: raw }, "hosts", "etcd3.hosts").filter((h) => h !== "");
    hosts = list.map((h, i) => parseOne(h, `etcd3.hosts.${i}`)).filter((h): h is string => h !== undefined);
    if (list.length === 0) r.problem("etcd3.hosts", "must name at least one host:port");
  } else if (sec.host !== undefined) {
    const host = r.str(sec, "host", "etcd3.host", true);
    const url = host === undefined ? undefined : parseOne(host, "etcd3.host");
    if (url) hosts = [url];
  } else if (sec.srv === undefined && sec.proxy === undefined) {
    r.problem("etcd3", "needs one of host, hosts or url");
  }
  const out: Etcd3Config = { hosts, protocol };
  for (const key of ["username", "password", "cacert", "cert", "key"] as const) {
    const value = r.str(sec, key, `etcd3.${key}`);
    if (value !== undefined) out[key] = value;
  }
  if ((out.username === undefined) !== (out.password === undefined)) {
    r.problem(
      out.username === undefined ? "etcd3.username" : "etcd3.password",
      "is required when the other is set",
    );
  }
  if (out.key !== undefined && out.cert === undefined) {
    r.problem("etcd3.cert", "is required when etcd3.key is set");
  }
  return out;
}

export function readAuth(
  r: Reader,
  parent: Doc,
  path: string,
): { username: string; password: string } | undefined {
  if (parent.authentication === undefined || parent.authentication === null) return undefined;
  const sec = r.section(parent, "authentication", `${path}.authentication`);
  const username = r.str(sec, "username", `${path}.authentication.username`, true);
  const password = r.str(sec, "password", `${path}.authentication.password`, true);
  return username !== undefined && password !== undefined ? { username, password } : undefined;
}

export function readPgUser(r: Reader, sec: Doc, path: string): PgUser | undefined {
  const user: Partial<PgUser> = {};
  for (const key of PG_USER_KEYS) {
    const value = r.str(sec, key, `${path}.${key}`, key === "username");
    if (value !== undefined) user[key] = value;
  }
  return user.username === undefined ? undefined : user as PgUser;
}

/**
 * Checks `bootstrap.dcs`: a value that is not of its type is an error; the timing keys are adjusted as
 * `normalizeDynamic` (`./dynamic.ts`) adjusts them at run time and as Patroni does at start (a value below its
 * minimum raised, `loop_wait` then `retry_timeout` lowered until `loop_wait + 2 * retry_timeout <= ttl`), with a
 * warning per adjustment in `warnings`; the other keys below their minimum are errors.
 */
export function checkBootstrapDcs(r: Reader, dcs: Doc, warnings: string[]): void {
  const p = "bootstrap.dcs";
  const before = r.problems.length;
  const [ttl, loopWait, retryTimeout] = TIMING_KEYS.map(([key, field]) =>
    r.int(dcs, key, `${p}.${key}`, DYNAMIC_DEFAULTS[field])
  ) as [number, number, number];
  if (r.problems.length === before) {
    warnings.push(...adjustTiming({ ttl, loopWait, retryTimeout }, p).warnings);
  }
  r.int(dcs, "maximum_lag_on_failover", `${p}.maximum_lag_on_failover`, 0);
  const intKeys = [
    "primary_start_timeout",
    "primary_race_backoff",
    "isolation_fence_timeout",
    "primary_stop_timeout",
  ] as const;
  for (const key of [...intKeys, "master_stop_timeout"] as const) {
    r.int(dcs, key, `${p}.${key}`, 0, DYNAMIC_MINIMUMS[key]);
  }
  r.int(dcs, "synchronous_node_count", `${p}.synchronous_node_count`, 1, 1);
  for (const key of ["check_timeline", "failsafe_mode", "pause", "synchronous_mode_strict"]) {
    r.bool(dcs, key, `${p}.${key}`, false);
  }
  const sync = dcs.synchronous_mode;
  if (sync !== undefined && sync !== null && typeof sync !== "boolean" && sync !== "quorum") {
    if (typeof sync !== "string" || parseBoolText(sync) === undefined) {
      r.problem(`${p}.synchronous_mode`, "must be true, false or quorum");
    }
  }
  const pg = r.section(dcs, "postgresql", `${p}.postgresql`);
  r.section(pg, "parameters", `${p}.postgresql.parameters`);
  r.bool(pg, "use_slots", `${p}.postgresql.use_slots`, true);
  r.bool(pg, "use_pg_rewind", `${p}.postgresql.use_pg_rewind`, false);
  r.section(dcs, "slots", `${p}.slots`);
  r.section(dcs, "standby_cluster", `${p}.standby_cluster`);
}

export function readTags(r: Reader, sec: Doc, warnings: string[]): Tags {
  const tags: Tags = {};
  for (const [key, value] of Object.entries(sec)) {
    const path = `tags.${key}`;
    if (["nofailover", "nosync", "clonefrom", "noloadbalance", "nostream"].includes(key)) {
      tags[key] = r.bool(sec, key, path, false);
    } else if (key === "failover_priority" || key === "sync_priority") {
      // Checked as an integer; a string (`'1'`) is kept as written, as Patroni publishes it in the member key.
      const n = r.int(sec, key, path, 1, 0);
      tags[key] = typeof value === "string" ? value : n;
    } else if (key === "replicatefrom") tags[key] = r.str(sec, key, path);
    else if (value !== null && typeof value === "object") {
      r.problem(path, `must be a scalar, found ${kindOf(value)}`);
    } else tags[key] = value;
  }
  const py = (b: boolean) => (b ? "True" : "False");
  for (
    const [flag, priority] of [["nofailover", "failover_priority"], ["nosync", "sync_priority"]] as const
  ) {
    const b = tags[flag];
    const n = tagInt(tags[priority]);
    if (typeof b === "boolean" && n !== null && b !== (n <= 0)) {
      warnings.push(
        `Conflicting configuration between ${flag}: ${py(b)} and ${priority}: ${n}. Defaulting to ${flag}: ${
          py(b)
        }`,
      );
    }
  }
  return tags;
}

/** `postgresql.listen` (required) and `postgresql.connect_address` (defaults to the first listen host). */
function readPgAddresses(
  r: Reader,
  pg: Doc,
  warnings: string[],
): Pick<PostgresqlConfig, "listen" | "connectAddress"> {
  let listen: PostgresqlConfig["listen"] = { hosts: [], port: 5432 };
  const listenHp = pg.listen === undefined
    ? r.problem("postgresql.listen", "is required")
    : r.hostPort(pg.listen, "postgresql.listen");
  if (listenHp) {
    listen = {
      hosts: listenHp.host.split(",").map((h) => h.trim()).filter((h) => h !== ""),
      port: listenHp.port,
    };
  }
  let connectAddress: HostPort = { host: listen.hosts[0] ?? "", port: listen.port };
  if (pg.connect_address !== undefined) {
    connectAddress = r.hostPort(pg.connect_address, "postgresql.connect_address") ?? connectAddress;
  } else if (listenHp && ["", "*", "0.0.0.0", "::"].includes(connectAddress.host)) {
    warnings.push(
      `postgresql.connect_address: not set, and postgresql.listen's first host "${connectAddress.host}" is not an ` +
        "address other members can connect to",
    );
  }
  return { listen, connectAddress };
}

/** `postgresql.authentication` (superuser and replication required, rewind optional), legacy layout accepted. */
function readPgAuthentication(r: Reader, pg: Doc, warnings: string[]): PostgresqlConfig["authentication"] {
  // Legacy layout: `postgresql.superuser` / `postgresql.replication` directly under `postgresql`.
  let authDoc = pg.authentication;
  for (const user of ["superuser", "replication"]) {
    if (isDoc(pg[user]) && !(isDoc(authDoc) && authDoc[user] !== undefined)) {
      authDoc = { ...(isDoc(authDoc) ? authDoc : {}), [user]: pg[user] };
      warnings.push(`postgresql.${user}: legacy layout; move it to postgresql.authentication.${user}`);
    } else if (pg[user] !== undefined && pg[user] !== null) {
      warnings.push(`postgresql.${user}: ignored: postgresql.authentication.${user} is set`);
    }
  }
  let superuser: PgUser | undefined;
  let replication: PgUser | undefined;
  let rewind: PgUser | undefined;
  if (authDoc === undefined || authDoc === null) {
    r.problem("postgresql.authentication", "is required (superuser.username and replication.username)");
  } else {
    const auth = r.section({ authentication: authDoc }, "authentication", "postgresql.authentication");
    const user = (name: string) => {
      const path = `postgresql.authentication.${name}`;
      if (auth[name] === undefined || auth[name] === null) {
        return void r.problem(`${path}.username`, "is required");
      }
      return readPgUser(r, r.section(auth, name, path), path);
    };
    superuser = user("superuser");
    replication = user("replication");
    if (auth.rewind !== undefined && auth.rewind !== null) {
      rewind = readPgUser(
        r,
        r.section(auth, "rewind", "postgresql.authentication.rewind"),
        "postgresql.authentication.rewind",
      );
    }
  }
  return {
    superuser: superuser ?? { username: "" },
    replication: replication ?? { username: "" },
    ...(rewind ? { rewind } : {}),
  };
}

/** `postgresql.parameters` with the protected GUCs dropped (§3.4). */
function readPgParameters(r: Reader, pg: Doc): PostgresqlConfig["parameters"] {
  const parameters: PostgresqlConfig["parameters"] = {};
  for (const [key, value] of Object.entries(r.section(pg, "parameters", "postgresql.parameters"))) {
    if (PROTECTED_PARAMETERS.includes(key) || value === null) continue;
    if (typeof value === "object") {
      r.problem(`postgresql.parameters.${key}`, `must be a scalar, found ${kindOf(value)}`);
    } else parameters[key] = value as string | number | boolean;
  }
  return parameters;
}

/** `postgresql.callbacks`: the five known callbacks (others are unknown keys, warned about by `./key_check.ts`). */
function readPgCallbacks(r: Reader, pg: Doc): PostgresqlConfig["callbacks"] {
  const callbacks: PostgresqlConfig["callbacks"] = {};
  const cbDoc = r.section(pg, "callbacks", "postgresql.callbacks");
  for (const key of Object.keys(cbDoc)) {
    if (["on_start", "on_stop", "on_restart", "on_reload", "on_role_change"].includes(key)) {
      const cmd = r.command(cbDoc, key, `postgresql.callbacks.${key}`);
      if (cmd !== undefined) callbacks[key as keyof PostgresqlConfig["callbacks"]] = cmd;
    }
  }
  return callbacks;
}

/**
 * `postgresql.create_replica_methods` and the section of every method but basebackup, also of those only a standby
 * cluster's `create_replica_methods` may name (`standby_methods.ts`) (`command` defaults to the method's name, as
 * Patroni's; `keep_data`, `no_params`, `no_leader` are booleans; other keys are passed on).
 */
function readReplicaMethods(
  r: Reader,
  pg: Doc,
  standbyMethods: readonly string[],
): Pick<PostgresqlConfig, "createReplicaMethods"> & {
  replicaMethods: Record<string, Record<string, unknown>>;
} {
  const createReplicaMethods = pg.create_replica_methods === undefined
    ? ["basebackup"]
    : r.strList(pg, "create_replica_methods", "postgresql.create_replica_methods");
  const replicaMethods: Record<string, Record<string, unknown>> = {};
  const named = [...new Set([...createReplicaMethods, ...standbyMethods])];
  for (const method of named.filter((m) => m !== "basebackup")) {
    const sec = r.section(pg, method, `postgresql.${method}`);
    if (
      r.command(sec, "command", `postgresql.${method}.command`) === undefined &&
      commandProblem(method) !== null
    ) {
      r.problem(
        `postgresql.${method}.command`,
        `${commandProblem(method)} (the method's name is its command)`,
      );
    }
    for (const flag of ["keep_data", "no_params", "no_leader"]) {
      r.bool(sec, flag, `postgresql.${method}.${flag}`, false);
    }
    replicaMethods[method] = timestampsAsText(sec);
  }
  return { createReplicaMethods, replicaMethods };
}

/**
 * A YAML timestamp (an unquoted `2026-01-01 10:00:00+00` is one, for PyYAML as for hactl's reader) as Python's
 * `str(datetime)` writes it, in UTC: `2026-01-01 10:00:00.123000+00:00`.
 */
export function timestampText(d: Date): string {
  const iso = d.toISOString(); // 2026-01-01T10:00:00.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000+00:00`;
}

/** `doc` with every YAML timestamp, also in nested mappings, as `timestampText`. */
export function timestampsAsText(doc: Doc): Doc {
  const out: Doc = {};
  for (const [k, v] of Object.entries(doc)) {
    out[k] = v instanceof Date ? timestampText(v) : isDoc(v) ? timestampsAsText(v) : v;
  }
  return out;
}

/** `postgresql.recovery_conf`: recovery parameters of a replica (`restore_command`, ...), scalars only. */
export function readRecoveryConf(r: Reader, parent: Doc, key: string, path: string): Record<string, unknown> {
  const sec = timestampsAsText(r.section(parent, key, path));
  for (const [k, v] of Object.entries(sec)) {
    if (v !== null && typeof v === "object") r.problem(`${path}.${k}`, "must be a string, number or boolean");
  }
  return sec;
}

/** `postgresql.bin_name`: other names for the Postgres binaries. */
function readBinName(r: Reader, pg: Doc): Record<string, string> {
  const binName: Record<string, string> = {};
  const binDoc = r.section(pg, "bin_name", "postgresql.bin_name");
  for (const key of Object.keys(binDoc)) {
    const value = r.str(binDoc, key, `postgresql.bin_name.${key}`);
    if (value !== undefined) binName[key] = value;
  }
  return binName;
}

/** The `postgresql` section. Problems are reported in the order of the keys below. */
export function readPostgresql(
  r: Reader,
  doc: Doc,
  env: Record<string, string>,
  warnings: string[],
): PostgresqlConfig {
  const pg = r.section(doc, "postgresql", "postgresql");
  const { listen, connectAddress } = readPgAddresses(r, pg, warnings);
  const dataDir = r.str(pg, "data_dir", "postgresql.data_dir", true) ?? "";
  const home = env.HOME ?? "~";
  const authentication = readPgAuthentication(r, pg, warnings);
  const parameters = readPgParameters(r, pg);
  const callbacks = readPgCallbacks(r, pg);
  const { createReplicaMethods, replicaMethods } = readReplicaMethods(
    r,
    pg,
    methodSectionNames(doc, isKnownPostgresqlKey),
  );
  const binName = readBinName(r, pg);
  const flag = (key: string) => r.bool(pg, key, `postgresql.${key}`, false);
  const out: PostgresqlConfig = {
    listen,
    connectAddress,
    dataDir,
    configDir: r.str(pg, "config_dir", "postgresql.config_dir") ?? dataDir,
    binDir: r.str(pg, "bin_dir", "postgresql.bin_dir") ?? "",
    pgpass: (r.str(pg, "pgpass", "postgresql.pgpass") ?? "~/pgpass").replace(/^~(?=\/|$)/, home),
    authentication,
    parameters,
    pgHba: r.strList(pg, "pg_hba", "postgresql.pg_hba"),
    pgIdent: r.strList(pg, "pg_ident", "postgresql.pg_ident"),
    callbacks,
    createReplicaMethods,
    replicaMethods,
    basebackup: r.options(pg, "basebackup", "postgresql.basebackup", BASEBACKUP_FORBIDDEN),
    pgCtlTimeout: r.int(pg, "pg_ctl_timeout", "postgresql.pg_ctl_timeout", 60, 1),
    useUnixSocket: flag("use_unix_socket"),
    removeDataDirectoryOnRewindFailure: flag("remove_data_directory_on_rewind_failure"),
    removeDataDirectoryOnDivergedTimelines: flag("remove_data_directory_on_diverged_timelines"),
    binName,
  };
  const recoveryConf = readRecoveryConf(r, pg, "recovery_conf", "postgresql.recovery_conf");
  if (Object.keys(recoveryConf).length > 0) out.recoveryConf = recoveryConf;
  const problem = (path: string, message: string) => r.problem(path, message);
  const roleConfig = readRoleConfigs(pg, problem);
  if (roleConfig !== undefined) out.roleConfig = roleConfig;
  if (pg.use_pg_rewind !== undefined && pg.use_pg_rewind !== null) out.usePgRewind = flag("use_pg_rewind");
  const rewind = readRewindOptions(pg, problem);
  if (rewind !== undefined) out.rewind = rewind;
  if (pg.proxy_address !== undefined) {
    out.proxyAddress = r.hostPort(pg.proxy_address, "postgresql.proxy_address");
  }
  const prePromote = r.command(pg, "pre_promote", "postgresql.pre_promote");
  if (prePromote !== undefined) out.prePromote = prePromote;
  const customConf = r.str(pg, "custom_conf", "postgresql.custom_conf");
  if (customConf) out.customConf = customConf;
  const beforeStop = r.command(pg, "before_stop", "postgresql.before_stop");
  if (beforeStop !== undefined) out.beforeStop = beforeStop;
  return out;
}
