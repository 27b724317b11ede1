/**
 * Read-only views of the DCS, as patronictl's: `hactl show-config [CLUSTER]` prints the dynamic configuration
 * (YAML, sorted keys, block style; nothing when the key is absent) and `hactl history [CLUSTER] [-f FORMAT]` the
 * timeline history table (`TL | LSN | Reason | Timestamp | New Leader`, TL and LSN right-aligned).
 *
 * @module
 */
import { pythonJson, renderTable, yamlOf } from "./lib/cluster_table.ts";
import type { ClusterView } from "../src/core/types.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { CtlUsageError, runCtl } from "./lib/command.ts";

/** `history --format` values (`yml` is `yaml`). */
const HISTORY_FORMATS = ["pretty", "tsv", "json", "yaml", "yml"];
import { writeErr, writeOut } from "./lib/io.ts";

type Command = "show-config" | "history";

export interface ShowDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  out(text: string): void;
  err(text: string): void;
}

const REAL_DEPS: ShowDeps = { loadCluster: loadClusterFromEtcd, out: writeOut, err: writeErr };

const HELP: Record<Command, string> = {
  "show-config": [
    "Usage: hactl show-config [OPTIONS] [CLUSTER_NAME]",
    "",
    "  Show the cluster's dynamic configuration (the DCS config key) as YAML.",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n"),
  history: [
    "Usage: hactl history [OPTIONS] [CLUSTER_NAME]",
    "",
    "  Show the cluster's timeline switches (the DCS history key).",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  -f, --format FORMAT      pretty (default), tsv, json, yaml",
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n"),
};

/** The history table's rows: every entry padded to five cells. */
export function historyRows(view: ClusterView): string[][] {
  return (view.history ?? []).map((e) =>
    [0, 1, 2, 3, 4].map((i) => (e[i] === undefined ? "" : String(e[i])))
  );
}

export async function run(
  command: Command,
  args: string[],
  env: Record<string, string>,
  deps: ShowDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: `Usage: hactl ${command} [OPTIONS] [CLUSTER_NAME]`,
    help: HELP[command],
    args,
    options: { ...(command === "history" ? { format: { type: "string", short: "f" } } : {}) },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const format = String(values.format ?? "pretty");
      if (!HISTORY_FORMATS.includes(format)) {
        throw new CtlUsageError(
          `Invalid value for '-f' / '--format': '${format}' is not one of ${
            HISTORY_FORMATS.map((f) => `'${f}'`).join(", ")
          }.`,
        );
      }
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const scope = positionals[0] ?? settings.scope;
      if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
      const view = await deps.loadCluster(settings, scope);
      if (command === "show-config") {
        if (view.config) deps.out(yamlOf(view.config.value, false).replace(/\n?$/, "\n"));
        return 0;
      }
      const columns = ["TL", "LSN", "Reason", "Timestamp", "New Leader"];
      const rows = historyRows(view);
      if (format === "tsv") deps.out([columns, ...rows].map((r) => r.join("\t") + "\n").join(""));
      else if (format === "json" || format === "yaml" || format === "yml") {
        const objects = rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
        deps.out(format === "json" ? pythonJson(objects) + "\n" : yamlOf(objects, false) + "\n");
      } else deps.out(renderTable(columns, rows, { rightAligned: [true, true, false, false, false] }) + "\n");
      return 0;
    },
  });
}
