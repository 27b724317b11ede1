/**
 * The REST API's status documents: `GET /patroni` (built by `health.ts` from the node snapshot), `GET /cluster`
 * (Patroni's member list with roles, lag and the scheduled switchover) and `GET /history` (with hactl's
 * role-change records under `?detail`). Pure.
 *
 * May import: `src/core/` (types), `src/api/health.ts`.
 *
 * @module
 */
import type { ClusterView, HistoryEntry, Member, NodeSnapshot, RoleChangeRecord } from "../core/types.ts";
import { formatLsn } from "../core/types.ts";
import {
  buildStatus as buildStatusBody,
  isListedSyncStandby,
  isStandbyCluster,
  synchronousMode,
} from "./health.ts";

/**
 * The `GET /patroni` document for `snapshot` at monotonic time `now`.
 *
 * @example
 * ```ts
 * const body = buildStatus(snapshot, performance.now());
 * body.patroni; // { version, scope, name }
 * ```
 */
export function buildStatus(snapshot: NodeSnapshot, now: number): Record<string, unknown> {
  return buildStatusBody(snapshot, now);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** host and port of a member's `conn_url` (`postgres://user@host:port/db`), when it has them. */
function connHostPort(connUrl: unknown): { host?: string; port?: number } {
  if (typeof connUrl !== "string" || connUrl === "") return {};
  try {
    const url = new URL(connUrl);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (!host) return {};
    const port = url.port === "" ? undefined : parseInt(url.port, 10);
    return port === undefined || !Number.isFinite(port) ? { host } : { host, port };
  } catch {
    return {};
  }
}

const OPTIONAL_MEMBER_FIELDS = [
  "timeline",
  "pending_restart",
  "pending_restart_reason",
  "scheduled_restart",
  "tags",
] as const;

/** The role `GET /cluster` shows for `member`. */
function memberRole(member: Member, view: ClusterView, leaderName: string | null): string {
  const mode = synchronousMode(view);
  if (member.name === leaderName) {
    // A leader whose Postgres is a primary is the leader, also in a standby cluster being demoted.
    const primary = member.data.role === "primary" || member.data.role === "master";
    return isStandbyCluster(view) && !primary ? "standby_leader" : "leader";
  }
  if (mode !== "off" && isListedSyncStandby(view, member.name)) {
    return mode === "quorum" ? "quorum_standby" : "sync_standby";
  }
  return "replica";
}

/** The positions a replica reports and its lag behind `optime` ("unknown" for a position it did not report). */
function addLags(out: Record<string, unknown>, data: Record<string, unknown>, optime: number): void {
  const lsns: [string, string, unknown][] = [
    ["receive_lsn", "receive_lag", data.receive_lsn],
    ["replay_lsn", "replay_lag", data.replay_lsn],
    ["lsn", "lag", data.xlog_location],
  ];
  for (const [lsnKey, lagKey, value] of lsns) {
    if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
      out[lsnKey] = formatLsn(value);
      out[lagKey] = Math.max(optime - value, 0);
    } else {
      out[lsnKey] = "unknown";
      out[lagKey] = "unknown";
    }
  }
}

/** One member of `GET /cluster`. */
function memberAsJson(member: Member, view: ClusterView, optime: number): Record<string, unknown> {
  const data = (member.data ?? {}) as Record<string, unknown>;
  const leaderName = view.leader?.name ?? null;
  const role = memberRole(member, view, leaderName);
  const state = (role !== "leader" ? str(data.replication_state) : undefined) || str(data.state) || "";
  const out: Record<string, unknown> = { name: member.name, role, state, api_url: data.api_url ?? null };
  const { host, port } = connHostPort(data.conn_url);
  if (host !== undefined) {
    out.host = host;
    if (port !== undefined) out.port = port;
  }
  for (const key of OPTIONAL_MEMBER_FIELDS) {
    if (data[key] !== undefined) out[key] = data[key];
  }
  if (member.name !== leaderName) addLags(out, data, optime);
  return out;
}

/** The `GET /cluster` document: members sorted by name, scope, pause, scheduled switchover. */
export function clusterAsJson(view: ClusterView, scope: string): Record<string, unknown> {
  const optime = typeof view.status?.optime === "number" ? view.status.optime : 0;
  const members = [...(view.members ?? [])]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => memberAsJson(m, view, optime));
  const out: Record<string, unknown> = { members, scope };
  const pause = view.config?.value?.pause;
  if (pause === true || (typeof pause === "string" && ["true", "on", "yes"].includes(pause.toLowerCase()))) {
    out.pause = true;
  }
  const failover = view.failover;
  if (failover?.scheduledAt) {
    const sw: Record<string, unknown> = { at: failover.scheduledAt };
    if (failover.leader) sw.from = failover.leader;
    if (failover.member) sw.to = failover.member;
    out.scheduled_switchover = sw;
  }
  return out;
}

/**
 * The `GET /history` document: the cluster's history entries. With `records` (`?detail`, a hactl extension),
 * the switches member `name` made carry its role-change record as a 6th element.
 */
export function historyAsJson(
  view: ClusterView,
  name: string,
  records?: readonly RoleChangeRecord[],
): unknown[] {
  const history: HistoryEntry[] = Array.isArray(view.history) ? view.history : [];
  if (records === undefined) return history;
  return history.map((e) => {
    const r = records.find((x) => e[4] === name && x.timeline === e[0] + 1);
    return r ? [e[0], e[1], e[2], e[3] ?? null, e[4], r] : e;
  });
}
