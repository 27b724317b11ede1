/**
 * `hactl restart [CLUSTER] [MEMBER...] [-r ROLE] [--any] [--pg-version V] [--pending] [--timeout T]
 * [--scheduled TS] [--force]`, as patronictl's: ask when (default now) and for a version condition unless forced,
 * confirm, then `POST /restart` on each selected member (the leader restarts in place and keeps its key). A
 * refused or unreachable member prints `Failed: ...` and the command exits 1 (0 with `--patroni-compat`, as
 * patronictl).
 *
 * @module
 */
import { parsePgVersion } from "../src/core/restart.ts";
import { normalizeDynamic } from "../src/config/config.ts";
import type { Member } from "../src/core/types.ts";
import { CTL_GLOBAL_HELP, CtlError, type CtlSettings } from "./lib/config.ts";
import {
  confirmOrAbort,
  forEachMember,
  type MemberCommandDeps,
  memberNames,
  type MemberTarget,
  memberUrl,
  refusedLine,
  runMemberCommand,
  targetMembers,
} from "./lib/targets.ts";
import { failedExit } from "./lib/exit.ts";
import { REAL_MEMBER_DEPS } from "./lib/member_deps.ts";
import { parseScheduled } from "./lib/schedule.ts";

const USAGE = "Usage: hactl restart [OPTIONS] [CLUSTER_NAME] [MEMBER_NAMES]...";
const HELP = [
  USAGE,
  "",
  "  Restart Postgres on members, now or at a scheduled time. The leader restarts in place and keeps the leader",
  "  key (no failover).",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -r, --role ROLE          Restart only members with this role: leader, primary, standby-leader, replica,",
  "                           standby or any (the default)",
  "  --any                    Restart one member chosen at random among the selected ones",
  "  --pg-version VERSION     Restart only when the running PostgreSQL is older than VERSION (X.Y or X.Y.Z)",
  "  --pending                Restart only members with a pending restart",
  "  --timeout SECONDS        How long a restarted leader may stay down before it gives up the leader key",
  "                           (instead of primary_start_timeout; units allowed: 30s, 2min)",
  "  --scheduled TIMESTAMP    When to restart (ISO 8601, local time unless a zone is given; 'now' = at once)",
  "  --force                  Do not ask; with --scheduled, replace a restart already scheduled",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

/** The example in the schedule question: the next full hour, local time (`2024-05-01T13:00`). */
function nextHour(wallNow: number): string {
  const d = new Date(wallNow + 3600_000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:00`;
}

const OPTIONS = {
  any: { type: "boolean" },
  "pg-version": { type: "string" },
  pending: { type: "boolean" },
  timeout: { type: "string" },
  scheduled: { type: "string" },
} as const;

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: MemberCommandDeps = REAL_MEMBER_DEPS,
): Promise<number> {
  return await runMemberCommand({
    usage: USAGE,
    help: HELP,
    args,
    env,
    deps,
    options: OPTIONS,
    body: (target, values) => restart(target, values, deps),
  });
}

/** Select, ask (when, confirm, version), then restart each member; 1 when a member refused (see failedExit). */
async function restart(
  target: MemberTarget,
  values: Record<string, unknown>,
  deps: MemberCommandDeps,
): Promise<number> {
  const selected = targetMembers(target, deps.out);
  const schedule = askSchedule(values.scheduled, target.force, deps);
  const pending = values.pending === true;
  const members = narrowMembers(selected, pending && schedule === null, values.any === true, deps);
  if (schedule === null && members.length === 0) {
    deps.out("No members to restart\n");
    return 0;
  }
  confirmRestart(members, schedule, pending, target.force, deps);
  const version = askVersion(values["pg-version"], target.force, deps);
  const content = restartRequest(values, version, schedule, pending, target);
  const ok = await restartEach(members, content, schedule !== null && target.force, target.settings, deps);
  return ok ? 0 : failedExit(values, target.env);
}

/** `--scheduled`, else asked (unless forced; default now): an ISO 8601 time with offset, or null for now. */
function askSchedule(value: unknown, force: boolean, deps: MemberCommandDeps): string | null {
  let scheduled = typeof value === "string" ? value : undefined;
  if (scheduled === undefined && !force) {
    scheduled = deps.prompt(`When should the restart take place (e.g. ${nextHour(Date.now())}) `, "now") ??
      "now";
  }
  if (scheduled === undefined || scheduled.trim() === "" || scheduled.trim().toLowerCase() === "now") {
    return null;
  }
  const schedule = parseScheduled(scheduled);
  if (schedule === null) {
    throw new CtlError(
      `Unable to parse scheduled timestamp (${scheduled}). It should be in an unambiguous format (e.g. ISO 8601)`,
    );
  }
  return schedule;
}

/**
 * For an immediate restart, `--pending` keeps the members whose key says a restart is pending now; `--any`
 * then keeps one of them at random.
 */
function narrowMembers(
  members: Member[],
  pendingNow: boolean,
  any: boolean,
  deps: MemberCommandDeps,
): Member[] {
  let chosen = members;
  if (pendingNow) chosen = chosen.filter((m) => m.data.pending_restart === true);
  if (any && chosen.length > 0) chosen = [chosen[Math.floor(deps.random() * chosen.length)]!];
  return chosen;
}

/** patronictl's confirmation, worded for a restart now or a scheduled one. */
function confirmRestart(
  members: Member[],
  schedule: string | null,
  pending: boolean,
  force: boolean,
  deps: MemberCommandDeps,
): void {
  const list = memberNames(members);
  if (schedule === null) {
    confirmOrAbort(deps, force, `Are you sure you want to restart members ${list}?`, "restart");
  } else if (pending) {
    confirmOrAbort(
      deps,
      force,
      `Are you sure you want to schedule restart of members ${list} at ${schedule}? ` +
        "(the members needing a restart are chosen at the scheduled time)",
      "scheduled restart",
    );
  } else {
    confirmOrAbort(
      deps,
      force,
      `Are you sure you want to schedule restart of members ${list} at ${schedule}?`,
      "scheduled restart",
    );
  }
}

/** `--pg-version`, else asked unless forced (an empty answer: no version condition). */
function askVersion(value: unknown, force: boolean, deps: MemberCommandDeps): string {
  let version = typeof value === "string" ? value : undefined;
  if (version === undefined && !force) {
    version = deps.prompt("Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ", "") ?? "";
  }
  return version ?? "";
}

/** The `POST /restart` body; refuses a malformed version and a schedule while the cluster is paused. */
function restartRequest(
  values: Record<string, unknown>,
  version: string,
  schedule: string | null,
  pending: boolean,
  target: MemberTarget,
): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (pending) content.restart_pending = true;
  if (version) {
    if (!/^\s*\d+\.\d+(\.\d+)?\s*$/.test(version)) {
      throw new CtlError(`Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${version}`);
    }
    if (parsePgVersion(version) === null) throw new CtlError(`Invalid PostgreSQL version: ${version}`);
    content.postgres_version = version.trim();
  }
  if (schedule !== null) {
    if (normalizeDynamic(target.view.config?.value ?? {}).settings.pause) {
      throw new CtlError("Can't schedule restart in the paused state");
    }
    content.schedule = schedule;
  }
  if (typeof values.timeout === "string") content.timeout = values.timeout;
  return content;
}

/**
 * `POST /restart` to each member and report each answer; with `replaceScheduled` (a forced scheduled restart),
 * a member's scheduled restart is deleted first.
 */
async function restartEach(
  members: Member[],
  content: Record<string, unknown>,
  replaceScheduled: boolean,
  settings: CtlSettings,
  deps: MemberCommandDeps,
): Promise<boolean> {
  return await forEachMember(members, "restart", deps.out, async (m) => {
    if (replaceScheduled && m.data.scheduled_restart) {
      const del = await deps.request("DELETE", memberUrl(m, "/restart"), undefined, settings);
      if (del.status !== 200) deps.out(refusedLine("flush scheduled restart", m.name, del));
    }
    const res = await deps.request("POST", memberUrl(m, "/restart"), content, settings);
    if (res.status === 200) deps.out(`Success: restart on member ${m.name}\n`);
    else if (res.status === 202) deps.out(`Success: restart scheduled on member ${m.name}\n`);
    else if (res.status === 409) {
      deps.out(`Failed: another restart is already scheduled on member ${m.name}\n`);
      return false;
    } else {
      deps.out(refusedLine("restart", m.name, res));
      return false;
    }
    return true;
  });
}
