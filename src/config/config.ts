/**
 * Configuration: Patroni's YAML keys + PATRONI_* environment overrides -> one validated, immutable Config, read
 * one section at a time (`buildConfig`). Also re-exports the dynamic configuration's reader (`normalizeDynamic`),
 * and owns the CLI's `--dcs-url` and a printable, redacted copy of a Config.
 *
 * Pure: callers pass the file text and the environment in; this module reads no file and no `Deno.env`
 * (`./file.ts` reads files and checks the file system). Imports `yaml`, `./types.ts`, `./env.ts`
 * (the environment rule), `./dynamic.ts` (the dynamic configuration), `./read.ts` (the section readers) and
 * `./log_section.ts` (the `log` section) and `./key_check.ts` (every key against the table of keys) only.
 *
 * hactl is stricter than Patroni's daemon: it always runs the checks Patroni keeps for `--validate-config`,
 * and it rejects `bootstrap.dcs` timings that Patroni would only raise with a warning at run time.
 *
 * @module
 */
import { parseDocument } from "yaml";
import { type Doc, isDoc, mergeDocs, PYYAML_OPTIONS, readEnvOverrides } from "./env.ts";
import { readLogConfig } from "./log_section.ts";
import { checkLocalKeys } from "./key_check.ts";
import {
  checkBootstrapDcs,
  endpointUrl,
  INITDB_FORBIDDEN,
  isSecretKey,
  kindOf,
  normalizeNamespace,
  OTHER_DCS,
  readAuth,
  Reader,
  readEtcd3,
  readPostgresql,
  readRecoveryConf,
  readTags,
  RESERVED_NAME,
  timestampsAsText,
} from "./read.ts";

export * from "./types.ts";
import type {
  BootstrapConfig,
  Config,
  CtlConfig,
  Etcd3Config,
  RestApiConfig,
  WatchdogConfig,
} from "./types.ts";
import { ConfigError } from "./types.ts";

export { DYNAMIC_DEFAULTS, normalizeDynamic, PROTECTED_PARAMETERS } from "./dynamic.ts";

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** `restapi.http_extra_headers` or `restapi.https_extra_headers`: valid header names, no line breaks. */
function readHeaders(r: Reader, api: Doc, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  const section = r.section(api, key, `restapi.${key}`);
  for (const name of Object.keys(section)) {
    const value = r.str(section, name, `restapi.${key}.${name}`);
    if (value === undefined) continue;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      r.problem(`restapi.${key}.${name}`, "is not a valid HTTP header name");
    } else if (/[\r\n\0]/.test(value)) r.problem(`restapi.${key}.${name}`, "must not contain line breaks");
    else out[name] = value;
  }
  return out;
}

/** The `restapi` section (`listen` required; `connect_address` defaults to it). */
function readRestApi(r: Reader, doc: Doc, warnings: string[]): RestApiConfig {
  const api = r.section(doc, "restapi", "restapi");
  const apiListen = api.listen === undefined
    ? r.problem("restapi.listen", "is required")
    : r.hostPort(api.listen, "restapi.listen");
  const listen = apiListen
    ? { ...apiListen, host: ["", "*"].includes(apiListen.host) ? "0.0.0.0" : apiListen.host }
    : { host: "", port: 8008 };
  if (api.connect_address === undefined && apiListen && ["0.0.0.0", "::"].includes(listen.host)) {
    warnings.push(
      `restapi.connect_address: not set, and restapi.listen "${listen.host}" is not an address other members can reach`,
    );
  }
  const headers = readHeaders(r, api, "http_extra_headers");
  const httpsHeaders = readHeaders(r, api, "https_extra_headers");
  const restapi: RestApiConfig = {
    listen,
    connectAddress: api.connect_address === undefined
      ? listen
      : r.hostPort(api.connect_address, "restapi.connect_address") ?? listen,
    verifyClient: r.oneOf(
      api,
      "verify_client",
      "restapi.verify_client",
      ["none", "optional", "required"] as const,
      "none",
    ),
    allowlist: r.strList(api, "allowlist", "restapi.allowlist"),
    allowlistIncludeMembers: r.bool(
      api,
      "allowlist_include_members",
      "restapi.allowlist_include_members",
      false,
    ),
    httpExtraHeaders: headers,
    httpsExtraHeaders: httpsHeaders,
  };
  const apiAuth = readAuth(r, api, "restapi");
  if (apiAuth) restapi.authentication = apiAuth;
  for (
    const [key, field] of [["certfile", "certfile"], ["keyfile", "keyfile"], [
      "keyfile_password",
      "keyfilePassword",
    ], ["cafile", "cafile"]] as const
  ) {
    const value = r.str(api, key, `restapi.${key}`);
    if (value !== undefined) restapi[field] = value;
  }
  if (restapi.keyfile !== undefined && restapi.certfile === undefined) {
    r.problem("restapi.certfile", "is required when restapi.keyfile is set");
  }
  return restapi;
}

/** The `ctl` section, with Patroni's fallbacks to `restapi.authentication` and `restapi.cafile`. */
function readCtl(r: Reader, doc: Doc, restapi: RestApiConfig): CtlConfig {
  const ctlDoc = r.section(doc, "ctl", "ctl");
  const ctl: CtlConfig = { insecure: r.bool(ctlDoc, "insecure", "ctl.insecure", false) };
  const ctlAuth = readAuth(r, ctlDoc, "ctl") ?? restapi.authentication;
  if (ctlAuth) ctl.authentication = ctlAuth;
  for (const key of ["cacert", "certfile", "keyfile"] as const) {
    const value = r.str(ctlDoc, key, `ctl.${key}`);
    if (value !== undefined) ctl[key] = value;
  }
  const keyfilePassword = r.str(ctlDoc, "keyfile_password", "ctl.keyfile_password");
  if (keyfilePassword !== undefined) ctl.keyfilePassword = keyfilePassword;
  if (ctl.cacert === undefined && restapi.cafile !== undefined) ctl.cacert = restapi.cafile;
  return ctl;
}

/** The DCS section: `etcd3` is required; any other DCS section is refused by name. */
function readDcsSection(r: Reader, doc: Doc): Etcd3Config {
  const others = OTHER_DCS.filter((key) => doc[key] !== undefined);
  let etcd3: Etcd3Config = { hosts: [], protocol: "http" };
  if (doc.etcd3 === undefined) {
    if (others.length === 0) r.problem("etcd3", "is required (hactl keeps the cluster state in etcd v3)");
  } else etcd3 = readEtcd3(r, r.section(doc, "etcd3", "etcd3"));
  for (const key of others) {
    const hint = key === "etcd" ? "; if your etcd speaks the v3 API, rename the section to etcd3" : "";
    r.problem(
      key,
      `hactl supports etcd3 only${doc.etcd3 === undefined ? "" : " (give exactly one DCS section)"}${hint}`,
    );
  }
  return etcd3;
}

/** The `bootstrap` section: `dcs` (checked; timings adjusted with a warning), the method and its section, initdb options, post_bootstrap. */
function readBootstrap(r: Reader, doc: Doc, warnings: string[]): BootstrapConfig {
  const boot = r.section(doc, "bootstrap", "bootstrap");
  if (doc.bootstrap !== undefined && doc.bootstrap !== null && boot.dcs === undefined) {
    r.problem("bootstrap.dcs", "is required when bootstrap is present");
  }
  const dcs = r.section(boot, "dcs", "bootstrap.dcs");
  checkBootstrapDcs(r, dcs, warnings);
  const method = r.str(boot, "method", "bootstrap.method") ?? "initdb";
  const bootstrap: BootstrapConfig = {
    dcs,
    method,
    initdb: r.options(boot, "initdb", "bootstrap.initdb", INITDB_FORBIDDEN),
    pgHba: r.strList(boot, "pg_hba", "bootstrap.pg_hba"),
  };
  if (method !== "initdb") {
    // Patroni falls back to initdb when the method's section has no command; hactl refuses the configuration.
    const sec = r.section(boot, method, `bootstrap.${method}`);
    if (r.command(sec, "command", `bootstrap.${method}.command`, true) !== undefined) {
      for (const flag of ["keep_existing_recovery_conf", "no_params"]) {
        r.bool(sec, flag, `bootstrap.${method}.${flag}`, false);
      }
      readRecoveryConf(r, sec, "recovery_conf", `bootstrap.${method}.recovery_conf`);
      bootstrap.methodConfig = timestampsAsText(sec);
    }
  }
  const postKey = boot.post_bootstrap !== undefined ? "post_bootstrap" : "post_init";
  const post = r.command(boot, postKey, `bootstrap.${postKey}`);
  if (post !== undefined) bootstrap.postBootstrap = post;
  return bootstrap;
}

/** The `watchdog` section; `mode` accepts Patroni's spellings (`false`/`true`, `auto`, `require`). */
function readWatchdog(r: Reader, doc: Doc): WatchdogConfig {
  const wd = r.section(doc, "watchdog", "watchdog");
  const modeText = wd.mode === false
    ? "off"
    : wd.mode === true
    ? "automatic"
    : typeof wd.mode === "string"
    ? wd.mode.toLowerCase()
    : wd.mode;
  const modeAlias =
    ({ auto: "automatic", require: "required" } as Record<string, string>)[String(modeText)] ?? modeText;
  return {
    mode: r.oneOf(
      { mode: modeAlias },
      "mode",
      "watchdog.mode",
      ["off", "automatic", "required"] as const,
      "automatic",
    ),
    device: r.str(wd, "device", "watchdog.device") ?? "/dev/watchdog",
    safetyMargin: r.int(wd, "safety_margin", "watchdog.safety_margin", 5, -1),
    driver: r.oneOf(wd, "driver", "watchdog.driver", ["default", "testing"] as const, "default"),
  };
}

/**
 * Builds the Config from an already parsed document (one YAML file, or a directory of them merged), applying
 * the `PATRONI_*` variables of `env` on top. Throws `ConfigError` listing every problem, in the order of the
 * sections read below.
 */
export function buildConfig(
  raw: unknown,
  source: string,
  env: Record<string, string>,
): { config: Config; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const r = new Reader(source, problems);
  if (raw !== null && raw !== undefined && !isDoc(raw)) {
    throw new ConfigError([`${source}: the configuration must be a YAML mapping, found ${kindOf(raw)}`]);
  }
  const overrides = readEnvOverrides(env);
  for (const p of overrides.problems) problems.push(`${source}: ${p}`);
  const doc = mergeDocs(isDoc(raw) ? raw : {}, overrides.doc);

  const scope = r.str(doc, "scope", "scope", true) ?? "";
  const name = r.str(doc, "name", "name", true) ?? "";
  if (name === RESERVED_NAME) r.problem("name", `"${RESERVED_NAME}" is reserved`);
  const keys = checkLocalKeys(doc);
  for (const { key, message } of keys.refused) r.problem(key, message);
  warnings.push(...keys.warnings);
  const log = readLogConfig(r, r.section(doc, "log", "log"), warnings);
  const restapi = readRestApi(r, doc, warnings);
  const ctl = readCtl(r, doc, restapi);
  const etcd3 = readDcsSection(r, doc);
  const bootstrap = readBootstrap(r, doc, warnings);
  const postgresql = readPostgresql(r, doc, env, warnings);
  const tags = readTags(r, r.section(doc, "tags", "tags"), warnings);
  const watchdog = readWatchdog(r, doc);
  const fencing = {
    supervisor: r.bool(r.section(doc, "fencing", "fencing"), "supervisor", "fencing.supervisor", true),
  };

  if (problems.length > 0) throw new ConfigError(problems, warnings);
  const namespace = normalizeNamespace(r.str(doc, "namespace", "namespace") ?? "/service/");
  const config: Config = {
    source,
    scope,
    namespace,
    name,
    log,
    restapi,
    ctl,
    etcd3,
    bootstrap,
    postgresql,
    tags,
    watchdog,
    fencing,
  };
  return { config: deepFreeze(config), warnings };
}

/** Parses YAML text as PyYAML (YAML 1.1: `on`/`off` are booleans) does; syntax errors never echo the text. */
export function parseYamlText(text: string, source: string): unknown {
  const doc = parseDocument(text, PYYAML_OPTIONS);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => {
      const where = e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "YAML";
      return `${source}: ${where}: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`;
    }));
  }
  return doc.toJS();
}

/**
 * Parses and validates one configuration (YAML text + `PATRONI_*` variables) and also returns the warnings
 * (e.g. the `nofailover`/`failover_priority` conflict, in Patroni's exact words). Throws `ConfigError` with
 * every problem, each as `<source>: <dotted.key>: <message>`.
 */
export function parseConfigWithWarnings(
  text: string,
  source: string,
  env: Record<string, string>,
): { config: Config; warnings: string[] } {
  return buildConfig(parseYamlText(text, source), source, env);
}

/**
 * Parses and validates one configuration; see `parseConfigWithWarnings`.
 *
 * @example
 * ```ts
 * const config = parseConfig(Deno.readTextFileSync("hactl.yml"), "hactl.yml", Deno.env.toObject());
 * ```
 */
export function parseConfig(text: string, source: string, env: Record<string, string>): Config {
  return parseConfigWithWarnings(text, source, env).config;
}

/**
 * Parses the CLI's `--dcs-url`: `[etcd3://]host[:port][,host2[:port]][/namespace]` (also `http://`,
 * `https://`). The port defaults to 2379. Throws `ConfigError` naming `--dcs-url`.
 */
export function parseDcsUrl(url: string): { hosts: string[]; namespace?: string } {
  const problems: string[] = [];
  const r = new Reader("--dcs-url", problems);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(url.trim());
  const scheme = m ? m[1].toLowerCase() : "etcd3";
  const rest = m ? m[2] : url.trim();
  if (!["etcd3", "http", "https"].includes(scheme)) {
    throw new ConfigError([
      `--dcs-url: ${scheme}:// is not supported; hactl supports etcd3 only (etcd3://host:port)`,
    ]);
  }
  const slash = rest.indexOf("/");
  const hostPart = slash < 0 ? rest : rest.slice(0, slash);
  const ns = slash < 0 ? "" : rest.slice(slash);
  const hosts = hostPart.split(",").filter((h) => h.trim() !== "").map((h, i) =>
    r.hostPort(h, `host ${i + 1}`, 2379)
  );
  if (hosts.length === 0) r.problem("host", "is required ([etcd3://]host[:port][/namespace])");
  if (problems.length > 0) throw new ConfigError(problems);
  const protocol = scheme === "https" ? "https" : "http";
  const out: { hosts: string[]; namespace?: string } = {
    hosts: hosts.map((hp) => endpointUrl(protocol, hp!.host, hp!.port)),
  };
  if (ns.replace(/\//g, "") !== "") out.namespace = normalizeNamespace(ns);
  return out;
}

/**
 * A deep copy that is safe to print: every value under a key containing `password` (restapi/ctl
 * authentication, etcd3, database users, `keyfilePassword`, `sslpassword`) becomes `******`.
 */
export function redactConfig<T>(config: T): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (!isDoc(value)) return value;
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, isSecretKey(k) && v !== undefined && v !== null ? "******" : walk(v)]),
    );
  };
  return walk(config) as T;
}
