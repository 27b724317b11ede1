/**
 * What `hactl restart`, `reload` and `flush` share, as patronictl's member-targeting commands: their frame
 * ({@linkcode runMemberCommand}: common options, reading the ctl configuration and the cluster), the cluster name
 * (first positional, or the configuration's `scope` when the first positional is a member), the member table, the
 * `-r/--role` filter, the confirmation, the per-member soft failures and the errors patronictl gives.
 *
 * No I/O of its own: the world comes in through the deps it is given (and the ctl configuration reader).
 * May import: src/core, cli/lib.
 *
 * @module
 */
import { renderList } from "./cluster_table.ts";
import type { ClusterView, Member } from "../../src/core/types.ts";
import { CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./config.ts";
import { CtlUsageError, runCtl } from "./command.ts";
import type { ParseArgsOptionsConfig } from "node:util";

/** What member-targeting commands need from the world; tests replace it. */
export interface MemberCommandDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  /** A REST call to a member; throws when it cannot be reached. */
  request(
    method: "POST" | "DELETE",
    url: string,
    body: unknown,
    settings: CtlSettings,
  ): Promise<{ status: number; text: string }>;
  confirm(message: string): boolean;
  /** A question with a default (returned for an empty answer); null at end of input. */
  prompt(message: string, defaultValue: string): string | null;
  out(text: string): void;
  err(text: string): void;
  /** A number in [0, 1) (`--any`). */
  random(): number;
}

/** `-r/--role` values patronictl accepts. */
export const ROLES = ["leader", "primary", "standby-leader", "replica", "standby", "any"] as const;
export type RoleFilter = typeof ROLES[number];

export function parseRole(value: unknown): RoleFilter {
  if (value === undefined) return "any";
  const v = String(value).toLowerCase();
  const role = v === "master" ? "primary" : v;
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new CtlUsageError(
      `Invalid value for '-r' / '--role': '${value}' is not one of ${ROLES.join(", ")}`,
    );
  }
  return role as RoleFilter;
}

function isStandbyCluster(view: ClusterView): boolean {
  const sc = view.config?.value?.standby_cluster;
  return typeof sc === "object" && sc !== null && Object.keys(sc).length > 0;
}

/** Whether a member has the role the filter asks for. */
export function memberHasRole(view: ClusterView, member: Member, role: RoleFilter): boolean {
  const isLeader = view.leader?.name === member.name;
  switch (role) {
    case "any":
      return true;
    case "leader":
      return isLeader;
    case "primary":
      return isLeader && !isStandbyCluster(view);
    case "standby-leader":
      return isLeader && isStandbyCluster(view);
    case "replica":
    case "standby":
      return !isLeader;
  }
}

/**
 * Split the positionals into the cluster name and the member names, and read the cluster. patronictl takes the
 * cluster name first; hactl also accepts members only when the configuration names the scope.
 */
export async function clusterAndNames(
  settings: CtlSettings,
  positionals: string[],
  deps: Pick<MemberCommandDeps, "loadCluster">,
): Promise<{ scope: string; view: ClusterView; names: string[] }> {
  let scope = settings.scope;
  let names = positionals;
  const view0 = scope ? await deps.loadCluster(settings, scope) : null;
  if (
    !view0 || (names.length > 0 && names[0] === scope) ||
    (names.length > 0 && !view0.members.some((m) => m.name === names[0]))
  ) {
    if (names.length === 0) throw new CtlError("no cluster name given and no scope in the configuration");
    scope = names[0]!;
    names = names.slice(1);
  }
  const view = view0 && scope === settings.scope ? view0 : await deps.loadCluster(settings, scope!);
  return { scope: scope!, view, names };
}

/**
 * patronictl's `get_members`: print the member table (unless `--force` without a role), then keep the members
 * named (all when none) that have the role. Throws patronictl's errors.
 */
export function selectMembers(
  view: ClusterView,
  scope: string,
  names: string[],
  role: RoleFilter,
  roleGiven: boolean,
  force: boolean,
  out: (text: string) => void,
): Member[] {
  if (view.members.length === 0) throw new CtlError(`${scope} cluster doesn't have any members`);
  if (!force || roleGiven) out(renderList(view, scope, { format: "pretty", extended: false }));
  for (const name of names) {
    if (!view.members.some((m) => m.name === name)) throw new CtlError(`${name} is not a member of cluster`);
  }
  const named = names.length > 0 ? view.members.filter((m) => names.includes(m.name)) : view.members;
  const chosen = named.filter((m) => memberHasRole(view, m, role));
  if (chosen.length === 0) throw new CtlError(`No ${role} among provided members`);
  return [...chosen].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The URL of an endpoint on a member's REST API (its `api_url` with the path replaced). */
export function memberUrl(member: Member, path: string): string {
  return new URL(path, String(member.data.api_url)).toString();
}

/** `Are you sure ...?` unless forced; patronictl's `Aborted <action>` when declined. */
export function confirmOrAbort(
  deps: MemberCommandDeps,
  force: boolean,
  message: string,
  action: string,
): void {
  if (force) return;
  if (!deps.confirm(message)) throw new CtlError(`Aborted ${action}`);
}

/** The options `restart`, `reload` and `flush` share besides the global ones (`--group`: accepted, not used). */
export const MEMBER_OPTIONS = {
  role: { type: "string", short: "r" },
  force: { type: "boolean" },
  group: { type: "string" },
} as const;

/** A member-targeting command's cluster and selection, once its options and positionals are read. */
export interface MemberTarget {
  settings: CtlSettings;
  scope: string;
  view: ClusterView;
  /** The member names given after the cluster name (none: all members). */
  names: string[];
  role: RoleFilter;
  /** `-r/--role` was given: the member table is printed even with `--force`. */
  roleGiven: boolean;
  force: boolean;
  /** The environment the command runs in (`HACTL_PATRONI_COMPAT`). */
  env: Record<string, string>;
}

/**
 * The preamble `restart`, `reload` and `flush` share: read the ctl configuration (global options), check
 * `-r/--role`, then split the positionals into cluster and member names and read the cluster.
 */
export async function loadMemberTarget(
  values: Record<string, unknown>,
  positionals: string[],
  env: Record<string, string>,
  deps: Pick<MemberCommandDeps, "loadCluster">,
): Promise<MemberTarget> {
  const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
  const role = parseRole(values.role);
  const force = values.force === true;
  const { scope, view, names } = await clusterAndNames(settings, positionals, deps);
  return { settings, scope, view, names, role, roleGiven: values.role !== undefined, force, env };
}

/** A member-targeting command for {@linkcode runMemberCommand}. */
export interface MemberCommand {
  /** `Usage: hactl <name> [OPTIONS] ...`, repeated in usage errors. */
  usage: string;
  help: string;
  args: string[];
  env: Record<string, string>;
  deps: MemberCommandDeps;
  /** Options besides {@linkcode MEMBER_OPTIONS} and the global ones. */
  options?: ParseArgsOptionsConfig;
  /**
   * Check the positionals before anything is read and return those naming the cluster and its members (all of
   * them when not given). Throws `CtlError`.
   */
  memberPositionals?(positionals: string[]): string[];
  /** The command itself, once the target is read; returns the exit code. */
  body(target: MemberTarget, values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

/**
 * The frame of `restart`, `reload` and `flush`: {@linkcode runCtl} with the shared options, then the shared
 * preamble ({@linkcode loadMemberTarget}), then the command's body.
 */
export async function runMemberCommand(c: MemberCommand): Promise<number> {
  return await runCtl({
    usage: c.usage,
    help: c.help,
    args: c.args,
    options: { ...MEMBER_OPTIONS, ...c.options },
    out: c.deps.out,
    err: c.deps.err,
    body: async (values, positionals) => {
      const names = c.memberPositionals ? c.memberPositionals(positionals) : positionals;
      const target = await loadMemberTarget(values, names, c.env, c.deps);
      return await c.body(target, values, positionals);
    },
  });
}

/** {@linkcode selectMembers} for a target: print the member table, keep the named members having the role. */
export function targetMembers(target: MemberTarget, out: (text: string) => void): Member[] {
  const { view, scope, names, role, roleGiven, force } = target;
  return selectMembers(view, scope, names, role, roleGiven, force, out);
}

/** The members' names as patronictl lists them in its questions: `pg1, pg2`. */
export function memberNames(members: Member[]): string {
  return members.map((m) => m.name).join(", ");
}

/** patronictl's line for a member that answered with an error: `Failed: <what> for member <name>, status code=...`. */
export function refusedLine(what: string, name: string, res: { status: number; text: string }): string {
  return `Failed: ${what} for member ${name}, status code=${res.status}, (${res.text})\n`;
}

/** patronictl's line for a member that could not be asked: `Failed: <what> for member <name>, (<reason>)`. */
export function unreachableLine(what: string, name: string, err: unknown): string {
  return `Failed: ${what} for member ${name}, (${err instanceof Error ? err.message : err})\n`;
}

/**
 * Act on each member in turn; when `act` throws (the member cannot be reached), print {@linkcode unreachableLine}
 * and go on with the next one, as patronictl does. `act` returns false when the member refused. Returns true
 * when every member was reached and none refused.
 */
export async function forEachMember(
  members: Member[],
  what: string,
  out: (text: string) => void,
  act: (member: Member) => Promise<boolean | void>,
): Promise<boolean> {
  let ok = true;
  for (const m of members) {
    try {
      if ((await act(m)) === false) ok = false;
    } catch (err) {
      out(unreachableLine(what, m.name, err));
      ok = false;
    }
  }
  return ok;
}
