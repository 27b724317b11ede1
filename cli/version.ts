/**
 * `hactl version [CLUSTER [MEMBER...]]`: print the hactl version (and the Patroni version it advertises), then the Deno, V8 and TypeScript versions
 * the binary runs on; with a cluster name, also each member's agent and PostgreSQL version from its `GET /patroni`, as patronictl's
 * `version`: `<name>: <agent> <version> PostgreSQL <X.Y>` (the agent is `hactl` when the member's REST API
 * says so in its `Server` header, else `Patroni`; an hactl member's version is its `patroni.hactl_version`), or `<name>: failed to get version: <error>`.
 *
 * @module
 */
import type { ClusterView } from "../src/core/types.ts";
import { HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../src/core/types.ts";
import { HACTL_COMMIT } from "../src/core/version.ts";
import { CTL_GLOBAL_HELP, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { runCtl } from "./lib/command.ts";
import { ctlRequest } from "./lib/http.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { writeErr, writeOut } from "./lib/io.ts";

export interface VersionDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  /** GET a member's REST API URL: the JSON body and the `Server` header. Throws when unreachable. */
  getStatus(url: string, settings: CtlSettings): Promise<{ body: unknown; server: string | null }>;
  out(text: string): void;
  err(text: string): void;
}

/** A member's `GET /patroni`, without credentials (it needs none). */
async function getStatus(
  url: string,
  settings: CtlSettings,
): Promise<{ body: unknown; server: string | null }> {
  const res = await ctlRequest("GET", url, undefined, settings, 5000);
  return { body: JSON.parse(res.text), server: res.server };
}

export const REAL_DEPS: VersionDeps = {
  loadCluster: loadClusterFromEtcd,
  getStatus,
  out: writeOut,
  err: writeErr,
};

const HELP = [
  "Usage: hactl version [OPTIONS] [CLUSTER_NAME] [MEMBER_NAMES]...",
  "",
  "  Print the hactl version and the Deno, V8 and TypeScript versions it runs on; with a cluster name, also the agent and PostgreSQL version of its members",
  "  (all, or the ones named), asked through their REST API.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

/** PostgreSQL's `server_version_num` as patronictl prints it: 90624 -> 9.6.24, 150008 -> 15.8. */
export function formatPgVersion(version: number): string {
  if (version < 100000) {
    return `${Math.floor(version / 10000)}.${Math.floor(version / 100) % 100}.${version % 100}`;
  }
  return `${Math.floor(version / 10000)}.${version % 100}`;
}

export async function run(
  args: string[],
  env: Record<string, string> = {},
  deps: VersionDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage:
      "Usage: hactl version [OPTIONS] [CLUSTER_NAME] [MEMBER_NAMES]...\nTry 'hactl version --help' for help.",
    help: HELP,
    args,
    options: {},
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      deps.out(
        `hactl version ${HACTL_VERSION} (commit ${HACTL_COMMIT}, Patroni-compatible ${PATRONI_COMPATIBLE_VERSION})\n` +
          `${runtimeVersions()}\n`,
      );
      const [scope, ...names] = positionals;
      if (!scope) return 0;
      deps.out("\n");
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      const view = await deps.loadCluster(settings, scope);
      for (const m of view.members) {
        if (!m.data.api_url || (names.length > 0 && !names.includes(m.name))) continue;
        try {
          const { body, server } = await deps.getStatus(m.data.api_url, settings);
          const doc = (body ?? {}) as {
            patroni?: { version?: unknown; hactl_version?: unknown };
            server_version?: unknown;
          };
          const agent = server?.startsWith("hactl/") ? "hactl" : "Patroni";
          const pg = typeof doc.server_version === "number" && doc.server_version > 0
            ? ` PostgreSQL ${formatPgVersion(doc.server_version)}`
            : "";
          const version = agent === "hactl" && doc.patroni?.hactl_version !== undefined
            ? String(doc.patroni.hactl_version)
            : String(doc.patroni?.version);
          deps.out(`${m.name}: ${agent} ${version}${pg}\n`);
        } catch (err) {
          deps.out(`${m.name}: failed to get version: ${err instanceof Error ? err.message : err}\n`);
        }
      }
      return 0;
    },
  });
}

/** `deno 2.9.6, v8 13.0.245.12-rusty, typescript 5.6.2`: the runtime compiled into the binary. */
export function runtimeVersions(): string {
  return `deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript}`;
}
