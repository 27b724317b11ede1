/**
 * `hactl flush [CLUSTER] [MEMBER...] restart|switchover [-r ROLE] [--force]`, as patronictl's: forget scheduled
 * restarts (`DELETE /restart` on the members that have one) or the scheduled switchover (`DELETE /switchover`,
 * leader first; when no member answers, the `failover` key is cleared in etcd directly). A refused request
 * prints `Failed: ...` and the command exits 1 (0 with `--patroni-compat`, as patronictl).
 *
 * @module
 */
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
import { REAL_MEMBER_DEPS } from "./lib/member_deps.ts";
import { failedExit } from "./lib/exit.ts";
import { formatCtlTimestamp } from "./lib/cluster.ts";
import { openCtlDcs } from "./lib/dcs.ts";

const USAGE = "Usage: hactl flush [OPTIONS] [CLUSTER_NAME] [MEMBER_NAMES]... {restart|switchover}";
const HELP = [
  USAGE,
  "",
  "  Discard scheduled events: 'restart' forgets the scheduled restarts of the selected members, 'switchover' the",
  "  scheduled switchover of the cluster.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -r, --role ROLE          Only members with this role: leader, primary, standby-leader, replica,",
  "                           standby or any (the default)",
  "  --force                  Do not ask for confirmation",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

export interface FlushDeps extends MemberCommandDeps {
  /** Clear the `failover` key directly (no member answered). */
  clearFailoverKey(settings: CtlSettings, scope: string): Promise<void>;
}

async function clearFailoverKey(settings: CtlSettings, scope: string): Promise<void> {
  const dcs = openCtlDcs(settings, scope);
  try {
    await dcs.setFailover({});
  } finally {
    await dcs.close();
  }
}

export const REAL_FLUSH_DEPS: FlushDeps = { ...REAL_MEMBER_DEPS, clearFailoverKey };

type FlushTarget = "restart" | "switchover";

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: FlushDeps = REAL_FLUSH_DEPS,
): Promise<number> {
  return await runMemberCommand({
    usage: USAGE,
    help: HELP,
    args,
    env,
    deps,
    // The last positional says what to flush (checked before anything is read); the ones before it name the
    // cluster and the members.
    memberPositionals: (positionals) => {
      flushTarget(positionals.at(-1));
      return positionals.slice(0, -1);
    },
    body: async (target, values, positionals) => {
      const ok = flushTarget(positionals.at(-1)) === "restart"
        ? await flushRestarts(target, deps)
        : await flushSwitchover(target, deps);
      return ok ? 0 : failedExit(values, target.env);
    },
  });
}

/** The last positional: what to flush. */
function flushTarget(last: string | undefined): FlushTarget {
  if (last !== "restart" && last !== "switchover") {
    throw new CtlError(`the last argument must be 'restart' or 'switchover'${last ? `, not '${last}'` : ""}`);
  }
  return last;
}

/** Select, confirm, then `DELETE /restart` on each selected member that has a scheduled restart. */
async function flushRestarts(target: MemberTarget, deps: FlushDeps): Promise<boolean> {
  const members = targetMembers(target, deps.out);
  confirmOrAbort(
    deps,
    target.force,
    `Are you sure you want to flush scheduled restart of members ${memberNames(members)}?`,
    "flush",
  );
  return await forEachMember(members, "flush scheduled restart", deps.out, async (m) => {
    if (!m.data.scheduled_restart) {
      deps.out(`No scheduled restart for member ${m.name}\n`);
      return true;
    }
    const res = await deps.request("DELETE", memberUrl(m, "/restart"), undefined, target.settings);
    if (res.status === 200) {
      deps.out(`Success: flush scheduled restart for member ${m.name}\n`);
      return true;
    }
    deps.out(refusedLine("flush scheduled restart", m.name, res));
    return false;
  });
}

/**
 * `DELETE /switchover` on the leader first, then the other members, until one answers; when none does, clear
 * the `failover` key directly.
 */
async function flushSwitchover(target: MemberTarget, deps: FlushDeps): Promise<boolean> {
  const { view, scope, settings } = target;
  if (!view.failover?.scheduledAt) {
    deps.out("No pending scheduled switchover\n");
    return true;
  }
  const leaderFirst: Member[] = [
    ...view.members.filter((m) => m.name === view.leader?.name),
    ...view.members.filter((m) => m.name !== view.leader?.name),
  ];
  for (const m of leaderFirst) {
    try {
      const res = await deps.request("DELETE", memberUrl(m, "/switchover"), undefined, settings);
      if (res.status === 200) {
        deps.out("Success: scheduled switchover deleted\n");
        return true;
      }
      if (res.status === 404) {
        deps.out("Failed: no switchover is scheduled\n");
        return false;
      }
      deps.out(`Failed: member=${m.name}, status_code=${res.status}, (${res.text})\n`);
    } catch {
      // try the next member
    }
  }
  deps.out(`${formatCtlTimestamp(new Date())} Could not find any accessible member of cluster ${scope}\n`);
  await deps.clearFailoverKey(settings, scope);
  return true;
}
