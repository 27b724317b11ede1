/**
 * The configuration's I/O: `loadConfigFile` (a file, a directory of `*.yml`/`*.yaml` merged in sorted order,
 * `PATRONI_CONFIGURATION`, or the `PATRONI_*` variables alone) and `checkConfigEnvironment` (data_dir, bin_dir and
 * TLS files on disk, etcd host names), which `hactl validate-config` runs and the agent runs before it starts
 * anything and on every reload. The parsing itself stays pure in `./config.ts`.
 *
 * May import: `./config.ts`, `./env.ts` (this layer), `node:dns` and the file system.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { buildConfig, type Config, ConfigError, parseYamlText } from "./config.ts";
import { type Doc, isDoc, mergeDocs } from "./env.ts";

/** Binaries `postgresql.bin_dir` must contain. */
const REQUIRED_BINARIES = ["pg_ctl", "initdb", "postgres", "pg_basebackup", "pg_controldata"];

function reason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "not found";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}

/** Reads and merges the YAML of a directory (`*.yml`, `*.yaml`, sorted; later files win, `null` deletes). */
async function readConfigDir(dir: string): Promise<Doc> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  if (names.length === 0) throw new ConfigError([`${dir}: no *.yml or *.yaml file in this directory`]);
  let merged: Doc = {};
  const problems: string[] = [];
  for (const name of names) {
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    try {
      const doc = parseYamlText(await Deno.readTextFile(path), path);
      if (doc !== null && doc !== undefined && !isDoc(doc)) {
        problems.push(`${path}: the file does not contain a YAML mapping`);
      } else if (isDoc(doc)) merged = mergeDocs(merged, doc);
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.problems);
      else problems.push(`${path}: cannot read the configuration file: ${reason(e)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return merged;
}

/**
 * Loads the local configuration as the agent does, also returning the warnings:
 * - a file path: that YAML file, with the `PATRONI_*` variables of `env` on top;
 * - a directory: its `*.yml`/`*.yaml` files merged in sorted order, then the variables;
 * - no path: `PATRONI_CONFIGURATION` when set (then no other `PATRONI_*` variable counts), else the variables alone.
 *
 * Unlike Patroni, a path that does not exist is an error rather than a silent fallback to the environment.
 * Throws `ConfigError` naming the file for unreadable files and for every configuration problem.
 */
export async function loadConfigFileWithWarnings(
  path: string | undefined,
  env: Record<string, string>,
): Promise<{ config: Config; warnings: string[] }> {
  if (path === undefined || path === "") {
    if (env.PATRONI_CONFIGURATION !== undefined && env.PATRONI_CONFIGURATION !== "") {
      const rest = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("PATRONI_")));
      return buildConfig(
        parseYamlText(env.PATRONI_CONFIGURATION, "PATRONI_CONFIGURATION"),
        "PATRONI_CONFIGURATION",
        rest,
      );
    }
    return buildConfig({}, "environment", env);
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new ConfigError([`${path}: cannot read the configuration file: ${reason(e)}`]);
  }
  if (info.isDirectory) return buildConfig(await readConfigDir(path), path, env);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError([`${path}: cannot read the configuration file: ${reason(e)}`]);
  }
  return buildConfig(parseYamlText(text, path), path, env);
}

/** `loadConfigFileWithWarnings` without the warnings. */
export async function loadConfigFile(path: string | undefined, env: Record<string, string>): Promise<Config> {
  return (await loadConfigFileWithWarnings(path, env)).config;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * The checks that need the file system, each problem as `<source>: <dotted.key>: <message>`:
 * - `postgresql.data_dir` may be absent (it will be created), or an accessible directory that is empty or holds
 *   `PG_VERSION`; a regular file, an unreadable directory or a non-empty non-PGDATA directory is an error;
 * - `postgresql.bin_dir`, when set, must exist and contain pg_ctl, initdb, postgres, pg_basebackup and
 *   pg_controldata as executable files;
 * - TLS files named in `restapi` and `etcd3` must be readable;
 * - every etcd3 host name must resolve (an unknown host is a configuration error, not a retry loop).
 */
export async function checkConfigEnvironment(config: Config): Promise<string[]> {
  const problems: string[] = [];
  const problem = (key: string, message: string) => problems.push(`${config.source}: ${key}: ${message}`);

  const dataDir = config.postgresql.dataDir;
  try {
    const info = await statOrNull(dataDir);
    if (info !== null && !info.isDirectory) {
      problem("postgresql.data_dir", `${dataDir} exists but is not a directory`);
    } else if (info !== null) {
      const entries: string[] = [];
      for await (const entry of Deno.readDir(dataDir)) entries.push(entry.name);
      const visible = entries.filter((n) => !n.startsWith(".") && n !== "lost+found");
      if (visible.length > 0 && !entries.includes("PG_VERSION")) {
        problem(
          "postgresql.data_dir",
          `${dataDir} is not empty and is not a PostgreSQL data directory (no PG_VERSION)`,
        );
      }
    }
  } catch (e) {
    problem("postgresql.data_dir", `${dataDir} is not accessible: ${reason(e)}`);
  }

  const binDir = config.postgresql.binDir;
  if (binDir !== "") {
    const info = await statOrNull(binDir).catch(() => null);
    if (info === null || !info.isDirectory) {
      problem("postgresql.bin_dir", `${binDir} is not an accessible directory`);
    } else {
      const missing: string[] = [];
      for (const bin of REQUIRED_BINARIES) {
        const name = config.postgresql.binName?.[bin] ?? bin;
        const file = await statOrNull(`${binDir.replace(/\/+$/, "")}/${name}`).catch(() => null);
        if (file === null || !file.isFile || (file.mode !== null && (file.mode & 0o111) === 0)) {
          missing.push(name);
        }
      }
      if (missing.length > 0) {
        problem("postgresql.bin_dir", `${binDir} has no executable ${missing.join(", ")}`);
      }
    }
  }

  const files: Array<[string, string | undefined]> = [
    ["restapi.certfile", config.restapi.certfile],
    ["restapi.keyfile", config.restapi.keyfile],
    ["restapi.cafile", config.restapi.cafile],
    ["etcd3.cacert", config.etcd3.cacert],
    ["etcd3.cert", config.etcd3.cert],
    ["etcd3.key", config.etcd3.key],
    ["postgresql.custom_conf", customConfPath(config.postgresql)],
  ];
  for (const [key, path] of files) {
    if (path === undefined) continue;
    try {
      (await Deno.open(path, { read: true })).close();
    } catch (e) {
      problem(key, `${path} cannot be read: ${reason(e)}`);
    }
  }
  for (const host of await unresolvableHosts(config.etcd3.hosts)) {
    problem("etcd3.hosts", `cannot resolve etcd host '${host}'`);
  }
  return problems;
}

/**
 * `custom_conf` when it is an absolute path. A relative one is relative to the config directory (`include`'s rule),
 * which may be the data directory a bootstrap or a clone has not filled yet: Postgres reports it when it starts.
 */
function customConfPath(pg: Config["postgresql"]): string | undefined {
  return pg.customConf?.startsWith("/") ? pg.customConf : undefined;
}

/** Host names among the etcd endpoint URLs that do not resolve (IP literals are skipped). */
async function unresolvableHosts(urls: string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const url of urls) {
    try {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
      if (!/^[0-9.]+$/.test(host) && !host.includes(":")) names.add(host);
    } catch {
      // malformed URLs are reported by the parser
    }
  }
  const bad: string[] = [];
  await Promise.all([...names].map(async (name) => {
    try {
      await lookup(name);
    } catch {
      bad.push(name);
    }
  }));
  return bad.sort();
}
