/**
 * The member table of `hactl list` / `hactl topology` (patronictl's layout)
 * and the `/cluster` member objects it is built from (§1.6).
 *
 * - {@linkcode clusterMembers} / {@linkcode clusterAsJson}: a `ClusterView` -> the `GET /cluster` document.
 * - {@linkcode renderList}: a `ClusterView` + scope -> the exact text patronictl prints (pretty, tsv, json,
 *   yaml, topology), including the boxed ASCII table and the footer lines.
 *
 * Pure: imports only `types.ts` and the `yaml` package; no I/O, no clock.
 *
 * @module
 */
import { stringify as yamlStringify } from "yaml";
import { formatLsn } from "../../src/core/types.ts";
import type { ClusterView, Member, Tags } from "../../src/core/types.ts";

/** A member's role as shown by `/cluster` and `list`. */
export type ClusterRole = "leader" | "standby_leader" | "sync_standby" | "quorum_standby" | "replica";

/** One member object of `GET /cluster` (§1.6). Optional keys are absent, not undefined, in the JSON. */
export interface ClusterMemberRow {
  name: string;
  role: ClusterRole;
  state: string;
  api_url?: string;
  host?: string;
  port?: number;
  timeline?: number;
  pending_restart?: boolean;
  pending_restart_reason?: Record<string, { old_value: string; new_value: string }>;
  scheduled_restart?: Record<string, unknown>;
  tags?: Tags;
  receive_lsn?: string;
  receive_lag?: number | "unknown";
  replay_lsn?: string;
  replay_lag?: number | "unknown";
  lsn?: string;
  lag?: number | "unknown";
}

/** The `GET /cluster` document. */
export interface ClusterJson {
  members: ClusterMemberRow[];
  scope: string;
  pause?: true;
  scheduled_switchover?: { at: string; from?: string; to?: string };
}

/** Output formats of `list`; `topology` is `pretty` with tree order and indented names. */
export type ListFormat = "pretty" | "tsv" | "json" | "yaml" | "topology";

export interface RenderListOptions {
  format: ListFormat;
  /** `-e`: always show the optional columns. */
  extended: boolean;
  /**
   * `lag` (default): Patroni 3.0.2's table, what Debian bookworm's patronictl prints and what scripts parsing its
   * json/yaml expect: title without the system id, `State` = the member's state (`running`), `TL | Lag in MB`,
   * no `Pending restart reason`. `lsn`: Patroni 4's: title with the system id, `State` = the replication state
   * (`streaming`), `TL | Receive LSN | Lag | Replay LSN | Lag`.
   */
  layout?: "lag" | "lsn";
}

const MIB = 1024 * 1024;

/** Python truthiness, as patronictl tests optional values with it. */
function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** Code-point order, as Python's `sorted` on strings. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Host and port of a `postgres://[user@]host[:port]/db` conn_url. IPv6 brackets are removed. */
export function parseConnUrl(connUrl: unknown): { host?: string; port?: number } {
  if (typeof connUrl !== "string") return {};
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?/i.exec(connUrl);
  if (!m) return {};
  const rawHost = m[1] ?? "";
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  if (host === "") return {};
  const result: { host?: string; port?: number } = { host: decodeURIComponentSafe(host) };
  if (m[2]) {
    const port = parseInt(m[2], 10);
    if (port > 0) result.port = port;
  }
  return result;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function dynamicValue(view: ClusterView, key: string): unknown {
  return view.config?.value[key];
}

function isStandbyCluster(view: ClusterView): boolean {
  return truthy(dynamicValue(view, "standby_cluster"));
}

function asLsn(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

function memberRole(view: ClusterView, member: Member, leaderName: string | null): ClusterRole {
  if (member.name === leaderName) {
    // A leader whose Postgres is a primary is the leader, also in a standby cluster being demoted.
    const primary = member.data.role === "primary" || member.data.role === "master";
    return (isStandbyCluster(view) && !primary) || member.data.role === "standby_leader"
      ? "standby_leader"
      : "leader";
  }
  const mode = dynamicValue(view, "synchronous_mode");
  const syncMode = truthy(mode) && !isStandbyCluster(view);
  // The `sync` key counts only when written by the current leader (hactl or Patroni, running synchronous_mode).
  if (syncMode && view.sync && view.sync.leader?.toLowerCase() === leaderName?.toLowerCase()) {
    const wanted = member.name.toLowerCase();
    if (view.sync.syncStandby.some((s) => s.toLowerCase() === wanted)) {
      return mode === "quorum" ? "quorum_standby" : "sync_standby";
    }
  }
  return "replica";
}

/**
 * The `/cluster` member objects (§1.6), sorted by name: role from the leader key and `/sync`, state, host/port
 * from `conn_url`, LSNs as `X/Y` and lags in bytes against the `/status` optime (clamped at 0, `"unknown"` when
 * the member did not report that LSN).
 */
export function clusterMembers(view: ClusterView): ClusterMemberRow[] {
  const leaderName = view.leader?.name ?? null;
  const clusterLsn = asLsn(view.status?.optime) ?? 0;
  const rows: ClusterMemberRow[] = [];
  for (const member of view.members) {
    const data = member.data;
    const role = memberRole(view, member, leaderName);
    const replicationState = role !== "leader" && typeof data.replication_state === "string"
      ? data.replication_state
      : "";
    const row: ClusterMemberRow = {
      name: member.name,
      role,
      state: replicationState || (typeof data.state === "string" ? data.state : ""),
    };
    if (typeof data.api_url === "string") row.api_url = data.api_url;
    const { host, port } = parseConnUrl(data.conn_url);
    if (host !== undefined) {
      row.host = host;
      if (port !== undefined) row.port = port;
    }
    if ("timeline" in data && data.timeline !== undefined) row.timeline = data.timeline;
    if ("pending_restart" in data && data.pending_restart !== undefined) {
      row.pending_restart = data.pending_restart;
    }
    if (data.pending_restart_reason !== undefined) row.pending_restart_reason = data.pending_restart_reason;
    if (data.scheduled_restart !== undefined) row.scheduled_restart = data.scheduled_restart;
    if (data.tags !== undefined) row.tags = data.tags;
    if (member.name !== leaderName) {
      const lsnFields: [keyof ClusterMemberRow & string, keyof ClusterMemberRow & string, unknown][] = [
        ["receive_lsn", "receive_lag", data.receive_lsn],
        ["replay_lsn", "replay_lag", data.replay_lsn],
        ["lsn", "lag", data.xlog_location],
      ];
      const target = row as unknown as Record<string, unknown>;
      for (const [lsnKey, lagKey, raw] of lsnFields) {
        const lsn = asLsn(raw);
        target[lsnKey] = lsn === null ? "unknown" : formatLsn(lsn);
        target[lagKey] = lsn === null ? "unknown" : Math.max(clusterLsn - lsn, 0);
      }
    }
    rows.push(row);
  }
  return rows.sort((a, b) => byCodePoint(a.name, b.name));
}

/** The whole `GET /cluster` document: members, scope, `pause` and `scheduled_switchover` when set. */
export function clusterAsJson(view: ClusterView, scope: string): ClusterJson {
  const result: ClusterJson = { members: clusterMembers(view), scope };
  if (truthy(dynamicValue(view, "pause"))) result.pause = true;
  const failover = view.failover;
  if (failover?.scheduledAt) {
    const sw: { at: string; from?: string; to?: string } = { at: failover.scheduledAt };
    if (failover.leader) sw.from = failover.leader;
    if (failover.member) sw.to = failover.member;
    result.scheduled_switchover = sw;
  }
  return result;
}

/** Python's `round()` (half to even) of a non-negative number. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Lag in whole MiB as `list` shows it; blank when unknown or absent. */
function lagInMb(lag: number | "unknown" | undefined): number | "" {
  return typeof lag === "number" ? roundHalfEven(lag / MIB) : "";
}

/** Python `str.title()` for role names: `sync standby` -> `Sync Standby`. */
function titleCase(text: string): string {
  return text.replace(/[A-Za-z]+/g, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase());
}

/** YAML text of a value: block style (pretty tables) or one-line flow style (tsv, topology). */
export function yamlOf(value: unknown, flow: boolean): string {
  return yamlStringify(value, {
    sortMapEntries: true,
    lineWidth: 200,
    indentSeq: false,
    singleQuote: true,
    version: "1.1",
    ...(flow ? { collectionStyle: "flow" as const, flowCollectionPadding: false } : {}),
  });
}

/**
 * `json.dumps` as Python writes it: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`, keys kept in
 * insertion order.
 */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    return String(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
    );
  }
  if (Array.isArray(value)) return "[" + value.map(pythonJson).join(", ") + "]";
  if (typeof value === "object") {
    const parts = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => pythonJson(k) + ": " + pythonJson(v));
    return "{" + parts.join(", ") + "}";
  }
  return JSON.stringify(String(value));
}

/** Order members as a tree (leader first, replicas depth-first) and indent their names (topology format). */
function topologySort(members: ClusterMemberRow[]): ClusterMemberRow[] {
  const isLeader = (m: ClusterMemberRow) => m.role.endsWith("leader");
  const leader = members.find(isLeader);
  const replicas = new Set(members.filter((m) => !isLeader(m)).map((m) => m.name));
  const children = new Map<string | null, ClusterMemberRow[]>();
  for (const m of members) {
    if (isLeader(m)) continue;
    const tag = m.tags?.replicatefrom;
    const parent = typeof tag === "string" && tag !== m.name && replicas.has(tag)
      ? tag
      : leader?.name ?? null;
    const list = children.get(parent) ?? [];
    list.push(m);
    children.set(parent, list);
  }
  const out: ClusterMemberRow[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, level: number) => {
    for (const child of children.get(parent) ?? []) {
      if (seen.has(child.name)) continue;
      seen.add(child.name);
      out.push({ ...child, name: " ".repeat(2 * (level - 1)) + "+ " + child.name });
      walk(child.name, level + 1);
    }
  };
  for (const m of members) {
    if (!isLeader(m)) continue;
    seen.add(m.name);
    out.push(m);
    walk(m.name, 1);
  }
  if (!leader) walk(null, 1);
  // Members caught in a replicatefrom cycle are unreachable from the leader: show them rather than lose them.
  for (const m of members) {
    if (!seen.has(m.name)) {
      seen.add(m.name);
      out.push({ ...m, name: "+ " + m.name });
      walk(m.name, 2);
    }
  }
  return out;
}

type Cell = string | number | Record<string, unknown>;

const OPTIONAL_COLUMNS: [title: string, key: keyof ClusterMemberRow][] = [
  ["Pending restart", "pending_restart"],
  ["Pending restart reason", "pending_restart_reason"],
  ["Scheduled restart", "scheduled_restart"],
  ["Tags", "tags"],
];

const RIGHT_ALIGNED = new Set([
  "Group",
  "Lag in MB",
  "TL",
  "Receive LSN",
  "Replay LSN",
  "Lag",
  "Receive Lag",
  "Replay Lag",
]);

function restartReason(
  reason: ClusterMemberRow["pending_restart_reason"],
  hideLong: boolean,
): string {
  return Object.entries(reason ?? {}).map(([param, v]) => {
    const full = `${param}: ${String(v?.old_value)}->${String(v?.new_value)}`;
    return !hideLong || full.length <= 50 ? full : `${param}: [hidden - too long]`;
  }).join("\n");
}

function scheduledRestart(value: ClusterMemberRow["scheduled_restart"]): string {
  if (!value || value.schedule === undefined) return "";
  let text = String(value.schedule);
  if (value.postgres_version !== undefined) text += ` if version < ${String(value.postgres_version)}`;
  return text;
}

/**
 * The title over the pretty table: Patroni 4's ` Cluster: <scope> (<sysid|uninitialized|initializing>) `, or
 * Patroni 3.0's ` Cluster: <scope> ` with the `lag` layout.
 */
export function listTitle(view: ClusterView, scope: string, layout: "lag" | "lsn" = "lsn"): string {
  if (layout === "lag") return ` Cluster: ${scope} `;
  const init = view.initialize === null
    ? "uninitialized"
    : view.initialize === ""
    ? "initializing"
    : view.initialize;
  return ` Cluster: ${scope} (${init}) `;
}

/** Footer lines (pretty/topology): maintenance mode and a scheduled switchover, each indented by one space. */
export function listFooter(cluster: ClusterJson): string[] {
  const info: string[] = [];
  if (cluster.pause) info.push("Maintenance mode: on");
  const sw = cluster.scheduled_switchover;
  if (sw) {
    let text = `Switchover scheduled at: ${sw.at}`;
    if (sw.from !== undefined) text += `\n${"from".padStart(24)}: ${sw.from}`;
    if (sw.to !== undefined) text += `\n${"to".padStart(24)}: ${sw.to}`;
    info.push(text);
  }
  return info.length === 0 ? [] : (" " + info.join("\n ")).split("\n");
}

/**
 * Render `list` output for one cluster exactly as patronictl prints it. The result is the complete text for
 * stdout, ending with a newline (json/yaml/tsv included; yaml ends with an empty line as with PyYAML + echo).
 */
export function renderList(view: ClusterView, scope: string, opts: RenderListOptions): string {
  const { format } = opts;
  const cluster = clusterAsJson(view, scope);
  const members = cluster.members;
  const legacy = opts.layout !== "lsn";
  const columns = listColumns(members, legacy, opts.extended);
  const ctx = rowContext(view, scope, members, legacy, format === "pretty" || format === "topology");
  const ordered = format === "topology" ? topologySort(members) : members;
  const rows: Cell[][] = ordered.map((m) => {
    const cells = memberCells(m, ctx);
    return columns.map((c) => cells[c] ?? "");
  });
  if (format === "json" || format === "yaml") return structuredList(columns, rows, format);

  // tsv / pretty / topology: tags become YAML text (flow style except in pretty).
  const tagsAt = columns.indexOf("Tags");
  const textRows: string[][] = rows.map((row) =>
    row.map((v, i) => {
      if (i === tagsAt && typeof v === "object") return yamlOf(v, format !== "pretty").trim();
      return typeof v === "object" ? pythonJson(v) : String(v);
    })
  );
  if (format === "tsv") {
    return [columns, ...textRows].map((r) => r.join("\t") + "\n").join("");
  }
  const prettyColumns = columns.slice(1).map((c) => (c === "Receive Lag" || c === "Replay Lag" ? "Lag" : c));
  const table = renderTable(prettyColumns, textRows.map((r) => r.slice(1)), {
    title: listTitle(view, scope, legacy ? "lag" : "lsn"),
    rightAligned: prettyColumns.map((c) => RIGHT_ALIGNED.has(c)),
  });
  const footer = listFooter(cluster);
  return [table, ...footer].map((line) => line + "\n").join("");
}

/**
 * The columns of the table: the fixed ones of the layout, then the optional ones some member has a value for
 * (all of them with `-e`). Patroni 3.0 has no "Pending restart reason" column.
 */
function listColumns(members: ClusterMemberRow[], legacy: boolean, extended: boolean): string[] {
  const withHost = members.filter((m) => m.host !== undefined);
  const columns = ["Cluster", "Member", "Host", "Role", "State", "TL"];
  if (legacy) columns.push("Lag in MB");
  else columns.push("Receive LSN", "Receive Lag", "Replay LSN", "Replay Lag");
  const optional = OPTIONAL_COLUMNS.filter(([title, key]) =>
    !(legacy && title === "Pending restart reason") && (extended || withHost.some((m) => truthy(m[key])))
  );
  columns.push(...optional.map(([title]) => title));
  return columns;
}

/** What the cells of every row depend on besides the member itself. */
interface RowContext {
  scope: string;
  legacy: boolean;
  /** Long pending-restart reasons are hidden (pretty and topology). */
  hideLong: boolean;
  /** Hosts are shown with their port (some port is not 5432, or hosts repeat). */
  appendPort: boolean;
  /** Each member's own state (`running`), which Patroni 3.0 shows instead of the replication state. */
  memberState: Map<string, string>;
}

function rowContext(
  view: ClusterView,
  scope: string,
  members: ClusterMemberRow[],
  legacy: boolean,
  hideLong: boolean,
): RowContext {
  const withHost = members.filter((m) => m.host !== undefined);
  const appendPort = withHost.some((m) => m.port !== undefined && m.port !== 5432) ||
    new Set(withHost.map((m) => m.host)).size < withHost.length;
  // Patroni 3.0 shows the member's own state (`running`), Patroni 4 the replication state (`streaming`).
  const memberState = new Map(
    view.members.map((m) => [m.name, typeof m.data.state === "string" ? m.data.state : ""]),
  );
  return { scope, legacy, hideLong, appendPort, memberState };
}

/** One member's cells by column title. */
function memberCells(m: ClusterMemberRow, ctx: RowContext): Record<string, Cell> {
  let host = m.host ?? "";
  if (ctx.appendPort && host && m.port) host = `${host}:${m.port}`;
  const [receiveLsn, receiveLag, replayLsn, replayLag] = lsnCells(m);
  return {
    "Cluster": ctx.scope,
    "Member": m.name,
    "Host": host,
    "Role": titleCase(m.role.replaceAll("_", " ")),
    "State": ctx.legacy ? ctx.memberState.get(m.name.replace(/^ *\+ /, "")) ?? m.state : m.state,
    "TL": m.timeline ?? "",
    "Receive LSN": receiveLsn,
    "Receive Lag": receiveLag,
    "Replay LSN": replayLsn,
    "Replay Lag": replayLag,
    // Patroni 3.0: whole MiB behind the leader's last published position, `unknown` without a position.
    "Lag in MB": m.lag === "unknown" ? "unknown" : lagInMb(m.lag),
    "Pending restart": m.pending_restart ? "*" : "",
    "Pending restart reason": restartReason(m.pending_restart_reason, ctx.hideLong),
    "Scheduled restart": scheduledRestart(m.scheduled_restart),
    "Tags": truthy(m.tags) ? (m.tags as Record<string, unknown>) : "",
  };
}

/** Receive LSN, its lag, Replay LSN, its lag (Patroni 4's columns). */
function lsnCells(m: ClusterMemberRow): [string, number | "", string, number | ""] {
  const receiveLsn: string = m.receive_lsn ?? "";
  const replayLsn: string = m.replay_lsn ?? "";
  // A member of an older Patroni reports only `xlog_location`: show it under Receive when streaming, else Replay.
  if (receiveLsn === "unknown" && replayLsn === "unknown" && m.lsn !== undefined && m.lsn !== "unknown") {
    return m.state === "streaming" ? [m.lsn, lagInMb(m.lag), "", ""] : ["", "", m.lsn, lagInMb(m.lag)];
  }
  return [
    receiveLsn,
    receiveLsn === "unknown" ? "" : lagInMb(m.receive_lag),
    replayLsn,
    replayLsn === "unknown" ? "" : lagInMb(m.replay_lag),
  ];
}

/** json / yaml: one object per member with its non-empty cells. */
function structuredList(columns: string[], rows: Cell[][], format: "json" | "yaml"): string {
  const elements = rows.map((row) => {
    const obj: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      const v = row[i];
      if (v !== "" && v !== undefined) obj[c] = v;
    });
    return obj;
  });
  return format === "json" ? pythonJson(elements) + "\n" : yamlOf(elements, false) + "\n";
}

export interface TableOptions {
  /** Written over the top border from its 2nd character, cut to fit. */
  title?: string;
  /** Per column: right-align (else left). Header and cells share the column's alignment. */
  rightAligned?: boolean[];
}

/**
 * A prettytable-style boxed ASCII table. Only the frame has horizontal rules, unless some cell spans several
 * lines; then a rule follows every row. Returns the lines joined by `\n`, without a trailing newline.
 */
export function renderTable(columns: string[], rows: string[][], opts: TableOptions = {}): string {
  const cellLines = rows.map((row) => columns.map((_, i) => (row[i] ?? "").split("\n")));
  const widths = columns.map((title, i) =>
    Math.max(title.length, ...cellLines.map((row) => Math.max(...row[i]!.map((l) => l.length))))
  );
  const multiline = cellLines.some((row) => row.some((lines) => lines.length > 1));
  const rule = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
  const pad = (text: string, i: number) =>
    opts.rightAligned?.[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: string[]) => "| " + cells.map(pad).join(" | ") + " |";

  let top = rule;
  if (opts.title) {
    const title = opts.title.slice(0, Math.max(0, rule.length - 2));
    top = rule[0] + title + rule.slice(1 + title.length);
  }
  const out = [top, line(columns), rule];
  for (const row of cellLines) {
    const height = Math.max(...row.map((l) => l.length));
    for (let k = 0; k < height; k++) out.push(line(row.map((l) => l[k] ?? "")));
    if (multiline) out.push(rule);
  }
  if (!multiline) out.push(rule);
  return out.join("\n");
}
