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
  "  --help                   Show this message and exit",
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
  "  --help                   Show this message and exit",
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

async function listLoop(
  command: "list" | "topology",
  args: string[],
  env: Record<string, string>,
  deps: ListDeps,
): Promise<number> {
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
        help: { type: "boolean" },
      },
    });
  } catch (err) {
    return usageError(command, argsMessage(err), deps);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    deps.out(command === "list" ? LIST_HELP : TOPOLOGY_HELP);
    return 0;
  }
  let format: ListFormat = "pretty";
  if (command === "topology") format = "topology";
  else if (typeof values.format === "string") {
    if (!FORMATS.includes(values.format)) {
      return usageError(
        command,
        `Invalid value for '-f' / '--format': '${values.format}' is not one of ` +
          FORMATS.map((f) => `'${f}'`).join(", ") + ".",
        deps,
      );
    }
    format = values.format === "yml" ? "yaml" : values.format as ListFormat;
  }
  let watchSeconds: number | null = null;
  if (typeof values.watch === "string") {
    const n = Number(values.watch);
    if (values.watch.trim() === "" || !Number.isFinite(n)) {
      return usageError(
        command,
        `Invalid value for '-w' / '--watch': '${values.watch}' is not a valid float.`,
        deps,
      );
    }
    watchSeconds = n;
  }
  if (values.W && !watchSeconds) watchSeconds = 2;

  try {
    const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
    const names = parsed.positionals.length > 0 ? parsed.positionals : settings.scope ? [settings.scope] : [];
    if (names.length === 0) {
      deps.err(`${logTime(deps.now())} - WARNING - Listing members: No cluster names were provided\n`);
      return 0;
    }
    requireEtcd(settings);
    const clear = () => {
      if (deps.isTerminal()) deps.out("\x1b[2J\x1b[1;1H");
    };
    if (watchSeconds) clear();
    for (;;) {
      const started = deps.now().getTime();
      let text = values.timestamp ? formatLocalTimestamp(deps.now()) + "\n" : "";
      for (const name of names) {
        const view = await deps.loadCluster(settings, name);
        text += renderList(view, name, {
          format,
          extended: values.extended === true,
          layout: values.lsn === true ? "lsn" : "lag",
        });
      }
      deps.out(text);
      if (!watchSeconds) return 0;
      await deps.sleep(Math.max(0, watchSeconds * 1000 - (deps.now().getTime() - started)));
      clear();
    }
  } catch (err) {
    if (err instanceof CtlError) {
      deps.err(`Error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
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
