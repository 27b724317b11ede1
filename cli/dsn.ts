/**
 * `hactl dsn [CLUSTER] [-r ROLE | -m MEMBER]`: print `host=<h> port=<p>` for a member (the leader by default),
 * taken from the `conn_url` in its member key, as patronictl's `dsn`.
 *
 * @module
 */
import type { ClusterView } from "../src/core/types.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { runCtl } from "./lib/command.ts";
import { anyMember, memberConnParams, parseRole } from "./lib/members.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { writeErr, writeOut } from "./lib/io.ts";

export interface DsnDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  out(text: string): void;
  err(text: string): void;
}

const REAL_DEPS: DsnDeps = { loadCluster: loadClusterFromEtcd, out: writeOut, err: writeErr };

const HELP = [
  "Usage: hactl dsn [OPTIONS] [CLUSTER_NAME]",
  "",
  "  Print a libpq connection string (host=... port=...) for a member, by default the leader.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -r, --role ROLE          A member with this role: leader (default), primary, standby-leader,",
  "                           replica, standby, any",
  "  -m, --member NAME        This member (not together with --role)",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: DsnDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: "Usage: hactl dsn [OPTIONS] [CLUSTER_NAME]\nTry 'hactl dsn --help' for help.",
    help: HELP,
    args,
    options: { role: { type: "string", short: "r" }, member: { type: "string", short: "m" } },
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      const role = parseRole(values.role);
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      if (positionals.length > 1) throw new CtlError(`Got unexpected extra argument (${positionals[1]})`);
      const scope = positionals[0] ?? settings.scope;
      if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
      const member = values.member as string | undefined;
      if (member !== undefined && role !== undefined) {
        throw new CtlError("--role and --member are mutually exclusive options");
      }
      const view = await deps.loadCluster(settings, scope);
      const m = anyMember(view, role, member);
      const params = m ? memberConnParams(m) : null;
      if (!params) throw new CtlError("Can not find a suitable member");
      deps.out(`host=${params.host} port=${params.port}\n`);
      return 0;
    },
  });
}
