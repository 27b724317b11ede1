/**
 * Patroni's `PATRONI_*` environment overrides, turned into a partial
 * configuration document that is merged over the YAML file, plus the merge rule itself (objects merge
 * recursively, `null` deletes, later wins), which is also used for a directory of YAML files.
 *
 * Pure: the environment is passed in as a plain record. Imports only `yaml`.
 *
 * @module
 */
import { parse as parseYaml, type ScalarTag, type Tags as YamlTags } from "yaml";

/** A YAML/JSON object. */
export type Doc = Record<string, unknown>;

/** True for a plain object (not an array, not null). */
export function isDoc(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges `patch` into a copy of `base`: objects merge recursively, `null` deletes the key, anything else
 * replaces. The inputs are not modified.
 */
export function mergeDocs(base: Doc, patch: Doc): Doc {
  const out: Doc = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isDoc(value) && isDoc(out[key])) out[key] = mergeDocs(out[key] as Doc, value);
    else out[key] = value;
  }
  return out;
}

/** Parses Patroni's boolean spellings (`on/true/yes/1`, `off/false/no/0`, any case); undefined otherwise. */
export function parseBoolText(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (["on", "true", "yes", "1"].includes(t)) return true;
  if (["off", "false", "no", "0"].includes(t)) return false;
  return undefined;
}

/**
 * Parses an integer, accepting Postgres-style size and time units (`16MB`, `30s`, `5min`) as Patroni does.
 * `baseUnit` is the unit the result is expressed in (`"B"` for sizes, `"s"` for times); a bare number is
 * returned as is. Undefined when the text is not such a value.
 */
export function parseIntWithUnits(text: string, baseUnit: "B" | "kB" | "s" | "ms" = "s"): number | undefined {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2];
  if (unit === "") return Number.isInteger(n) ? n : Math.trunc(n);
  const sizes: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  const times: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60000, h: 3600000, d: 86400000 };
  if (baseUnit === "B" || baseUnit === "kB") {
    if (!(unit in sizes)) return undefined;
    return Math.trunc((n * sizes[unit]) / sizes[baseUnit]);
  }
  if (!(unit in times)) return undefined;
  return Math.trunc((n * times[unit]) / times[baseUnit]);
}

type Kind = "str" | "list" | "dict" | "bool" | "int";

/** The outcome of reading the environment: a partial document plus any variables that could not be parsed. */
export interface EnvOverrides {
  doc: Doc;
  /** Problems as `<dotted.key>: <message>` (the caller adds the source). Values are never echoed. */
  problems: string[];
}

const USER_SUFFIXES = [
  "USERNAME",
  "PASSWORD",
  "SSLMODE",
  "SSLKEY",
  "SSLPASSWORD",
  "SSLCERT",
  "SSLROOTCERT",
  "SSLCRL",
  "SSLCRLDIR",
  "SSLNEGOTIATION",
  "GSSENCMODE",
  "CHANNEL_BINDING",
];

const DCS_SUFFIXES: Record<string, Kind> = {
  HOST: "str",
  HOSTS: "list",
  PORT: "int",
  USE_PROXIES: "bool",
  PROTOCOL: "str",
  SRV: "str",
  SRV_SUFFIX: "str",
  URL: "str",
  PROXY: "str",
  CACERT: "str",
  CERT: "str",
  KEY: "str",
  KEY_PASSWORD: "str",
  VERIFY: "bool",
  TOKEN: "str",
  CHECKS: "list",
  DC: "str",
  CONSISTENCY: "str",
  REGISTER_SERVICE: "bool",
  SERVICE_CHECK_INTERVAL: "str",
  SERVICE_CHECK_TLS_SERVER_NAME: "str",
  SERVICE_TAGS: "list",
  NAMESPACE: "str",
  CONTEXT: "str",
  USE_ENDPOINTS: "bool",
  SCOPE_LABEL: "str",
  ROLE_LABEL: "str",
  LEADER_LABEL_VALUE: "str",
  FOLLOWER_LABEL_VALUE: "str",
  STANDBY_LEADER_LABEL_VALUE: "str",
  TMP_ROLE_LABEL: "str",
  POD_IP: "str",
  PORTS: "list",
  LABELS: "dict",
  BOOTSTRAP_LABELS: "dict",
  BYPASS_API_SERVICE: "bool",
  RETRIABLE_HTTP_CODES: "list",
  USE_SSL: "str",
  SET_ACLS: "dict",
  AUTH_DATA: "dict",
};

/** DCS sections the generic `PATRONI_<SECTION>_<SUFFIX>` rule applies to (the non-etcd3 ones only to report). */
const DCS_SECTIONS = ["etcd3", "etcd", "consul", "zookeeper", "exhibitor", "kubernetes"];

const RAFT_SUFFIXES: Record<string, Kind> = {
  SELF_ADDR: "str",
  BIND_ADDR: "str",
  PARTNER_ADDRS: "list",
  DATA_DIR: "str",
  PASSWORD: "str",
};

/** Fixed variables: name -> [dotted path, kind]. Legacy names apply only when the new one is unset. */
const FIXED: Array<[string, string, Kind]> = [
  ["NAME", "name", "str"],
  ["SCOPE", "scope", "str"],
  ["NAMESPACE", "namespace", "str"],
  ["LOG_TYPE", "log.type", "str"],
  ["LOG_LEVEL", "log.level", "str"],
  ["LOG_TRACEBACK_LEVEL", "log.traceback_level", "str"],
  ["LOG_FORMAT", "log.format", "str"],
  ["LOG_DATEFORMAT", "log.dateformat", "str"],
  ["LOG_STATIC_FIELDS", "log.static_fields", "dict"],
  ["LOG_MAX_QUEUE_SIZE", "log.max_queue_size", "int"],
  ["LOG_DIR", "log.dir", "str"],
  ["LOG_MODE", "log.mode", "int"],
  ["LOG_FILE_NUM", "log.file_num", "int"],
  ["LOG_FILE_SIZE", "log.file_size", "int"],
  ["LOG_LOGGERS", "log.loggers", "dict"],
  ["LOG_DEDUPLICATE_HEARTBEAT_LOGS", "log.deduplicate_heartbeat_logs", "bool"],
  ["RESTAPI_LISTEN", "restapi.listen", "str"],
  ["RESTAPI_CONNECT_ADDRESS", "restapi.connect_address", "str"],
  ["RESTAPI_CERTFILE", "restapi.certfile", "str"],
  ["RESTAPI_KEYFILE", "restapi.keyfile", "str"],
  ["RESTAPI_KEYFILE_PASSWORD", "restapi.keyfile_password", "str"],
  ["RESTAPI_CAFILE", "restapi.cafile", "str"],
  ["RESTAPI_CIPHERS", "restapi.ciphers", "str"],
  ["RESTAPI_VERIFY_CLIENT", "restapi.verify_client", "str"],
  ["RESTAPI_HTTP_EXTRA_HEADERS", "restapi.http_extra_headers", "dict"],
  ["RESTAPI_HTTPS_EXTRA_HEADERS", "restapi.https_extra_headers", "dict"],
  ["RESTAPI_ALLOWLIST", "restapi.allowlist", "list"],
  ["RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "restapi.allowlist_include_members", "bool"],
  ["RESTAPI_REQUEST_QUEUE_SIZE", "restapi.request_queue_size", "int"],
  ["RESTAPI_SERVER_TOKENS", "restapi.server_tokens", "str"],
  ["CTL_INSECURE", "ctl.insecure", "bool"],
  ["CTL_CACERT", "ctl.cacert", "str"],
  ["CTL_CERTFILE", "ctl.certfile", "str"],
  ["CTL_KEYFILE", "ctl.keyfile", "str"],
  ["CTL_KEYFILE_PASSWORD", "ctl.keyfile_password", "str"],
  ["POSTGRESQL_LISTEN", "postgresql.listen", "str"],
  ["POSTGRESQL_CONNECT_ADDRESS", "postgresql.connect_address", "str"],
  ["POSTGRESQL_PROXY_ADDRESS", "postgresql.proxy_address", "str"],
  ["POSTGRESQL_DATA_DIR", "postgresql.data_dir", "str"],
  ["POSTGRESQL_CONFIG_DIR", "postgresql.config_dir", "str"],
  ["POSTGRESQL_PGPASS", "postgresql.pgpass", "str"],
  ["POSTGRESQL_BIN_DIR", "postgresql.bin_dir", "str"],
  ...["PG_CTL", "INITDB", "PG_CONTROLDATA", "PG_BASEBACKUP", "POSTGRES", "PG_ISREADY", "PG_REWIND"].map(
    (b): [string, string, Kind] => [`POSTGRESQL_BIN_${b}`, `postgresql.bin_name.${b.toLowerCase()}`, "str"],
  ),
  ...["SUPERUSER", "REPLICATION", "REWIND"].flatMap((user) =>
    USER_SUFFIXES.map((s): [string, string, Kind] => [
      `${user}_${s}`,
      `postgresql.authentication.${user.toLowerCase()}.${s.toLowerCase()}`,
      "str",
    ])
  ),
  ["CITUS_GROUP", "citus.group", "int"],
  ["CITUS_DATABASE", "citus.database", "str"],
];

const LEGACY: Array<[string, string]> = [["LOGLEVEL", "LOG_LEVEL"], ["LOGFORMAT", "LOG_FORMAT"], [
  "LOG_DATEFMT",
  "LOG_DATEFORMAT",
]];

function setPath(doc: Doc, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let node = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isDoc(node[part])) node[part] = {};
    node = node[part] as Doc;
  }
  node[parts[parts.length - 1]] = value;
}

/** YAML 1.1 booleans as PyYAML resolves them: `yes/no/on/off/true/false`, but not `y`/`n`. */
function pyyamlBooleans(tags: YamlTags): YamlTags {
  return tags.map((tag) => {
    if (
      typeof tag !== "object" || tag.tag !== "tag:yaml.org,2002:bool" || !("test" in tag) || !tag.identify
    ) {
      return tag;
    }
    const test = tag.identify(true)
      ? /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/
      : /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
    return { ...(tag as ScalarTag), test };
  });
}

/** Options for the `yaml` package so that it reads YAML as Patroni's PyYAML does (YAML 1.1, `on`/`off`). */
export const PYYAML_OPTIONS = { version: "1.1", customTags: pyyamlBooleans } as const;

function safeYaml(text: string): unknown {
  try {
    return parseYaml(text, PYYAML_OPTIONS);
  } catch {
    return undefined;
  }
}

/** Converts one variable's text to its kind; `undefined` when it cannot be parsed. */
function convert(text: string, kind: Kind): unknown {
  switch (kind) {
    case "str":
      return text;
    case "bool":
      return parseBoolText(text);
    case "int":
      return parseIntWithUnits(text, "B") ?? parseIntWithUnits(text, "s");
    case "list": {
      const t = text.trim();
      const parsed = safeYaml(t.startsWith("-") || t.includes("[") ? t : `[${t}]`);
      return Array.isArray(parsed) ? parsed : undefined;
    }
    case "dict": {
      const t = text.trim();
      const parsed = safeYaml(t.startsWith("{") ? t : `{${t}}`);
      return isDoc(parsed) ? parsed : undefined;
    }
  }
}

const KIND_WORDS: Record<Kind, string> = {
  str: "a string",
  bool: "a boolean (on/true/yes/1 or off/false/no/0)",
  int: "an integer",
  list: "a list",
  dict: "a mapping",
};

/**
 * Reads the `PATRONI_*` variables of `env` into a partial configuration document (§3.5). Only variables that
 * are set and non-empty count. `PATRONI_CONFIGURATION` is not handled here: the caller decides the source.
 *
 * @example
 * ```ts
 * const { doc } = readEnvOverrides({ PATRONI_NAME: "pg1", PATRONI_ETCD3_HOSTS: "'a:2379','b:2379'" });
 * // doc = { name: "pg1", etcd3: { hosts: ["a:2379", "b:2379"] } }
 * ```
 */
export function readEnvOverrides(env: Record<string, string>): EnvOverrides {
  const doc: Doc = {};
  const problems: string[] = [];
  const get = (suffix: string): string | undefined => {
    const v = env[`PATRONI_${suffix}`];
    return v === undefined || v === "" ? undefined : v;
  };
  const apply = (variable: string, dotted: string, kind: Kind, text: string) => {
    const value = convert(text, kind);
    if (value === undefined) problems.push(`${dotted}: ${variable} must be ${KIND_WORDS[kind]}`);
    else setPath(doc, dotted, value);
  };

  for (const [suffix, dotted, kind] of FIXED) {
    let text = get(suffix);
    let variable = `PATRONI_${suffix}`;
    const legacy = LEGACY.find(([, modern]) => modern === suffix);
    if (text === undefined && legacy) {
      text = get(legacy[0]);
      variable = `PATRONI_${legacy[0]}`;
    }
    if (text !== undefined) apply(variable, dotted, kind, text);
  }

  // `authentication` blocks of restapi and ctl: only created when one of the pair is set.
  for (const section of ["RESTAPI", "CTL"]) {
    for (const field of ["USERNAME", "PASSWORD"]) {
      const text = get(`${section}_${field}`);
      if (text !== undefined) {
        setPath(doc, `${section.toLowerCase()}.authentication.${field.toLowerCase()}`, text);
      }
    }
  }

  // The generic DCS rule: PATRONI_<SECTION>_<SUFFIX> -> <section>.<suffix>.
  for (const section of DCS_SECTIONS) {
    const suffixes: Record<string, Kind> = { ...DCS_SUFFIXES };
    if (section === "etcd" || section === "etcd3") {
      Object.assign(suffixes, { USERNAME: "str", PASSWORD: "str" });
    }
    for (const [suffix, kind] of Object.entries(suffixes)) {
      const name = `${section.toUpperCase()}_${suffix}`;
      const text = get(name);
      if (text !== undefined) apply(`PATRONI_${name}`, `${section}.${suffix.toLowerCase()}`, kind, text);
    }
  }
  for (const [suffix, kind] of Object.entries(RAFT_SUFFIXES)) {
    const text = get(`RAFT_${suffix}`);
    if (text !== undefined) apply(`PATRONI_RAFT_${suffix}`, `raft.${suffix.toLowerCase()}`, kind, text);
  }
  return { doc, problems };
}
