/**
 * `hactl pause` and `hactl resume`, as patronictl's: `PATCH /config` with `{"pause": true}` / `{"pause": null}` to
 * the first member that answers, the leader first. `--wait` polls etcd until every member's key says so. A refused
 * request or a wait that runs out of time exits 1 (0 with `--patroni-compat`, as patronictl).
 *
 * @module
 */
import type { ClusterView } from "../src/core/types.ts";
import { normalizeDynamic } from "../src/config/config.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { postJson } from "./lib/http.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { runCtl } from "./lib/command.ts";
import { writeErr, writeOut } from "./lib/io.ts";
import { failedExit } from "./lib/exit.ts";

type Action = "pause" | "resume";

/** What the command needs from the world; tests replace it. */
export interface PauseDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  patch(url: string, body: unknown, settings: CtlSettings): Promise<{ status: number; text: string }>;
  sleep(ms: number): Promise<void>;
  out(text: string): void;
  err(text: string): void;
}

export const REAL_DEPS: PauseDeps = {
  loadCluster: loadClusterFromEtcd,
  patch: (url, body, settings) => postJson(url, body, settings, 10_000, "PATCH"),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  out: writeOut,
  err: writeErr,
};

function help(action: Action): string {
  return [
    `Usage: hactl ${action} [OPTIONS] [CLUSTER_NAME]`,
    "",
    action === "pause"
      ? "  Put the cluster in maintenance mode: no automatic failover, demotion, start or stop."
      : "  Leave maintenance mode: automatic failover is back on.",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  --wait                   Wait until every member has recognized the new state (exit 1 if one has not",
    "                           within loop_wait + 1 seconds)",
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n");
}

export async function run(
  action: Action,
  args: string[],
  env: Record<string, string>,
  deps: PauseDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: `Usage: hactl ${action} [OPTIONS] [CLUSTER_NAME]`,
    help: help(action),
    args,
    options: { wait: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const scope = positionals[0] ?? settings.scope;
      if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
      const view = await deps.loadCluster(settings, scope);
      const paused = view.config?.value.pause === true;
      if (action === "pause" && paused) throw new CtlError("Cluster is already paused");
      if (action === "resume" && !paused) throw new CtlError("Cluster is not paused");
      const ordered = [...view.members].sort((a, b) =>
        (a.name === view.leader?.name ? 0 : 1) - (b.name === view.leader?.name ? 0 : 1)
      );
      const body = { pause: action === "pause" ? true : null };
      let answered = false;
      let ok = true;
      for (const m of ordered) {
        let res;
        try {
          res = await deps.patch(new URL("/config", m.data.api_url).toString(), body, settings);
        } catch {
          continue; // not reachable: try the next member
        }
        answered = true;
        if (res.status === 200) {
          deps.out(`Success: cluster management is ${action === "pause" ? "paused" : "resumed"}\n`);
        } else {
          ok = false;
          deps.out(`Failed: ${action} cluster management status code=${res.status}, (${res.text})\n`);
        }
        break;
      }
      if (!answered) throw new CtlError("Can not find accessible cluster member");
      if (values.wait && ok) {
        deps.out(`'${action}' request sent, waiting until it is recognized by all nodes\n`);
        const want = action === "pause";
        // The agents' own loop_wait: the dynamic configuration read as they read it.
        const loopWait = normalizeDynamic(view.config?.value ?? {}).settings.loopWait;
        let pending: string[] = [];
        for (let i = 0; i <= loopWait + 1; i++) {
          const now = await deps.loadCluster(settings, scope);
          pending = now.members.filter((m) => (m.data.pause === true) !== want).map((m) => m.name);
          if (pending.length === 0) break;
          await deps.sleep(1000);
        }
        if (pending.length > 0) {
          ok = false;
          deps.out(
            `${pending.join(", ")} members didn't recognized ${action} state after ${loopWait + 1} seconds\n`,
          );
        }
      }
      return ok ? 0 : failedExit(values, env);
    },
  });
}
