/**
 * `hactl reload [CLUSTER] [MEMBER...] [-r ROLE] [--force]`, as patronictl's: `POST /reload` on each selected
 * member, which re-reads its local configuration and reloads Postgres. A refused or unreachable member prints
 * `Failed: ...` and the command exits 1 (0 with `--patroni-compat`, as patronictl).
 *
 * @module
 */
import { normalizeDynamic } from "../src/config/config.ts";
import { CTL_GLOBAL_HELP } from "./lib/config.ts";
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

const USAGE = "Usage: hactl reload [OPTIONS] [CLUSTER_NAME] [MEMBER_NAMES]...";
const HELP = [
  USAGE,
  "",
  "  Reload the configuration of members: each re-reads its local YAML (and PATRONI_* variables), applies what",
  "  can change live and reloads Postgres.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -r, --role ROLE          Reload only members with this role: leader, primary, standby-leader, replica,",
  "                           standby or any (the default)",
  "  --force                  Do not ask for confirmation",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

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
    body: (t, values) => reload(t, values, deps),
  });
}

/**
 * Select, confirm, then `POST /reload` to each member and report each answer; exit 1 when a member refused or
 * could not be reached (0 with `--patroni-compat`).
 */
async function reload(
  target: MemberTarget,
  values: Record<string, unknown>,
  deps: MemberCommandDeps,
): Promise<number> {
  const members = targetMembers(target, deps.out);
  confirmOrAbort(
    deps,
    target.force,
    `Are you sure you want to reload members ${memberNames(members)}?`,
    "reload",
  );
  const loopWait = normalizeDynamic(target.view.config?.value ?? {}).settings.loopWait;
  const ok = await forEachMember(members, "reload", deps.out, async (m) => {
    const res = await deps.request("POST", memberUrl(m, "/reload"), {}, target.settings);
    if (res.status === 200) deps.out(`No changes to apply on member ${m.name}\n`);
    else if (res.status === 202) {
      deps.out(
        `Reload request received for member ${m.name} and will be processed within ${loopWait} seconds\n`,
      );
    } else {
      deps.out(refusedLine("reload", m.name, res));
      return false;
    }
    return true;
  });
  return ok ? 0 : failedExit(values, target.env);
}
