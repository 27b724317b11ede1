/**
 * `hactl validate-config [--print] [<file|dir>]`: loads a configuration the way the agent does and reports
 * every problem at once, one per line on stderr (exit 1), or `<file>: configuration is valid` (exit 0).
 *
 * Owns the configuration's I/O: `loadConfigFile` (a file, a directory of `*.yml`/`*.yaml` merged in sorted order,
 * `PATRONI_CONFIGURATION`, or the `PATRONI_*` variables alone) and
 * `checkConfigEnvironment` (data_dir, bin_dir and TLS files on disk), which `hactl agent` also calls before it
 * starts anything. Imports `src/config/config.ts` and `src/config/env.ts` only.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { stringify } from "yaml";
import { buildConfig, type Config, ConfigError, parseYamlText, redactConfig } from "../src/config/config.ts";
import { type Doc, isDoc, mergeDocs } from "../src/config/env.ts";

const USAGE = `Usage: hactl validate-config [--print] [<config.yml | config-dir>]

Checks a hactl (Patroni-compatible) configuration and reports every problem at once.
Without a path, the YAML comes from PATRONI_CONFIGURATION, or else from the PATRONI_* variables alone.

Options:
  -p, --print   also print the merged configuration (environment included) as YAML, secrets redacted
  -h, --help    show this help
`;

/** Binaries `postgresql.bin_dir` must contain. */
const REQUIRED_BINARIES = ["pg_ctl", "initdb", "postgres", "pg_basebackup", "pg_controldata"];

const encoder = new TextEncoder();
function writeOut(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}
function writeErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

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
 * Loads the local configuration as the agent does (§3.1), also returning the warnings:
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

/** `hactl validate-config`; returns the exit code (0 valid, 1 problems, 2 usage). */
export async function run(args: string[]): Promise<number> {
  let print = false;
  const paths: string[] = [];
  for (const arg of args) {
    if (arg === "-h" || arg === "--help") {
      writeOut(USAGE);
      return 0;
    } else if (arg === "-p" || arg === "--print") print = true;
    else if (arg.startsWith("-") && arg !== "-") {
      writeErr(`hactl validate-config: unknown option ${arg}\n\n${USAGE}`);
      return 2;
    } else paths.push(arg);
  }
  if (paths.length > 1) {
    writeErr(`hactl validate-config: expected at most one path, got ${paths.length}\n\n${USAGE}`);
    return 2;
  }
  try {
    const { config, warnings } = await loadConfigFileWithWarnings(paths[0], Deno.env.toObject());
    for (const warning of warnings) writeErr(`${config.source}: warning: ${warning}`);
    const problems = await checkConfigEnvironment(config);
    if (problems.length > 0) {
      for (const p of problems) writeErr(p);
      return 1;
    }
    if (print) writeOut(stringify(redactConfig(config)));
    writeOut(`${config.source}: configuration is valid`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) writeErr(p);
    return 1;
  }
}
