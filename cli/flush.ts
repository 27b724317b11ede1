/**
 * `hactl flush [CLUSTER] [MEMBER...] restart|switchover [-r ROLE] [--force]`, as patronictl's: forget scheduled
 * restarts (`DELETE /restart` on the members that have one) or the scheduled switchover (`DELETE /switchover`,
 * leader first; when no member answers, the `failover` key is cleared in etcd directly). Soft failures print
 * `Failed: ...` and exit 0.
 *
 * @module
 */
import { createEtcdDcs } from "../src/dcs/etcd.ts";
import type { Member } from "../src/core/types.ts";
import {
  CTL_GLOBAL_HELP,
  CtlError,
  ctlOptionsFrom,
  type CtlSettings,
  loadCtlConfig,
  requireEtcd,
} from "./lib/config.ts";
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
  const dcs = createEtcdDcs({
    etcd: requireEtcd(settings),
    namespace: settings.namespace,
    scope,
    name: "hactl-ctl",
    retryTimeout: settings.retryTimeout,
    ttl: settings.ttl,
  });
  try {
    await dcs.setFailover({});
  } finally {
    await dcs.close();
  }
}

export const REAL_FLUSH_DEPS: FlushDeps = { ...REAL_MEMBER_DEPS, clearFailoverKey };

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}.${p(d.getMilliseconds() * 100, 5)}`;
}

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: FlushDeps = REAL_FLUSH_DEPS,
): Promise<number> {
  return await runCtl({
    usage: USAGE,
    help: HELP,
    args,
    options: { role: { type: "string", short: "r" }, force: { type: "boolean" }, group: { type: "string" } },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const target = positionals.at(-1);
      if (target !== "restart" && target !== "switchover") {
        throw new CtlError(
          `the last argument must be 'restart' or 'switchover'${target ? `, not '${target}'` : ""}`,
        );
      }
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const force = values.force === true;
      const role = parseRole(values.role);
      const { scope, view, names } = await clusterAndNames(settings, positionals.slice(0, -1), deps);
      if (target === "restart") {
        const members = selectMembers(view, scope, names, role, values.role !== undefined, force, deps.out);
        confirmOrAbort(
          deps,
          force,
          `Are you sure you want to flush scheduled restart of members ${
            members.map((m) => m.name).join(", ")
          }?`,
          "flush",
        );
        for (const m of members) {
          if (!m.data.scheduled_restart) {
            deps.out(`No scheduled restart for member ${m.name}\n`);
            continue;
          }
          try {
            const res = await deps.request("DELETE", memberUrl(m, "/restart"), undefined, settings);
            if (res.status === 200) deps.out(`Success: flush scheduled restart for member ${m.name}\n`);
            else {
              deps.out(
                `Failed: flush scheduled restart for member ${m.name}, status code=${res.status}, (${res.text})\n`,
              );
            }
          } catch (err) {
            deps.out(
              `Failed: flush scheduled restart for member ${m.name}, (${
                err instanceof Error ? err.message : err
              })\n`,
            );
          }
        }
        return 0;
      }
      if (!view.failover?.scheduledAt) {
        deps.out("No pending scheduled switchover\n");
        return 0;
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
            return 0;
          }
          if (res.status === 404) {
            deps.out("Failed: no switchover is scheduled\n");
            return 0;
          }
          deps.out(`Failed: member=${m.name}, status_code=${res.status}, (${res.text})\n`);
        } catch {
          // try the next member
        }
      }
      deps.out(`${timestamp(new Date())} Could not find any accessible member of cluster ${scope}\n`);
      await deps.clearFailoverKey(settings, scope);
      return 0;
    },
  });
}
