/**
 * `hactl demote-cluster` and `hactl promote-cluster`, as Patroni 4's patronictl: show the topology, confirm
 * (unless `--force`), then `PATCH /config` on the leader with `{"standby_cluster": {...}}` (demote: the cluster
 * becomes a standby cluster of the remote primary named by `--host`/`--port`/`--restore-command`) or
 * `{"standby_cluster": null}` (promote: the standby cluster runs standalone), the same change `edit-config` makes.
 * Then it watches etcd every second, printing the leader's role and state, until the leader holds the key in the
 * target role (`standby_leader` / `primary`) and runs (and, for a demotion, the former leader runs again), and
 * prints the topology. The CLI never decides: the agents act on the dynamic configuration.
 *
 * @module
 */
import type { ClusterView } from "../src/core/types.ts";
import { renderList } from "./lib/cluster_table.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { formatLocalTimestamp, loadClusterFromEtcd } from "./lib/cluster.ts";
import { postJson } from "./lib/http.ts";
import { CtlUsageError, runCtl } from "./lib/command.ts";
import { stdinAsker } from "./lib/prompt.ts";
import { writeErr, writeOut } from "./lib/io.ts";

type Action = "demote" | "promote";

/** What the commands need from the world; tests replace it. */
export interface ClusterRoleDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  patch(url: string, body: unknown, settings: CtlSettings): Promise<{ status: number; text: string }>;
  confirm(message: string): boolean;
  sleep(ms: number): Promise<void>;
  now(): Date;
  out(text: string): void;
  err(text: string): void;
}

export const REAL_DEPS: ClusterRoleDeps = {
  loadCluster: loadClusterFromEtcd,
  patch: (url, body, settings) => postJson(url, body, settings, 10_000, "PATCH"),
  confirm: (message) => stdinAsker().confirm(message),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => new Date(),
  out: writeOut,
  err: writeErr,
};

const HELP: Record<Action, string> = {
  demote: [
    "Usage: hactl demote-cluster [OPTIONS] [CLUSTER_NAME]",
    "",
    "  Demote cluster to a standby cluster: its leader becomes a standby leader streaming from the remote",
    "  primary, its other members follow the standby leader.",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  --host TEXT              Address of the remote node",
    "  --port INTEGER           Port of the remote node",
    "  --restore-command TEXT   Command to restore WAL records from the remote primary",
    "  --primary-slot-name TEXT Name of the slot on the remote node to use for replication",
    "  --force                  Do not ask for confirmation",
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n"),
  promote: [
    "Usage: hactl promote-cluster [OPTIONS] [CLUSTER_NAME]",
    "",
    "  Promote cluster, make it run standalone: the standby leader is promoted to a read-write primary.",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  --force                  Do not ask for confirmation",
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n"),
};

/** The `standby_cluster` section `demote-cluster` writes: the options given, as Patroni builds it. */
export function standbySectionFrom(values: Record<string, unknown>): Record<string, string | number> {
  const host = values["host"] as string | undefined;
  const portText = values["port"] as string | undefined;
  const restore = values["restore-command"] as string | undefined;
  const slot = values["primary-slot-name"] as string | undefined;
  if (!host && !portText && !restore) {
    throw new CtlError("At least --host, --port or --restore-command should be specified");
  }
  let port: number | undefined;
  if (portText) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
      throw new CtlUsageError(`Invalid value for '--port': '${portText}' is not a valid integer.`);
    }
  }
  const out: Record<string, string | number> = {};
  if (host) out.host = host;
  if (port !== undefined) out.port = port;
  if (slot) out.primary_slot_name = slot;
  if (restore) out.restore_command = restore;
  return out;
}

export async function run(
  action: Action,
  args: string[],
  env: Record<string, string>,
  deps: ClusterRoleDeps = REAL_DEPS,
): Promise<number> {
  const options: Record<string, { type: "boolean" | "string"; short?: string }> = {
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  };
  if (action === "demote") {
    for (const o of ["host", "port", "restore-command", "primary-slot-name"]) options[o] = { type: "string" };
  }
  return await runCtl({
    usage: `Usage: hactl ${action}-cluster [OPTIONS] [CLUSTER_NAME]`,
    help: HELP[action],
    args,
    options,
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const section = action === "demote" ? standbySectionFrom(values) : null;
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const scope = positionals[0] ?? settings.scope;
      if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
      await changeClusterRole({ scope, settings, force: values.force === true, section }, deps);
      return 0;
    },
  });
}

interface Request {
  scope: string;
  settings: CtlSettings;
  force: boolean;
  /** The section to write (demote), or null (promote: the section is removed). */
  section: Record<string, string | number> | null;
}

/** Patroni's `change_cluster_role`: check, show, confirm, PATCH /config on the leader, then watch until done. */
async function changeClusterRole(req: Request, deps: ClusterRoleDeps): Promise<void> {
  const demote = req.section !== null;
  const name = demote ? "demot" : "promot";
  const target = demote ? "standby_leader" : "primary";
  const view = await deps.loadCluster(req.settings, req.scope);
  const leaderName = view.leader?.name;
  const leader = view.members.find((m) => m.name === leaderName);
  if (!leaderName) throw new CtlError(`Cluster has no leader, ${name}ion is not possible`);
  if (leader?.data.role === target) throw new CtlError("Cluster is already in the required state");
  deps.out(`Current cluster topology\n${renderList(view, req.scope, { format: "pretty", extended: false })}`);
  if (!req.force && !deps.confirm(`Are you sure you want to ${name}e ${req.scope} cluster?`)) {
    throw new CtlError(`Aborted cluster ${name}ion`);
  }
  const failed = `Failed to ${name}e ${req.scope} cluster`;
  if (!leader?.data.api_url) throw new CtlError(`${failed}: the leader '${leaderName}' publishes no api_url`);
  let res;
  try {
    res = await deps.patch(new URL("/config", leader.data.api_url).toString(), {
      standby_cluster: req.section,
    }, req.settings);
  } catch (err) {
    throw new CtlError(`${failed}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (res.status !== 200) {
    throw new CtlError(`${failed}: /config PATCH status code=${res.status}, (${res.text})`);
  }
  let last = view;
  for (;;) {
    const now = await deps.loadCluster(req.settings, req.scope);
    last = now;
    const holder = now.members.find((m) => m.name === now.leader?.name);
    const role = holder?.data.role ?? null;
    const state = holder?.data.state ?? null;
    const old = now.members.find((m) => m.name === leaderName);
    const stamp = formatLocalTimestamp(deps.now());
    if (now.leader && role === target && state === "running" && (!demote || old?.data.state === "running")) {
      deps.out(`${stamp} cluster is successfully ${name}ed\n`);
      break;
    }
    const parts = [
      `${stamp} cluster is unlocked: ${pyBool(!now.leader)}`,
      `leader role: ${pyStr(role)}`,
      `leader state: ${pyStr(state)}`,
    ];
    if (demote && now.leader && now.leader.name !== leaderName && old?.data.state) {
      parts.push(`previous leader state: '${old.data.state}'`);
    }
    deps.out(parts.join(", ") + "\n");
    await deps.sleep(1000);
  }
  deps.out(renderList(last, req.scope, { format: "pretty", extended: false }));
}

const pyBool = (b: boolean): string => b ? "True" : "False";
const pyStr = (v: unknown): string => v === null || v === undefined ? "None" : String(v);
