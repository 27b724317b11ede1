/**
 * `hactl reload [CLUSTER] [MEMBER...] [-r ROLE] [--force]`, as patronictl's: `POST /reload` on each selected
 * member, which re-reads its local configuration and reloads Postgres. Soft failures print `Failed: ...` and exit 0,
 * as patronictl does.
 *
 * @module
 */
import { normalizeDynamic } from "../src/config/config.ts";
import { CTL_GLOBAL_HELP, ctlOptionsFrom, loadCtlConfig } from "./lib/config.ts";
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
  return await runCtl({
    usage: USAGE,
    help: HELP,
    args,
    options: { role: { type: "string", short: "r" }, force: { type: "boolean" }, group: { type: "string" } },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const role = parseRole(values.role);
      const force = values.force === true;
      const { scope, view, names } = await clusterAndNames(settings, positionals, deps);
      const members = selectMembers(view, scope, names, role, values.role !== undefined, force, deps.out);
      confirmOrAbort(
        deps,
        force,
        `Are you sure you want to reload members ${members.map((m) => m.name).join(", ")}?`,
        "reload",
      );
      const loopWait = normalizeDynamic(view.config?.value ?? {}).settings.loopWait;
      for (const m of members) {
        try {
          const res = await deps.request("POST", memberUrl(m, "/reload"), {}, settings);
          if (res.status === 200) deps.out(`No changes to apply on member ${m.name}\n`);
          else if (res.status === 202) {
            deps.out(
              `Reload request received for member ${m.name} and will be processed within ${loopWait} seconds\n`,
            );
          } else deps.out(`Failed: reload for member ${m.name}, status code=${res.status}, (${res.text})\n`);
        } catch (err) {
          deps.out(`Failed: reload for member ${m.name}, (${err instanceof Error ? err.message : err})\n`);
        }
      }
      return 0;
    },
  });
}
