/**
 * The control commands' configuration (`hactl list`, `switchover`, ...), read as patronictl reads it:
 * the YAML file named by `-c`, else `PATRONICTL_CONFIG_FILE`, else
 * `~/.config/patroni/patronictl.yaml` when present, else the environment alone; `PATRONI_*` overrides on top;
 * `--dcs-url` (or `DCS_URL`) replaces the DCS section. Unlike the daemon's loader it does **not** validate:
 * only `scope`, `namespace`, the etcd3 section and the `ctl`/`restapi` credentials are extracted, so a
 * patronictl.yaml without `postgresql.data_dir` or `restapi.listen` is fine. The timing keys (`ttl`,
 * `retry_timeout`) go through `normalizeDynamic`, the agent's reader of the dynamic configuration.
 *
 * Imports `src/config*.ts` helpers only; reads files and nothing else.
 *
 * @module
 */
import { ConfigError, normalizeDynamic, parseDcsUrl, parseYamlText } from "../../src/config/config.ts";
import type { CtlConfig, Etcd3Config } from "../../src/config/config.ts";
import { isDoc, mergeDocs, readEnvOverrides } from "../../src/config/env.ts";
import type { Doc } from "../../src/config/env.ts";
import { normalizeNamespace, Reader, readEtcd3 } from "../../src/config/read.ts";

/** A failure a control command reports as `Error: <message>` on stderr with exit code 1. */
export class CtlError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CtlError";
  }
}

/**
 * A cluster name (scope) the control commands may address: not empty, no `/` (the key prefix collapses slashes,
 * so `/` would name the whole namespace and `a/b` another cluster's keys).
 */
export function checkClusterName(scope: string): string {
  if (scope === "" || scope.includes("/")) {
    throw new CtlError(`invalid cluster name '${scope}': a cluster name must not be empty or contain '/'`);
  }
  return scope;
}

/** What the command line says about where the configuration comes from. */
export interface CtlOptions {
  /** `-c/--config-file`. */
  configFile?: string;
  /** `-d/--dcs-url/--dcs`. */
  dcsUrl?: string;
  /** `-k/--insecure`: forces `ctl.insecure`. */
  insecure?: boolean;
}

/** The control commands' view of the configuration. */
export interface CtlSettings {
  /** The file (or directory) read, or `environment`. */
  source: string;
  /** `scope`, or null when neither the file nor `PATRONI_SCOPE` names one. */
  scope: string | null;
  /** Always `/x/`, default `/service/`. */
  namespace: string;
  /** The etcd3 section (`etcd` is accepted as an alias), or null when no DCS is configured. */
  etcd3: Etcd3Config | null;
  /**
   * Seconds: the local file's top-level `retry_timeout` and `ttl`, read by `normalizeDynamic` as the agent reads
   * the dynamic configuration (Patroni's defaults 10 and 30, the same minimums and the same
   * `loop_wait + 2 * retry_timeout <= ttl` repair).
   */
  retryTimeout: number;
  ttl: number;
  /** `ctl` with Patroni's fallbacks: authentication <- restapi.authentication, cacert <- restapi.cafile. */
  ctl: CtlConfig & { keyfilePassword?: string };
  restapi: {
    authentication?: { username: string; password: string };
    cafile?: string;
    certfile?: string;
    keyfile?: string;
  };
  /** The merged document (file + environment + --dcs-url), for commands needing other keys. */
  doc: Doc;
}

/**
 * `parseArgs` option specs every control command accepts (spread them into the command's own options), see
 * {@linkcode ctlOptionsFrom}.
 */
export const CTL_GLOBAL_OPTIONS = {
  "config-file": { type: "string", short: "c" },
  "dcs-url": { type: "string", short: "d" },
  dcs: { type: "string" },
  insecure: { type: "boolean", short: "k" },
  "patroni-compat": { type: "boolean" },
} as const;

/** Help lines for {@linkcode CTL_GLOBAL_OPTIONS}. */
export const CTL_GLOBAL_HELP = [
  "  -c, --config-file FILE   Configuration file (default: $PATRONICTL_CONFIG_FILE, else",
  "                           ~/.config/patroni/patronictl.yaml if present, else PATRONI_* variables)",
  "  -d, --dcs-url URL        etcd to use instead of the file's: [etcd3://]host[:port][,host2...][/namespace]",
  "                           (default: $DCS_URL)",
  "  -k, --insecure           Allow connections to the REST API without verifying certificates",
  "  --patroni-compat         Exit 0 after a refused request or a timed-out wait, as patronictl does",
  "                           (default: exit 1; also $HACTL_PATRONI_COMPAT=1)",
];

/** Pick the global options out of `parseArgs` values. */
export function ctlOptionsFrom(values: Record<string, unknown>): CtlOptions {
  const opts: CtlOptions = {};
  if (typeof values["config-file"] === "string") opts.configFile = values["config-file"];
  const dcs = values["dcs-url"] ?? values.dcs;
  if (typeof dcs === "string") opts.dcsUrl = dcs;
  if (values.insecure === true) opts.insecure = true;
  return opts;
}

const DCS_SECTIONS = ["etcd3", "etcd", "consul", "zookeeper", "exhibitor", "kubernetes", "raft"];

/** patronictl's default file: `$XDG_CONFIG_HOME/patroni/patronictl.yaml` or `~/.config/patroni/...`. */
export function defaultCtlConfigPath(env: Record<string, string>): string | null {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? `${env.HOME}/.config` : "");
  return base ? `${base}/patroni/patronictl.yaml` : null;
}

function str(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function auth(value: unknown): { username: string; password: string } | undefined {
  if (!isDoc(value)) return undefined;
  const username = str(value.username);
  const password = str(value.password);
  return username !== undefined && password !== undefined ? { username, password } : undefined;
}

/** Rewrite patronictl's `--dcs-url` forms into the daemon parser's: `etcd://` and no scheme mean etcd3. */
function dcsUrlHosts(url: string): { hosts: string[]; namespace?: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(url.trim());
  const scheme = m ? m[1]!.toLowerCase() : "";
  if (scheme !== "" && !["etcd", "etcd3", "http", "https"].includes(scheme)) {
    throw new CtlError(
      ["consul", "zookeeper", "exhibitor"].includes(scheme)
        ? `Unsupported dcs scheme: ${scheme} (hactl speaks etcd3 only)`
        : `Unknown dcs scheme: ${scheme}`,
    );
  }
  const normalized = scheme === "etcd" ? `etcd3://${m![2]}` : url.trim().replace(/^\/\//, "");
  try {
    return parseDcsUrl(normalized);
  } catch (err) {
    if (err instanceof ConfigError) throw new CtlError(err.problems.join("; "), { cause: err });
    throw err;
  }
}

/**
 * Build the settings from an already merged document (file + environment). Pure. Throws `CtlError` for an
 * unusable `--dcs-url` or an invalid etcd3 section.
 */
export function buildCtlSettings(input: Doc, source: string, opts: CtlOptions = {}): CtlSettings {
  let doc = input;
  if (opts.dcsUrl !== undefined && opts.dcsUrl !== "") {
    const parsed = dcsUrlHosts(opts.dcsUrl);
    doc = Object.fromEntries(Object.entries(doc).filter(([k]) => !DCS_SECTIONS.includes(k)));
    doc.etcd3 = { hosts: parsed.hosts };
    if (parsed.namespace !== undefined) doc.namespace = parsed.namespace;
  }
  const section = isDoc(doc.etcd3) ? doc.etcd3 : isDoc(doc.etcd) ? doc.etcd : null;
  let etcd3: Etcd3Config | null = null;
  if (section) {
    const problems: string[] = [];
    etcd3 = readEtcd3(new Reader(source, problems), section);
    if (problems.length > 0) throw new CtlError(problems.join("; "));
  }
  const ctlSec = isDoc(doc.ctl) ? doc.ctl : {};
  const restSec = isDoc(doc.restapi) ? doc.restapi : {};
  const restapi: CtlSettings["restapi"] = {};
  const restAuth = auth(restSec.authentication);
  if (restAuth) restapi.authentication = restAuth;
  for (const key of ["cafile", "certfile", "keyfile"] as const) {
    const v = str(restSec[key]);
    if (v !== undefined) restapi[key] = v;
  }
  const insecureRaw = ctlSec.insecure;
  const ctl: CtlSettings["ctl"] = {
    insecure: opts.insecure === true || insecureRaw === true ||
      (typeof insecureRaw === "string" && /^(on|true|yes|1)$/i.test(insecureRaw)),
  };
  const ctlAuth = auth(ctlSec.authentication) ?? restAuth;
  if (ctlAuth) ctl.authentication = ctlAuth;
  const cacert = str(ctlSec.cacert) ?? restapi.cafile;
  if (cacert !== undefined) ctl.cacert = cacert;
  const certfile = str(ctlSec.certfile);
  if (certfile !== undefined) ctl.certfile = certfile;
  const keyfile = str(ctlSec.keyfile);
  if (keyfile !== undefined) ctl.keyfile = keyfile;
  const keyfilePassword = str(ctlSec.keyfile_password);
  if (keyfilePassword !== undefined) ctl.keyfilePassword = keyfilePassword;
  const { retryTimeout, ttl } = normalizeDynamic(doc).settings;
  return {
    source,
    scope: str(doc.scope) ?? null,
    namespace: normalizeNamespace(str(doc.namespace) ?? "/service/"),
    etcd3,
    retryTimeout,
    ttl,
    ctl,
    restapi,
    doc,
  };
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch {
    return null;
  }
}

function asMapping(value: unknown, path: string): Doc {
  if (value === null || value === undefined) return {};
  if (!isDoc(value)) throw new CtlError(`invalid config file ${path}`);
  return value;
}

/** Read a YAML file, or every `*.yml`/`*.yaml` of a directory in sorted order, merged. */
async function readConfigPath(path: string, info: Deno.FileInfo): Promise<Doc> {
  const parse = (text: string, file: string) => {
    try {
      return asMapping(parseYamlText(text, file), file);
    } catch (err) {
      if (err instanceof ConfigError) throw new CtlError(err.problems.join("; "), { cause: err });
      throw err;
    }
  };
  if (!info.isDirectory) return parse(await Deno.readTextFile(path), path);
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  let doc: Doc = {};
  for (const name of names) {
    const file = `${path.replace(/\/+$/, "")}/${name}`;
    doc = mergeDocs(doc, parse(await Deno.readTextFile(file), file));
  }
  return doc;
}

/** Apply the `PATRONI_*` overrides over a document; unparsable variables are errors (values never echoed). */
function withEnv(doc: Doc, env: Record<string, string>, source: string): Doc {
  const { doc: overrides, problems } = readEnvOverrides(env);
  if (problems.length > 0) throw new CtlError(problems.map((p) => `${source}: ${p}`).join("; "));
  return mergeDocs(doc, overrides);
}

/**
 * Load the control commands' configuration (see the module comment for the order of sources).
 * Throws `CtlError` when a file named explicitly (`-c` or `PATRONICTL_CONFIG_FILE`) cannot be read.
 *
 * @example
 * ```ts
 * const settings = await loadCtlConfig({ dcsUrl: "127.0.0.1:2379" }, Deno.env.toObject());
 * ```
 */
export async function loadCtlConfig(opts: CtlOptions, env: Record<string, string>): Promise<CtlSettings> {
  const explicit = opts.configFile ?? (env.PATRONICTL_CONFIG_FILE || undefined);
  const path = explicit ?? defaultCtlConfigPath(env);
  const dcsUrl = opts.dcsUrl ?? (env.DCS_URL || undefined);
  const full: CtlOptions = { ...opts };
  if (dcsUrl !== undefined) full.dcsUrl = dcsUrl;

  const info = path === null ? null : await statOrNull(path);
  if (path !== null && info !== null) {
    let doc: Doc;
    try {
      doc = await readConfigPath(path, info);
    } catch (err) {
      if (err instanceof CtlError) throw err;
      throw new CtlError(
        `Provided config file ${path} not existing or no read rights. Check the -c/--config-file parameter`,
        { cause: err },
      );
    }
    return buildCtlSettings(withEnv(doc, env, path), path, full);
  }
  if (explicit !== undefined) {
    throw new CtlError(
      `Provided config file ${explicit} not existing or no read rights. Check the -c/--config-file parameter`,
    );
  }
  if (env.PATRONI_CONFIGURATION) {
    let doc: Doc;
    try {
      doc = asMapping(
        parseYamlText(env.PATRONI_CONFIGURATION, "PATRONI_CONFIGURATION"),
        "PATRONI_CONFIGURATION",
      );
    } catch (err) {
      if (err instanceof ConfigError) throw new CtlError(err.problems.join("; "), { cause: err });
      throw err;
    }
    return buildCtlSettings(doc, "PATRONI_CONFIGURATION", full);
  }
  return buildCtlSettings(withEnv({}, env, "environment"), "environment", full);
}

/** The etcd section, or the error patronictl gives when no DCS is configured. */
export function requireEtcd(settings: CtlSettings): Etcd3Config {
  if (settings.etcd3 && settings.etcd3.hosts.length > 0) return settings.etcd3;
  throw new CtlError(
    "Can not find suitable configuration of distributed configuration store " +
      "(give -c FILE with an etcd3 section, PATRONI_ETCD3_HOSTS or --dcs-url)",
  );
}

/** Endpoints for messages: comma-separated, any `user:password@` removed. */
export function describeEndpoints(hosts: string[]): string {
  return hosts.map((h) => h.replace(/\/\/[^@/]*@/, "//")).join(",");
}
