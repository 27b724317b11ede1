/**
 * `hactl list` and `hactl topology`: read each cluster straight from etcd and print patronictl's member table.
 * The layout lives in `cli/lib/cluster_table.ts`; this file parses arguments,
 * loads the ctl configuration, reads etcd, and handles `-W`/`-w` refreshes.
 *
 * Exit codes: 0 success, 1 `Error: <message>` (configuration, etcd unreachable), 2 usage errors.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { renderList } from "./lib/cluster_table.ts";
import type { ListFormat } from "./lib/cluster_table.ts";
import type { ClusterView } from "../src/core/types.ts";
import {
  CTL_GLOBAL_HELP,
  CTL_GLOBAL_OPTIONS,
  CtlError,
  ctlOptionsFrom,
  loadCtlConfig,
  requireEtcd,
} from "./lib/config.ts";
import type { CtlSettings } from "./lib/config.ts";
import { writeErr, writeOut } from "./lib/io.ts";
import { formatLocalTimestamp, loadClusterFromEtcd } from "./lib/cluster.ts";

/** The side effects `list` needs, injectable for tests. */
export interface ListDeps {
  /** Read one cluster (`scope`) from the configured etcd without granting a lease. */
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  out(text: string): void;
  err(text: string): void;
  sleep(ms: number): Promise<void>;
  now(): Date;
  /** Whether stdout is a terminal (the screen is cleared only then, as click does). */
  isTerminal(): boolean;
}

const DEFAULT_DEPS: ListDeps = {
  loadCluster: loadClusterFromEtcd,
  out: writeOut,
  err: writeErr,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => new Date(),
  isTerminal: () => Deno.stdout.isTerminal(),
};

const FORMATS = ["pretty", "tsv", "json", "yaml", "yml"];

const LIST_HELP = [
  "Usage: hactl list [OPTIONS] [CLUSTER_NAMES]...",
  "",
  "  List the members of one or more clusters, read directly from etcd.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -e, --extended           Always show the Pending restart, Pending restart reason,",
  "                           Scheduled restart and Tags columns (otherwise only when some member has one)",
  "  -t, --timestamp          Print a timestamp (YYYY-MM-DD HH:MM:SS) before the tables",
  "  -f, --format FORMAT      Output format: pretty (default), tsv, json, yaml (or yml)",
  "  --lsn                    Patroni 4's table (a hactl extension): the system id in the title, the",
  "                           replication state (streaming) as State, Receive LSN/Lag and Replay LSN/Lag",
  "                           columns and Pending restart reason; the default is Patroni 3.0.2's table",
  "                           (State running, 'Lag in MB'), as Debian's patronictl prints it",
  "  -W                       Refresh every 2 seconds until interrupted (Ctrl-C)",
  "  -w, --watch SECONDS      Refresh every SECONDS seconds until interrupted (Ctrl-C)",
  "  -h, --help               Show this message and exit",
  "",
  "With no CLUSTER_NAMES the config's scope (PATRONI_SCOPE) is listed.",
  "",
].join("\n");

const TOPOLOGY_HELP = [
  "Usage: hactl topology [OPTIONS] [CLUSTER_NAMES]...",
  "",
  "  Show the members of one or more clusters as a replication tree (leader first, then the",
  "  replicas under their upstream: the replicatefrom tag, else the leader), read directly from etcd.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -W                       Refresh every 2 seconds until interrupted (Ctrl-C)",
  "  -w, --watch SECONDS      Refresh every SECONDS seconds until interrupted (Ctrl-C)",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

function usageError(command: string, message: string, deps: ListDeps): number {
  deps.err(
    `Usage: hactl ${command} [OPTIONS] [CLUSTER_NAMES]...\nTry 'hactl ${command} --help' for help.\n\n` +
      `Error: ${message}\n`,
  );
  return 2;
}

/** Python logging's default `asctime`: `YYYY-MM-DD HH:MM:SS,mmm`. */
function logTime(d: Date): string {
  return `${formatLocalTimestamp(d)},${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** Translate `parseArgs` errors into click's wording where it differs. */
function argsMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const unknown = /Unknown option '([^']+)'/.exec(text);
  if (unknown) return `No such option: ${unknown[1]}`;
  const missing = /Option '([^']+)' argument missing/.exec(text);
  if (missing) return `Option '${missing[1]!.split(",").pop()!.trim().split(" ")[0]}' requires an argument.`;
  return text.split("\n")[0]!;
}

/** A usage error found while reading the arguments: `Usage: ...`, `Error: <message>`, exit code 2. */
class ListUsageError extends Error {}

/** The arguments of `list`/`topology`, read and checked. */
interface ListOptions {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  format: ListFormat;
  /** Refresh interval (`-W`: 2 s, `-w`); null: print once. */
  watchSeconds: number | null;
}

async function listLoop(
  command: "list" | "topology",
  args: string[],
  env: Record<string, string>,
  deps: ListDeps,
): Promise<number> {
  let opts: ListOptions | "help";
  try {
    opts = readOptions(command, args);
  } catch (err) {
    if (err instanceof ListUsageError) return usageError(command, err.message, deps);
    throw err;
  }
  if (opts === "help") {
    deps.out(command === "list" ? LIST_HELP : TOPOLOGY_HELP);
    return 0;
  }
  try {
    return await showClusters(opts, env, deps);
  } catch (err) {
    if (err instanceof CtlError) {
      deps.err(`Error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** Parse the arguments; `help` for `--help`. Throws `ListUsageError` in click's words. */
function readOptions(command: "list" | "topology", args: string[]): ListOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...CTL_GLOBAL_OPTIONS,
        ...(command === "list"
          ? {
            extended: { type: "boolean", short: "e" },
            lsn: { type: "boolean" },
            timestamp: { type: "boolean", short: "t" },
            format: { type: "string", short: "f" },
          }
          : {}),
        W: { type: "boolean", short: "W" },
        watch: { type: "string", short: "w" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new ListUsageError(argsMessage(err));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return "help";
  const format = command === "topology" ? "topology" : listFormat(values.format);
  return { values, positionals: parsed.positionals, format, watchSeconds: watchInterval(values) };
}

/** `-f/--format` of `list` (default pretty; `yml` is `yaml`). */
function listFormat(value: string | boolean | undefined): ListFormat {
  if (typeof value !== "string") return "pretty";
  if (!FORMATS.includes(value)) {
    throw new ListUsageError(
      `Invalid value for '-f' / '--format': '${value}' is not one of ` + FORMATS.map((f) =>
        `'${f}'`
      ).join(", ") +
        ".",
    );
  }
  return value === "yml" ? "yaml" : value as ListFormat;
}

/** `-w/--watch SECONDS` (a float, as click reads it), else 2 with `-W`, else null. */
function watchInterval(values: Record<string, string | boolean | undefined>): number | null {
  let watchSeconds: number | null = null;
  if (typeof values.watch === "string") {
    const n = Number(values.watch);
    if (values.watch.trim() === "" || !Number.isFinite(n)) {
      throw new ListUsageError(`Invalid value for '-w' / '--watch': '${values.watch}' is not a valid float.`);
    }
    watchSeconds = n;
  }
  if (values.W && !watchSeconds) watchSeconds = 2;
  return watchSeconds;
}

/** Print the clusters' tables once, or with a watch interval again and again (clearing a terminal between). */
async function showClusters(opts: ListOptions, env: Record<string, string>, deps: ListDeps): Promise<number> {
  const settings = await loadCtlConfig(ctlOptionsFrom(opts.values), env);
  const names = opts.positionals.length > 0 ? opts.positionals : settings.scope ? [settings.scope] : [];
  if (names.length === 0) {
    deps.err(`${logTime(deps.now())} - WARNING - Listing members: No cluster names were provided\n`);
    return 0;
  }
  requireEtcd(settings);
  const clear = () => {
    if (deps.isTerminal()) deps.out("\x1b[2J\x1b[1;1H");
  };
  const { watchSeconds } = opts;
  if (watchSeconds) clear();
  for (;;) {
    const started = deps.now().getTime();
    deps.out(await renderClusters(opts, settings, names, deps));
    if (!watchSeconds) return 0;
    await deps.sleep(Math.max(0, watchSeconds * 1000 - (deps.now().getTime() - started)));
    clear();
  }
}

/** One refresh: the optional timestamp line, then each cluster's table, read afresh. */
async function renderClusters(
  opts: ListOptions,
  settings: CtlSettings,
  names: string[],
  deps: ListDeps,
): Promise<string> {
  let text = opts.values.timestamp ? formatLocalTimestamp(deps.now()) + "\n" : "";
  for (const name of names) {
    const view = await deps.loadCluster(settings, name);
    text += renderList(view, name, {
      format: opts.format,
      extended: opts.values.extended === true,
      layout: opts.values.lsn === true ? "lsn" : "lag",
    });
  }
  return text;
}

/**
 * `hactl list [CLUSTER_NAME...] [-c FILE] [--dcs-url URL] [-e] [-t] [-f FORMAT] [-W | -w SECONDS]`.
 * Returns the exit code.
 */
export function run(
  args: string[],
  env: Record<string, string>,
  deps: ListDeps = DEFAULT_DEPS,
): Promise<number> {
  return listLoop("list", args, env, deps);
}

/** `hactl topology [CLUSTER_NAME...] [-c FILE] [--dcs-url URL] [-W | -w SECONDS]`. Returns the exit code. */
export function runTopology(
  args: string[],
  env: Record<string, string>,
  deps: ListDeps = DEFAULT_DEPS,
): Promise<number> {
  return listLoop("topology", args, env, deps);
}
