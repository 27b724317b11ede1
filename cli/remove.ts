/**
 * `hactl remove CLUSTER [-f FORMAT]`: delete every key of a cluster from etcd, as patronictl's `remove`.
 * Prints the member table, then asks three times, with no `--force`:
 * the cluster name, the phrase `Yes I am aware`, and, while a member holds the leader key, that leader's name.
 * Any other answer aborts with patronictl's message and changes nothing.
 *
 * The agents of a removed cluster that are still running will write their keys again (and may initialise a
 * new cluster); stop them first.
 *
 * @module
 */
import type { ClusterView } from "../src/core/types.ts";
import { renderList } from "./lib/cluster_table.ts";
import {
  checkClusterName,
  CTL_GLOBAL_HELP,
  CtlError,
  ctlOptionsFrom,
  type CtlSettings,
  loadCtlConfig,
} from "./lib/config.ts";
import { CtlUsageError, runCtl } from "./lib/command.ts";
import { type Asker, stdinAsker } from "./lib/prompt.ts";
import { deleteClusterKeys } from "./lib/dcs.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { writeErr, writeOut } from "./lib/io.ts";

export interface RemoveDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  deleteCluster(settings: CtlSettings, scope: string): Promise<number>;
  asker(): Asker;
  out(text: string): void;
  err(text: string): void;
}

const REAL_DEPS: RemoveDeps = {
  loadCluster: loadClusterFromEtcd,
  deleteCluster: deleteClusterKeys,
  asker: stdinAsker,
  out: writeOut,
  err: writeErr,
};

const FORMATS = ["pretty", "tsv", "json", "yaml", "yml"];

const HELP = [
  "Usage: hactl remove [OPTIONS] CLUSTER_NAME",
  "",
  "  Remove a cluster from etcd: every key under /<namespace>/<cluster>/. Asks for the cluster name, for",
  '  "Yes I am aware" and, while the cluster has a leader, for the leader\'s name. Stop the agents first, or',
  "  they write their keys again.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -f, --format FORMAT      Format of the member table shown first: pretty (default), tsv, json, yaml",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

const AWARE = "Yes I am aware";

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: RemoveDeps = REAL_DEPS,
): Promise<number> {
  const usage = "Usage: hactl remove [OPTIONS] CLUSTER_NAME\nTry 'hactl remove --help' for help.";
  return await runCtl({
    usage,
    help: HELP,
    args,
    options: { format: { type: "string", short: "f" } },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const format = typeof values.format === "string" ? values.format : "pretty";
      if (!FORMATS.includes(format)) {
        throw new CtlUsageError(
          `Invalid value for '--format' / '-f': '${format}' is not one of ${
            FORMATS.map((f) => `'${f}'`).join(", ")
          }.`,
        );
      }
      if (positionals.length === 0) throw new CtlUsageError("Missing argument 'CLUSTER_NAME'.");
      if (positionals.length > 1) {
        throw new CtlUsageError(`Got unexpected extra argument (${positionals[1]})`);
      }
      const scope = checkClusterName(positionals[0]!);
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const view = await deps.loadCluster(settings, scope);
      deps.out(renderList(view, scope, {
        format: format === "yml" ? "yaml" : format as "pretty" | "tsv" | "json" | "yaml",
        extended: false,
      }));
      const asker = deps.asker();
      if (asker.prompt("Please confirm the cluster name to remove") !== scope) {
        throw new CtlError("Cluster names specified do not match");
      }
      if (
        asker.prompt(
          `You are about to remove all information in DCS for ${scope}, please type: "${AWARE}"`,
        ) !== AWARE
      ) {
        throw new CtlError(`You did not exactly type "${AWARE}"`);
      }
      const leader = view.leader?.name;
      if (leader) {
        if (
          asker.prompt("This cluster currently is healthy. Please specify the leader name to continue") !==
            leader
        ) {
          throw new CtlError("You did not specify the current leader of the cluster");
        }
      }
      await deps.deleteCluster(settings, scope);
      return 0;
    },
  });
}
