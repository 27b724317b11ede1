/**
 * The DCS data format: Patroni's key names under `/<namespace>/<scope>/` and the exact bytes of their values,
 * both ways. `decodeCluster` turns the key-values of one prefix range into a
 * `ClusterView` and never throws on garbage: an undecodable key becomes a note in `problems` and is treated as
 * absent (or empty, where Patroni does so). The encoders write compact JSON in Patroni's field order.
 *
 * Pure: imports only the shared types; shared by `src/dcs/etcd.ts` and the in-memory fake in `tests/fakes/`.
 *
 * @module
 */
import type {
  ClusterStatus,
  ClusterView,
  FailoverIntent,
  HistoryEntry,
  Leader,
  Member,
  MemberRecord,
  StoredConfig,
  SyncState,
} from "../core/types.ts";

/** One key-value as read from etcd, with the value decoded as UTF-8 and int64 fields as decimal strings. */
export interface RawKv {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  /** Lease id, "0" when the key has no lease. */
  lease: string;
}

/** Key names relative to the cluster prefix. */
export const KEYS = {
  initialize: "initialize",
  config: "config",
  leader: "leader",
  failover: "failover",
  history: "history",
  status: "status",
  legacyOptime: "optime/leader",
  sync: "sync",
  failsafe: "failsafe",
  members: "members/",
} as const;

/**
 * The cluster prefix `/<namespace>/<scope>/`, with runs of `/` collapsed as Patroni does.
 *
 * @example
 * ```ts
 * clusterPrefix("/service/", "pg") // "/service/pg/"
 * ```
 */
export function clusterPrefix(namespace: string, scope: string): string {
  return `/${namespace}/${scope}/`.replace(/\/+/g, "/");
}

/**
 * Why a cluster prefix must not be deleted as a whole, or null: it needs at least two non-empty segments (a
 * namespace and a cluster name). `clusterPrefix` collapses slashes, so an empty scope or one of `/` would
 * otherwise name the namespace itself, or everything.
 */
export function clusterPrefixProblem(prefix: string): string | null {
  const segments = prefix.split("/").filter((s) => s !== "");
  if (segments.length >= 2) return null;
  return `refusing to delete '${prefix}': a cluster prefix needs a namespace and a cluster name`;
}

/** The `members/<name>` key relative to the prefix. */
export function memberKey(name: string): string {
  return `${KEYS.members}${name}`;
}

/**
 * `status` value: `{"optime":N,"slots":{...},"retain_slots":[...]}`; `slots` and `retain_slots` are omitted when
 * empty, as Patroni omits null fields.
 */
export function encodeStatus(optime: number, slots?: Record<string, number>, retainSlots?: string[]): string {
  const value: Record<string, unknown> = { optime };
  if (slots && Object.keys(slots).length > 0) value.slots = slots;
  if (retainSlots && retainSlots.length > 0) value.retain_slots = retainSlots;
  return JSON.stringify(value);
}

/** `history` value: a compact JSON list of `[tli, lsn, reason, timestamp?, new_leader?]`. */
export function encodeHistory(history: HistoryEntry[]): string {
  return JSON.stringify(history.map((entry) => entry.filter((x) => x !== undefined)));
}

/** Compact JSON for `config`, `failover` and `members/<name>` (key order kept as given). */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * The `sync` key as Patroni writes it: `{"leader":"pg1","quorum":0,"sync_standby":"pg2,pg3"}` (standbys sorted and
 * comma-joined, null when none).
 */
export function encodeSync(leader: string, standbys: readonly string[], quorum: number): string {
  const list = standbys.length > 0 ? [...standbys].sort().join(",") : null;
  return JSON.stringify({ leader, quorum, sync_standby: list });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

type Parsed = { ok: true; value: unknown } | { ok: false };

function parseJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function toInt(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return null;
}

function quote(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return JSON.stringify(shown);
}

const MEMBER_STRING_FIELDS = ["conn_url", "api_url", "state", "role", "version"] as const;

function decodeMember(name: string, kv: RawKv, problems: string[]): Member | null {
  let data: MemberRecord;
  if (kv.value.startsWith("postgres")) {
    // Legacy Governor format: the value is the connection string itself.
    data = { conn_url: kv.value, api_url: "", state: "", role: "", version: "" };
  } else {
    const parsed = parseJson(kv.value);
    if (!parsed.ok || !isObject(parsed.value)) {
      problems.push(`members/${name}: expected a JSON object, found ${quote(kv.value)}; member ignored`);
      return null;
    }
    const record: Record<string, unknown> = { ...parsed.value };
    for (const field of MEMBER_STRING_FIELDS) {
      if (typeof record[field] !== "string") {
        record[field] = record[field] == null ? "" : String(record[field]);
      }
    }
    if (record.role === "master") record.role = "primary";
    data = record as MemberRecord;
  }
  return { name, data, modRevision: kv.modRevision, lease: kv.lease };
}

function decodeConfig(kv: RawKv, problems: string[]): StoredConfig {
  const parsed = parseJson(kv.value);
  if (parsed.ok && isObject(parsed.value)) return { value: parsed.value, modRevision: kv.modRevision };
  problems.push(`config: expected a JSON object, found ${quote(kv.value)}; treated as empty`);
  return { value: {}, modRevision: kv.modRevision };
}

function decodeStatus(kv: RawKv, problems: string[]): ClusterStatus | null {
  const parsed = parseJson(kv.value);
  if (parsed.ok && typeof parsed.value === "number" && Number.isFinite(parsed.value)) {
    return { optime: Math.trunc(parsed.value), slots: {}, retainSlots: [] };
  }
  if (!parsed.ok || !isObject(parsed.value)) {
    problems.push(`status: expected a JSON object or a number, found ${quote(kv.value)}; ignored`);
    return null;
  }
  const v = parsed.value;
  const slots: Record<string, number> = {};
  if (isObject(v.slots)) {
    for (const [slot, lsn] of Object.entries(v.slots)) {
      const n = toInt(lsn);
      if (n !== null) slots[slot] = n;
    }
  }
  const retainSlots = Array.isArray(v.retain_slots)
    ? v.retain_slots.filter((s): s is string => typeof s === "string")
    : [];
  return { optime: toInt(v.optime), slots, retainSlots };
}

function decodeLegacyOptime(kv: RawKv, problems: string[]): ClusterStatus | null {
  const n = toInt(kv.value);
  if (n === null) {
    problems.push(`optime/leader: expected a decimal LSN, found ${quote(kv.value)}; ignored`);
    return null;
  }
  return { optime: n, slots: {}, retainSlots: [] };
}

function decodeFailover(kv: RawKv, problems: string[]): FailoverIntent | null {
  const parsed = parseJson(kv.value);
  let fields: Record<string, unknown>;
  if (parsed.ok && isObject(parsed.value)) {
    fields = parsed.value;
  } else if (parsed.ok && (parsed.value === null || parsed.value === "")) {
    return null;
  } else if (!parsed.ok && kv.value.includes(":")) {
    // Legacy `leader:candidate` text.
    const at = kv.value.indexOf(":");
    fields = { leader: kv.value.slice(0, at), member: kv.value.slice(at + 1) };
  } else {
    if (kv.value.trim() === "") return null;
    problems.push(`failover: expected a JSON object, found ${quote(kv.value)}; ignored`);
    return null;
  }
  const intent: FailoverIntent = { modRevision: kv.modRevision };
  const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
  const leader = text(fields.leader);
  const member = text(fields.member);
  const scheduledAt = text(fields.scheduled_at);
  if (leader !== undefined) intent.leader = leader;
  if (member !== undefined) intent.member = member;
  if (scheduledAt !== undefined) intent.scheduledAt = scheduledAt;
  // An empty object is "no failover" (Patroni's Failover.__len__ == 0).
  if (leader === undefined && member === undefined) return null;
  return intent;
}

function decodeSync(kv: RawKv, problems: string[]): SyncState {
  const empty: SyncState = { leader: null, syncStandby: [], quorum: 0, modRevision: kv.modRevision };
  const parsed = parseJson(kv.value);
  if (!parsed.ok || !isObject(parsed.value)) {
    problems.push(`sync: expected a JSON object, found ${quote(kv.value)}; treated as empty`);
    return empty;
  }
  const v = parsed.value;
  const leader = typeof v.leader === "string" && v.leader !== "" ? v.leader : null;
  if (leader === null) return empty;
  let standbys: string[] = [];
  if (typeof v.sync_standby === "string") standbys = v.sync_standby.split(",");
  else if (Array.isArray(v.sync_standby)) standbys = v.sync_standby.filter((s) => typeof s === "string");
  return {
    leader,
    syncStandby: standbys.map((s) => s.trim()).filter((s) => s !== ""),
    quorum: toInt(v.quorum) ?? 0,
    modRevision: kv.modRevision,
  };
}

function decodeHistory(kv: RawKv, problems: string[]): HistoryEntry[] | null {
  const parsed = parseJson(kv.value);
  if (!parsed.ok || !Array.isArray(parsed.value)) {
    problems.push(`history: expected a JSON list, found ${quote(kv.value)}; ignored`);
    return null;
  }
  const entries: HistoryEntry[] = [];
  let skipped = 0;
  for (const item of parsed.value) {
    const tli = Array.isArray(item) ? toInt(item[0]) : null;
    const lsn = Array.isArray(item) ? toInt(item[1]) : null;
    if (!Array.isArray(item) || tli === null || lsn === null) {
      skipped++;
      continue;
    }
    const entry: HistoryEntry = [tli, lsn, typeof item[2] === "string" ? item[2] : String(item[2] ?? "")];
    if (typeof item[3] === "string") entry[3] = item[3];
    if (typeof item[3] === "string" && typeof item[4] === "string") entry[4] = item[4];
    entries.push(entry);
  }
  if (skipped > 0) problems.push(`history: ${skipped} malformed entr${skipped === 1 ? "y" : "ies"} ignored`);
  return entries;
}

/** `failsafe` value, as Patroni writes it: a compact JSON object of member name -> REST API url. */
export function encodeFailsafe(value: Record<string, string>): string {
  return JSON.stringify(value);
}

function decodeFailsafe(kv: RawKv, problems: string[]): Record<string, string> | null {
  const parsed = parseJson(kv.value);
  const v = parsed.ok ? parsed.value : null;
  if (
    !v || typeof v !== "object" || Array.isArray(v) || !Object.values(v).every((u) => typeof u === "string")
  ) {
    problems.push(
      `failsafe: expected a JSON object of member name to api url, found ${quote(kv.value)}; ignored`,
    );
    return null;
  }
  return { ...(v as Record<string, string>) };
}

/**
 * Decode the key-values of one range over `prefix` (e.g. `/service/pg/`) into a `ClusterView`.
 * Keys outside the prefix and unknown keys are ignored; garbage values become notes in `problems`.
 */
export function decodeCluster(kvs: RawKv[], prefix: string, revision: string): ClusterView {
  const problems: string[] = [];
  const byKey = new Map<string, RawKv>();
  const members: Member[] = [];
  for (const kv of kvs) {
    if (!kv.key.startsWith(prefix)) continue;
    const rel = kv.key.slice(prefix.length);
    if (rel.startsWith(KEYS.members)) {
      const name = rel.slice(KEYS.members.length);
      // Only `members/<name>` with exactly one slash is a member.
      if (name === "" || name.includes("/")) continue;
      const member = decodeMember(name, kv, problems);
      if (member) members.push(member);
    } else {
      byKey.set(rel, kv);
    }
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const get = (k: string) => byKey.get(k);
  const leaderKv = get(KEYS.leader);
  let leader: Leader | null = null;
  if (leaderKv) {
    if (leaderKv.value === "") problems.push("leader: the key holds an empty name");
    leader = {
      name: leaderKv.value,
      createRevision: leaderKv.createRevision,
      modRevision: leaderKv.modRevision,
      lease: leaderKv.lease,
    };
  }
  const statusKv = get(KEYS.status);
  const legacyKv = get(KEYS.legacyOptime);
  let status = statusKv ? decodeStatus(statusKv, problems) : null;
  if (status === null && legacyKv) status = decodeLegacyOptime(legacyKv, problems);

  const initKv = get(KEYS.initialize);
  const configKv = get(KEYS.config);
  const failoverKv = get(KEYS.failover);
  const syncKv = get(KEYS.sync);
  const historyKv = get(KEYS.history);
  const failsafeKv = get(KEYS.failsafe);
  return {
    initialize: initKv ? initKv.value : null,
    config: configKv ? decodeConfig(configKv, problems) : null,
    leader,
    members,
    status,
    failover: failoverKv ? decodeFailover(failoverKv, problems) : null,
    sync: syncKv ? decodeSync(syncKv, problems) : null,
    history: historyKv ? decodeHistory(historyKv, problems) : null,
    ...(failsafeKv ? { failsafe: decodeFailsafe(failsafeKv, problems) } : {}),
    revision,
    problems,
  };
}
