/**
 * `hactl restart [CLUSTER] [MEMBER...] [-r ROLE] [--any] [--pg-version V] [--pending] [--timeout T]
 * [--scheduled TS] [--force]`, as patronictl's: ask when (default now) and for a version condition unless forced,
 * confirm, then `POST /restart` on each selected member (the leader restarts in place and keeps its key). Soft
 * failures print `Failed: ...` and exit 0, as patronictl does.
 *
 * @module
 */
import { parsePgVersion } from "../src/core/restart.ts";
import { normalizeDynamic } from "../src/config/config.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, loadCtlConfig } from "./lib/config.ts";
import { runCtl } from "./lib/command.ts";
import {
  clusterAndNames,
  confirmOrAbort,
  type MemberCommandDeps,
  memberUrl,
  parseRole,
  selectMembers,
} from "./lib/targets.ts";
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

function nextHour(wallNow: number): string {
  const d = new Date(wallNow + 3600_000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:00`;
}

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: MemberCommandDeps = REAL_MEMBER_DEPS,
): Promise<number> {
  return await runCtl({
    usage: USAGE,
    help: HELP,
    args,
    options: {
      role: { type: "string", short: "r" },
      any: { type: "boolean" },
      "pg-version": { type: "string" },
      pending: { type: "boolean" },
      timeout: { type: "string" },
      scheduled: { type: "string" },
      force: { type: "boolean" },
      group: { type: "string" },
    },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const role = parseRole(values.role);
      const force = values.force === true;
      const { scope, view, names } = await clusterAndNames(settings, positionals, deps);
      let members = selectMembers(view, scope, names, role, values.role !== undefined, force, deps.out);

      let scheduled = typeof values.scheduled === "string" ? values.scheduled : undefined;
      if (scheduled === undefined && !force) {
        scheduled =
          deps.prompt(`When should the restart take place (e.g. ${nextHour(Date.now())}) `, "now") ??
            "now";
      }
      let schedule: string | null = null;
      if (scheduled !== undefined && scheduled.trim() !== "" && scheduled.trim().toLowerCase() !== "now") {
        schedule = parseScheduled(scheduled);
        if (schedule === null) {
          throw new CtlError(
            `Unable to parse scheduled timestamp (${scheduled}). It should be in an unambiguous format (e.g. ISO 8601)`,
          );
        }
      }
      const pending = values.pending === true;
      // For an immediate restart, --pending keeps the members whose key says a restart is pending now.
      if (pending && schedule === null) members = members.filter((m) => m.data.pending_restart === true);
      if (values.any === true && members.length > 0) {
        members = [members[Math.floor(deps.random() * members.length)]!];
      }
      const list = members.map((m) => m.name).join(", ");
      if (schedule === null) {
        if (members.length === 0) {
          deps.out("No members to restart\n");
          return 0;
        }
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
      let version = typeof values["pg-version"] === "string" ? values["pg-version"] : undefined;
      if (version === undefined && !force) {
        version = deps.prompt("Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ", "") ??
          "";
      }
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
        if (normalizeDynamic(view.config?.value ?? {}).settings.pause) {
          throw new CtlError("Can't schedule restart in the paused state");
        }
        content.schedule = schedule;
      }
      if (typeof values.timeout === "string") content.timeout = values.timeout;

      for (const m of members) {
        try {
          if (schedule !== null && force && m.data.scheduled_restart) {
            const del = await deps.request("DELETE", memberUrl(m, "/restart"), undefined, settings);
            if (del.status !== 200) {
              deps.out(
                `Failed: flush scheduled restart for member ${m.name}, status code=${del.status}, (${del.text})\n`,
              );
            }
          }
          const res = await deps.request("POST", memberUrl(m, "/restart"), content, settings);
          if (res.status === 200) deps.out(`Success: restart on member ${m.name}\n`);
          else if (res.status === 202) deps.out(`Success: restart scheduled on member ${m.name}\n`);
          else if (res.status === 409) {
            deps.out(`Failed: another restart is already scheduled on member ${m.name}\n`);
          } else deps.out(`Failed: restart for member ${m.name}, status code=${res.status}, (${res.text})\n`);
        } catch (err) {
          deps.out(`Failed: restart for member ${m.name}, (${err instanceof Error ? err.message : err})\n`);
        }
      }
      return 0;
    },
  });
}
