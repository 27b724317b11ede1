/**
 * Member selection shared by `hactl dsn` and `hactl query`, as patronictl's `get_any_member`: `-r/--role`
 * (`leader`, `primary`, `standby-leader`, `replica`, `standby`, `any`) or `-m/--member`, never both; the
 * default is the leader. Also the libpq-style connection parameters of a member, taken from the `conn_url` its
 * agent publishes in its member key.
 *
 * Pure: reads a `ClusterView` only.
 *
 * @module
 */
import type { ClusterView, Member } from "../../src/core/types.ts";
import { CtlError } from "./config.ts";
import { CtlUsageError } from "./command.ts";

export const ROLE_CHOICES = ["leader", "primary", "standby-leader", "replica", "standby", "any"] as const;
export type CtlRole = typeof ROLE_CHOICES[number];
/** What click lists; `master` is Patroni 3's name for `primary`, still accepted. */
const LISTED_CHOICES = [...ROLE_CHOICES, "master"];

/** Check a `-r/--role` value (click: a usage error naming the choices). */
export function parseRole(value: unknown): CtlRole | undefined {
  if (value === undefined) return undefined;
  if (value === "master") return "primary";
  if (typeof value === "string" && (ROLE_CHOICES as readonly string[]).includes(value)) {
    return value as CtlRole;
  }
  throw new CtlUsageError(
    `Invalid value for '--role' / '-r': '${String(value)}' is not one of ${
      LISTED_CHOICES.map((r) => `'${r}'`).join(", ")
    }.`,
  );
}

/** The members having `role`, in the cluster's order (patronictl's `get_all_members`). */
export function membersWithRole(view: ClusterView, role: CtlRole): Member[] {
  const leaderName = view.leader?.name || null;
  if (role === "leader" || role === "primary" || role === "standby-leader") {
    const leader = leaderName ? view.members.find((m) => m.name === leaderName) : undefined;
    if (!leader) return [];
    const dcsRole = leader.data.role;
    const ok = role === "leader" ||
      (role === "standby-leader" && dcsRole !== "primary" && dcsRole !== "master") ||
      (role === "primary" && dcsRole !== "standby_leader");
    return ok ? [leader] : [];
  }
  return view.members.filter((m) => role === "any" || m.name !== leaderName);
}

/**
 * The first member with `role`, or named `member` (then any role); the leader when neither is given.
 * Throws `CtlError` when both are given; null when none matches.
 */
export function anyMember(
  view: ClusterView,
  role: CtlRole | undefined,
  member: string | undefined,
): Member | null {
  if (member !== undefined && role !== undefined) {
    throw new CtlError("--role and --member are mutually exclusive options");
  }
  const wanted = member !== undefined ? "any" : role ?? "leader";
  return membersWithRole(view, wanted).find((m) => member === undefined || m.name === member) ?? null;
}

/** Host, port (default 5432) and database of a member's `conn_url`; null without a usable URL. */
export function memberConnParams(m: Member): { host: string; port: number; dbname: string } | null {
  const raw = m.data.conn_url;
  if (typeof raw !== "string" || raw === "") return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const host = decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, "$1"));
  if (host === "") return null;
  const port = url.port === "" ? 5432 : parseInt(url.port, 10);
  return { host, port, dbname: decodeURIComponent(url.pathname.replace(/^\//, "")) };
}
