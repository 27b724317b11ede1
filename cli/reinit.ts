/**
 * `hactl reinit [CLUSTER] MEMBER... [--force] [--from-leader] [--wait]`, as patronictl's: confirm, then
 * `POST /reinitialize` to each named member's REST API; the member throws its data away and clones it again (from
 * the leader with pg_basebackup only with `--from-leader`, posted as patronictl posts it). With
 * `--wait`, watch each member's REST API until it is running again, printing each state change, and give up
 * (exit 1) after {@linkcode REINIT_WAIT_SECONDS}. A refused or unreachable member prints `Failed: ...` and the
 * command exits 1 (0 with `--patroni-compat`, as patronictl).
 *
 * @module
 */
import { renderList } from "./lib/cluster_table.ts";
import type { ClusterView } from "../src/core/types.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { ctlRequest, postJson } from "./lib/http.ts";
import { runCtl } from "./lib/command.ts";
import { stdinAsker } from "./lib/prompt.ts";
import { refusedLine, unreachableLine } from "./lib/targets.ts";
import { writeErr, writeOut } from "./lib/io.ts";
import { failedExit } from "./lib/exit.ts";

/** How long `--wait` waits for the members to run again, in seconds (one poll a second). */
export const REINIT_WAIT_SECONDS = 600;

const HELP = [
  "Usage: hactl reinit [OPTIONS] [CLUSTER_NAME] MEMBER_NAME...",
  "",
  "  Reinitialize members: each throws its data directory away and clones it again from the leader.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  --force                  Do not ask for confirmation, and reinitialize even while an operation runs",
  "  --from-leader            Clone from the leader with pg_basebackup, not create_replica_methods",
  "  --wait                   Wait until each member is running again, printing each state change;",
  `                           exit 1 if one is not within ${REINIT_WAIT_SECONDS} seconds`,
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

/** What the command needs from the world; tests replace it. */
export interface ReinitDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  post(url: string, body: unknown, settings: CtlSettings): Promise<{ status: number; text: string }>;
  confirm(message: string): boolean;
  /** A member's `GET /patroni` body, or null when it does not answer. */
  status(apiUrl: string, settings: CtlSettings): Promise<Record<string, unknown> | null>;
  sleep(ms: number): Promise<void>;
  out(text: string): void;
  err(text: string): void;
}

export const REAL_DEPS: ReinitDeps = {
  loadCluster: loadClusterFromEtcd,
  post: (url, body, settings) => postJson(url, body, settings, 30_000),
  confirm: (message) => stdinAsker().confirm(message),
  status: async (apiUrl, settings) => {
    try {
      const res = await ctlRequest("GET", apiUrl, undefined, settings, 2000);
      return res.status >= 200 && res.status < 300 ? JSON.parse(res.text) : null;
    } catch {
      return null;
    }
  },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  out: writeOut,
  err: writeErr,
};

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: ReinitDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: "Usage: hactl reinit [OPTIONS] [CLUSTER_NAME] MEMBER_NAME...",
    help: HELP,
    args,
    options: { force: { type: "boolean" }, "from-leader": { type: "boolean" }, wait: { type: "boolean" } },
    out: deps.out,
    err: deps.err,
    body: (values, positionals) => reinit(values, positionals, env, deps),
  });
}

/** Show the table, check the names, confirm, ask each member, and with `--wait` watch them come back. */
async function reinit(
  values: Record<string, unknown>,
  positionals: string[],
  env: Record<string, string>,
  deps: ReinitDeps,
): Promise<number> {
  const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
  const { scope, view, names } = await reinitTargets(settings, positionals, deps);
  deps.out(renderList(view, scope, { format: "pretty", extended: false }));
  if (names.length === 0) throw new CtlError("Which member do you want to reinitialize?");
  for (const name of names) {
    if (!view.members.some((m) => m.name === name)) {
      throw new CtlError(`${name} is not a member of cluster`);
    }
  }
  if (!values.force && !deps.confirm(`Are you sure you want to reinitialize members ${names.join(", ")}?`)) {
    throw new CtlError("Aborted!");
  }
  const wait = values.wait === true;
  const body = { force: values.force === true, from_leader: values["from-leader"] === true };
  const { started, startTimes } = await reinitEach(view, names, body, wait, settings, deps);
  let ok = started.length === names.length;
  if (wait && started.length > 0) ok = await waitForReinit(view, started, startTimes, settings, deps) && ok;
  return ok ? 0 : failedExit(values, env);
}

/**
 * The cluster and the member names. patronictl takes the cluster name first; hactl accepts it too, or only
 * members when the config names a scope (the first positional is the cluster unless it is one of its members).
 */
async function reinitTargets(
  settings: CtlSettings,
  positionals: string[],
  deps: ReinitDeps,
): Promise<{ scope: string; view: ClusterView; names: string[] }> {
  let scope = settings.scope;
  let names = positionals;
  const view0 = scope ? await deps.loadCluster(settings, scope) : null;
  if (!view0 || (names.length > 0 && !view0.members.some((m) => m.name === names[0]))) {
    if (names.length === 0) throw new CtlError("no cluster name given and no scope in the configuration");
    scope = names[0]!;
    names = names.slice(1);
  }
  const view = view0 && scope === settings.scope ? view0 : await deps.loadCluster(settings, scope!);
  return { scope: scope!, view, names };
}

/**
 * `POST /reinitialize` to each named member and report each answer. Returns the members that accepted and, with
 * `wait`, each one's postmaster start time before the request.
 */
async function reinitEach(
  view: ClusterView,
  names: string[],
  body: { force: boolean; from_leader: boolean },
  wait: boolean,
  settings: CtlSettings,
  deps: ReinitDeps,
): Promise<{ started: string[]; startTimes: Map<string, unknown> }> {
  const started: string[] = [];
  const startTimes = new Map<string, unknown>();
  for (const name of names) {
    const m = view.members.find((x) => x.name === name)!;
    if (wait) {
      startTimes.set(name, (await deps.status(m.data.api_url, settings))?.postmaster_start_time ?? null);
    }
    try {
      const url = new URL("/reinitialize", m.data.api_url).toString();
      const res = await deps.post(url, body, settings);
      if (res.status === 200) {
        deps.out(`Success: reinitialize for member ${name}\n`);
        started.push(name);
      } else deps.out(refusedLine("reinitialize", name, res));
    } catch (err) {
      deps.out(unreachableLine("reinitialize", name, err));
    }
  }
  return { started, startTimes };
}

/**
 * `--wait`: poll each started member's `GET /patroni` once a second (at most {@linkcode REINIT_WAIT_SECONDS}
 * times) until it runs again as a replica with a new postmaster start time (its member key may still show the
 * old "running" for a moment after the request). Prints one line per state change; true when all completed.
 */
async function waitForReinit(
  view: ClusterView,
  started: string[],
  startTimes: Map<string, unknown>,
  settings: CtlSettings,
  deps: ReinitDeps,
): Promise<boolean> {
  deps.out(`Waiting for reinitialize to complete on: ${started.join(", ")}\n`);
  const pending = [...started];
  const seen = new Map<string, string>();
  for (let i = 0; i < REINIT_WAIT_SECONDS && pending.length > 0; i++) {
    await deps.sleep(1000);
    for (const name of [...pending]) {
      const m = view.members.find((x) => x.name === name)!;
      const s = await deps.status(m.data.api_url, settings);
      const state = s === null
        ? "not answering"
        : `${String(s.state ?? "unknown")} (${String(s.role ?? "-")})`;
      if (seen.get(name) !== state) {
        seen.set(name, state);
        deps.out(`${name}: ${state}\n`);
      }
      if (
        s?.state === "running" && s.role === "replica" && s.postmaster_start_time !== startTimes.get(name)
      ) {
        deps.out(`Reinitialize is completed on: ${name}\n`);
        pending.splice(pending.indexOf(name), 1);
      }
    }
  }
  if (pending.length === 0) return true;
  deps.out(
    `Reinitialize did not complete within ${REINIT_WAIT_SECONDS} seconds on: ${
      pending.map((n) => `${n} (last: ${seen.get(n) ?? "no answer"})`).join(", ")
    }\n`,
  );
  return false;
}
