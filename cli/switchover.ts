/**
 * `hactl switchover` and `hactl failover`, as patronictl's: show the topology, validate the leader and the
 * candidate, ask what was not given (unless `--force`), confirm, then `POST /switchover|/failover` to the
 * leader's REST API (the candidate's when there is no leader) and print the answer; when no member's API answers,
 * write the `failover` key directly. Then, with `--wait`, watch etcd until the new leader is writable and the old
 * one streams (showing each step), and print the topology read again after the operation. The CLI never
 * decides: the agents act.
 *
 * @module
 */
import { renderList } from "./lib/cluster_table.ts";
import { isNoFailover } from "../src/core/member_state.ts";
import type { ClusterView } from "../src/core/types.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { formatCtlTimestamp, loadClusterFromEtcd } from "./lib/cluster.ts";
import { postJson } from "./lib/http.ts";
import { writeFailoverKey } from "./lib/dcs.ts";
import { CtlUsageError, runCtl } from "./lib/command.ts";
import { waitWithProgress } from "./lib/progress.ts";
import { switchoverProgress } from "./lib/switchover_wait.ts";
import { stdinAsker } from "./lib/prompt.ts";
import { writeErr, writeOut } from "./lib/io.ts";
import { parseScheduled } from "./lib/schedule.ts";
import { failedExit } from "./lib/exit.ts";
import { normalizeDynamic } from "../src/config/dynamic.ts";
import { switchoverRequestTimeoutMs } from "../src/core/settings.ts";

type Action = "switchover" | "failover";

const HELP: Record<Action, string> = {
  switchover: [
    "Usage: hactl switchover [OPTIONS] [CLUSTER_NAME]",
    "",
    "  Switch the leader role over to another member, now or at a scheduled time. The leader stops cleanly",
    "  so the candidate has every transaction, then the candidate takes over.",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  --leader, --primary NAME The current leader (asked for when not given)",
    "  --candidate NAME         The member to switch over to (default: the healthiest replica)",
    "  --scheduled TIME         When to switch over: ISO 8601 with a timezone, or 'now' (default: now)",
    "  --force                  Do not ask anything; use the current leader and switch over now",
    "  --wait                   Wait until the new leader is writable and the old one streams from it,",
    "                           showing each step; exit 1 if not done within --wait-timeout (not with",
    "                           --scheduled)",
    "  --wait-timeout SECONDS   How long --wait waits (default: 120)",
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n"),
  failover: [
    "Usage: hactl failover [OPTIONS] [CLUSTER_NAME]",
    "",
    "  Make a named member the leader, also when the cluster has no healthy leader.",
    "",
    "Options:",
    ...CTL_GLOBAL_HELP,
    "  --candidate NAME         The member to fail over to (required, asked for when not given)",
    "  --leader, --primary NAME The current leader (turns the request into a switchover, as patronictl does)",
    "  --force                  Do not ask for confirmation",
    "  --wait                   Wait until the new leader is writable and the old one (if any) streams",
    "                           from it, showing each step; exit 1 if not done within --wait-timeout",
    "  --wait-timeout SECONDS   How long --wait waits (default: 120)",
    "  -h, --help               Show this message and exit",
    "",
  ].join("\n"),
};

/** What the command needs from the world; tests replace it. */
export interface SwitchoverDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  /** POST to a member's REST API, waiting up to `timeoutMs` for the answer; throws when it cannot be reached. */
  post(
    url: string,
    body: unknown,
    settings: CtlSettings,
    timeoutMs: number,
  ): Promise<{ status: number; text: string }>;
  /** Write the `failover` key directly (the fallback). */
  writeFailoverKey(settings: CtlSettings, scope: string, value: Record<string, unknown>): Promise<void>;
  prompt(message: string, fallback: string): string | null;
  confirm(message: string): boolean;
  out(text: string): void;
  err(text: string): void;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Whether stdout is a terminal (`--wait` rewrites one status line in place). */
  isTerminal(): boolean;
}

export const REAL_DEPS: SwitchoverDeps = {
  loadCluster: loadClusterFromEtcd,
  post: (url, body, settings, timeoutMs) => postJson(url, body, settings, timeoutMs),
  writeFailoverKey,
  // click's questions, read from stdin line by line (answers can be piped; end of input is "Aborted!").
  prompt: (message, fallback) => stdinAsker().prompt(message, { default: fallback }),
  confirm: (message) => stdinAsker().confirm(message),
  out: writeOut,
  err: writeErr,
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  isTerminal: () => Deno.stdout.isTerminal(),
};

/** `--wait`'s default limit, in seconds. */
export const SWITCHOVER_WAIT_SECONDS = 120;

/**
 * `hactl switchover` / `hactl failover`. Exit codes: 0 done (or the `failover` key written), 1 refused or failed
 * (0 with `--patroni-compat`, as patronictl), 2 usage.
 */
export async function run(
  action: Action,
  args: string[],
  env: Record<string, string>,
  deps: SwitchoverDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: `Usage: hactl ${action} [OPTIONS] [CLUSTER_NAME]`,
    help: HELP[action],
    args,
    options: {
      leader: { type: "string" },
      primary: { type: "string" },
      master: { type: "string" },
      candidate: { type: "string" },
      scheduled: { type: "string" },
      force: { type: "boolean" },
      wait: { type: "boolean" },
      "wait-timeout": { type: "string" },
    },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      return await switchover(action, values, positionals, env, deps);
    },
  });
}

/** What the command works on once the cluster is read: the action, the cluster and its leader now. */
interface Context {
  action: Action;
  settings: CtlSettings;
  scope: string;
  view: ClusterView;
  leaderNow: string | null;
  force: boolean;
}

/** Show the topology, validate and ask (leader, candidate, when), confirm, then send the request. */
async function switchover(
  action: Action,
  values: Record<string, unknown>,
  positionals: string[],
  env: Record<string, string>,
  deps: SwitchoverDeps,
): Promise<number> {
  const waitSeconds = waitOption(values);
  if (waitSeconds !== null && values.scheduled !== undefined && values.scheduled !== "now") {
    throw new CtlUsageError("--wait cannot be used with --scheduled (the switchover happens later)");
  }
  const ctx = await loadContext(action, values, positionals, env, deps);
  deps.out(
    `Current cluster topology\n${renderList(ctx.view, ctx.scope, { format: "pretty", extended: false })}`,
  );
  const leader = chooseLeader(
    ctx,
    (values.leader ?? values.primary ?? values.master) as string | undefined,
    deps,
  );
  const candidate = chooseCandidate(ctx, values.candidate as string | undefined, deps);
  const scheduled = action === "switchover"
    ? chooseSchedule(ctx, values.scheduled as string | undefined, deps)
    : null;
  if (!ctx.force) confirmSwitchover(ctx, scheduled, deps);
  const body: Record<string, unknown> = {};
  if (action === "switchover" || leader) body.leader = leader ?? ctx.leaderNow;
  if (candidate) body.candidate = candidate;
  if (scheduled) body.scheduled_at = scheduled;
  if (!(await send(ctx, body, deps))) return failedExit(values, env);
  if (waitSeconds !== null && !scheduled) {
    const done = await waitForSwitchover(ctx, candidate ?? null, waitSeconds, deps);
    if (!done) return failedExit(values, env);
  }
  // The topology after the operation, read again (patronictl prints the table it read after the request).
  deps.out(renderList(await deps.loadCluster(ctx.settings, ctx.scope), ctx.scope, {
    format: "pretty",
    extended: false,
  }));
  return 0;
}

/** `--wait` and `--wait-timeout`: the limit in seconds, or null without `--wait`. */
function waitOption(values: Record<string, unknown>): number | null {
  const given = values["wait-timeout"];
  let seconds = SWITCHOVER_WAIT_SECONDS;
  if (typeof given === "string") {
    seconds = Number(given);
    if (given.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
      throw new CtlUsageError(`Invalid value for '--wait-timeout': '${given}' is not a positive number.`);
    }
  }
  return values.wait === true ? seconds : null;
}

/**
 * `--wait`: watch etcd once a second until the new leader runs as primary and the old leader streams from it,
 * printing each step; false (with the reason) when that does not happen within `seconds`.
 */
async function waitForSwitchover(
  ctx: Context,
  candidate: string | null,
  seconds: number,
  deps: SwitchoverDeps,
): Promise<boolean> {
  const { action, settings, scope, leaderNow } = ctx;
  deps.out(
    `Waiting up to ${seconds} s for the ${action}: new leader writable` +
      `${leaderNow ? `, ${leaderNow} streaming from it` : ""}\n`,
  );
  const result = await waitWithProgress(deps, seconds * 1000, 1000, async () => {
    return switchoverProgress(await deps.loadCluster(settings, scope), leaderNow, candidate);
  });
  const title = `${action[0]!.toUpperCase()}${action.slice(1)}`;
  if (result.ok) {
    deps.out(`${title} completed in ${(result.waitedMs / 1000).toFixed(1)} s\n`);
    return true;
  }
  deps.out(`${title} did not complete within ${seconds} s; last seen: ${result.last}\n`);
  return false;
}

/** Read the ctl configuration and the cluster named by the only positional (else the configured scope). */
async function loadContext(
  action: Action,
  values: Record<string, unknown>,
  positionals: string[],
  env: Record<string, string>,
  deps: SwitchoverDeps,
): Promise<Context> {
  const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
  const scope = positionals[0] ?? settings.scope;
  if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
  if (positionals.length > 1) throw new CtlError(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  const force = values.force === true;
  const view = await deps.loadCluster(settings, scope);
  return { action, settings, scope, view, leaderNow: view.leader?.name ?? null, force };
}

/**
 * `--leader`/`--primary`/`--master`. A switchover needs a leader and asks for it (default: the current one)
 * unless forced; it must be the current leader. A failover takes it as given.
 */
function chooseLeader(ctx: Context, given: string | undefined, deps: SwitchoverDeps): string | undefined {
  const { action, leaderNow, scope, force } = ctx;
  let leader = given;
  if (action === "switchover") {
    if (!leaderNow) throw new CtlError("This cluster has no leader");
    if (!leader) leader = force ? leaderNow : deps.prompt("Primary", leaderNow) ?? leaderNow;
    if (leader !== leaderNow) throw new CtlError(`Member ${leader} is not the leader of cluster ${scope}`);
  }
  return leader;
}

/**
 * `--candidate`, else asked unless forced (empty: none, the agents pick the healthiest replica); a failover
 * needs one. It must be a member other than the leader, not tagged nofailover.
 */
function chooseCandidate(ctx: Context, given: string | undefined, deps: SwitchoverDeps): string | undefined {
  const { action, view, leaderNow, scope, force } = ctx;
  const candidates = view.members.filter((m) => m.name !== leaderNow && !isNoFailover(m.data.tags ?? {})).map(
    (m) => m.name,
  )
    .sort();
  if (candidates.length === 0) throw new CtlError(`No candidates found to ${action} to`);
  let candidate = given;
  if (candidate === undefined && !force) {
    candidate = deps.prompt(`Candidate ['${candidates.join("', '")}']`, "") ?? "";
  }
  if (candidate === "") candidate = undefined;
  if (action === "failover" && !candidate) {
    throw new CtlError("Failover could be performed only to a specific candidate");
  }
  if (candidate && candidate === leaderNow) {
    throw new CtlError(`Member ${candidate} is already the leader of cluster ${scope}`);
  }
  if (candidate && !candidates.includes(candidate)) {
    throw new CtlError(`Member ${candidate} does not exist in cluster ${scope} or is tagged as nofailover`);
  }
  return candidate;
}

/** `--scheduled`, else asked unless forced (default now): an ISO 8601 time with offset, or null for now. */
function chooseSchedule(ctx: Context, given: string | undefined, deps: SwitchoverDeps): string | null {
  let when = given;
  if (when === undefined && !ctx.force) {
    when =
      deps.prompt("When should the switchover take place (e.g. " + isoMinute(deps.now()) + " ) ", "now") ??
        "now";
  }
  if (!when || when === "now") return null;
  const at = parseScheduled(when);
  if (at === null) {
    throw new CtlError(
      `Unable to parse scheduled timestamp (${when}). It should be in an unambiguous format (e.g. ISO 8601)`,
    );
  }
  if (ctx.view.config?.value.pause === true) {
    throw new CtlError("Can't schedule switchover in the paused state");
  }
  return at;
}

/** patronictl's confirmation; declined: `Aborting [scheduled] <action>`. */
function confirmSwitchover(ctx: Context, scheduled: string | null, deps: SwitchoverDeps): void {
  const { action, scope, leaderNow } = ctx;
  const question = scheduled
    ? `Are you sure you want to schedule switchover of cluster ${scope} at ${scheduled}, demoting current leader ${leaderNow}?`
    : `Are you sure you want to ${action} cluster ${scope}${
      leaderNow ? `, demoting current leader ${leaderNow}` : ""
    }?`;
  if (!deps.confirm(question)) {
    throw new CtlError(scheduled ? `Aborting scheduled ${action}` : `Aborting ${action}`);
  }
}

/**
 * POST the request to the leader (the candidate when there is no leader) and print its answer; when the REST API
 * cannot be reached, write the `failover` key instead. False when the member refused or the outcome is unknown.
 */
async function send(
  ctx: Context,
  body: Record<string, unknown>,
  deps: SwitchoverDeps,
): Promise<boolean> {
  const { action, view, settings, scope, leaderNow } = ctx;
  const target = view.members.find((m) => m.name === (leaderNow ?? body.candidate));
  try {
    if (!target?.data.api_url) throw new Error("no REST API address");
    // The leader watches etcd for the outcome before it answers: wait for that and a little more.
    const timeoutMs = switchoverRequestTimeoutMs(normalizeDynamic(view.config?.value ?? {}).settings);
    const res = await deps.post(
      new URL(`/${action}`, target.data.api_url).toString(),
      body,
      settings,
      timeoutMs,
    );
    if (res.status === 200 || res.status === 202) {
      deps.out(`${formatCtlTimestamp(deps.now())} ${res.text}\n`);
      return true;
    }
    const kind = res.text.includes("status unknown") ? "result unknown" : "failed";
    deps.out(
      `${action[0]!.toUpperCase()}${action.slice(1)} ${kind}, details: ${res.status}, ${res.text}\n`,
    );
    return false;
  } catch {
    deps.out(
      `${formatCtlTimestamp(deps.now())} Could not ${action} using Patroni api, falling back to DCS\n`,
    );
    const value: Record<string, unknown> = {};
    if (body.leader) value.leader = body.leader;
    if (body.candidate) value.member = body.candidate;
    if (body.scheduled_at) value.scheduled_at = body.scheduled_at;
    await deps.writeFailoverKey(settings, scope, value);
    return true;
  }
}

function isoMinute(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${
    p(d.getMinutes())
  }`;
}
