/**
 * The node status document (`GET /patroni`) and the health-check rules that
 * HAProxy & co. rely on (§1.3 `/primary`, `/replica`, ..., §1.4 `/liveness`, `/readiness`).
 *
 * Pure: everything is computed from a {@link NodeSnapshot} and a clock reading passed in. Imports `src/core/` only,
 * never touches the network, the disk or a clock of its own. Client input (paths, query strings) is parsed
 * defensively: nothing here throws on malformed input.
 *
 * @module
 */
import type { ClusterView, NodeSnapshot, Tags } from "../core/types.ts";
import { livenessGraceMs } from "../core/settings.ts";
import { HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../core/types.ts";

/** A Postgres observation older than this (ms) is stale: health checks answer 503 and report its age. */
export const STALE_STATUS_MS = 5000;

/** Status document as served by `GET /patroni` and every health-check GET. */
export type StatusBody = Record<string, unknown>;

/** Predefined boolean tags that are left out of the status document when false. */
const BOOLEAN_TAGS = ["clonefrom", "nofailover", "noloadbalance", "nosync", "nostream"];

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  kB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};

/**
 * Parse a `lag=` size: an integer (decimal, `0x` hex or leading-zero octal, as C `strtol` with base 0) or a
 * decimal number, optionally followed by a case-sensitive unit `B`, `kB`, `MB`, `GB`, `TB` (powers of 1024).
 * Returns the size in bytes, or null when the text cannot be parsed.
 *
 * @example
 * ```ts
 * parseLag("10MB"); // 10485760
 * parseLag("0x10"); // 16
 * parseLag("lots"); // null
 * ```
 */
export function parseLag(text: string): number | null {
  const s = text.trim();
  let value: number | null = null;
  let rest = "";
  const int = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))(.*)$/s.exec(s);
  if (int) {
    const [, sign, hex, oct, dec, tail] = int;
    const magnitude = hex !== undefined
      ? parseInt(hex, 16)
      : oct !== undefined
      ? (oct.length > 1 ? parseInt(oct.slice(1), 8) : 0)
      : parseInt(dec!, 10);
    rest = tail ?? "";
    // A decimal point or exponent after a non-hex integer makes it a real number ("1.5MB", "1e3").
    if (hex !== undefined || !/^[.eE]/.test(rest)) value = sign === "-" ? -magnitude : magnitude;
  }
  if (value === null) {
    const real = /^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(.*)$/s.exec(s);
    if (!real) return null;
    value = parseFloat(real[1]!);
    rest = real[2] ?? "";
  }
  const unit = rest.trim();
  const factor = unit === "" ? 1 : Object.hasOwn(SIZE_UNITS, unit) ? SIZE_UNITS[unit] : undefined;
  if (factor === undefined || !Number.isFinite(value)) return null;
  const bytes = Math.round(value * factor);
  return Number.isFinite(bytes) ? bytes : null;
}

/** Python-like truthiness of a JSON value. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === "object") return Object.keys(v).length > 0;
  return Boolean(v);
}

/** The dynamic config stored in the DCS (`config` key), or an empty object. */
function dynamicConfig(cluster: ClusterView | null): Record<string, unknown> {
  const value = cluster?.config?.value;
  return value !== null && typeof value === "object" ? value : {};
}

/** `standby_cluster` with a non-empty `host`, `port` or `restore_command`. */
export function isStandbyCluster(cluster: ClusterView | null): boolean {
  const sc = dynamicConfig(cluster).standby_cluster;
  if (sc === null || typeof sc !== "object" || Array.isArray(sc)) return false;
  const rec = sc as Record<string, unknown>;
  return truthy(rec.host) || truthy(rec.port) || truthy(rec.restore_command);
}

/** `off`, `on` or `quorum`, from `synchronous_mode` of the dynamic config (a standby cluster is never sync). */
export function synchronousMode(cluster: ClusterView | null): "off" | "on" | "quorum" {
  const raw = dynamicConfig(cluster).synchronous_mode;
  let mode: "off" | "on" | "quorum" = "off";
  if (raw === true || (typeof raw === "number" && raw !== 0)) mode = "on";
  else if (typeof raw === "string") {
    const v = raw.trim().toLowerCase();
    if (v === "quorum") mode = "quorum";
    else if (["on", "true", "yes", "1", "y", "t"].includes(v)) mode = "on";
  }
  return mode !== "off" && isStandbyCluster(cluster) ? "off" : mode;
}

/** Is `name` listed in `sync_standby` of the `sync` key (case-insensitive, as Patroni matches it)? */
export function isListedSyncStandby(cluster: ClusterView | null, name: string): boolean {
  const list = cluster?.sync?.syncStandby;
  if (!Array.isArray(list)) return false;
  // The `sync` key is written by the leader that runs synchronous replication (src/core/sync.ts, or a Patroni
  // leader). One left by a former leader claims nothing about the current one.
  const syncLeader = cluster?.sync?.leader?.toLowerCase();
  if (syncLeader === undefined || syncLeader !== cluster?.leader?.name.toLowerCase()) return false;
  const wanted = name.toLowerCase();
  return list.some((n) => typeof n === "string" && n.toLowerCase() === wanted);
}

/** Configured tags with the predefined boolean tags dropped when false (§1.5). */
export function filterTags(tags: Tags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tags ?? {})) {
    if (value === undefined) continue;
    if (BOOLEAN_TAGS.includes(key) && !truthy(value)) {
      const keep = (key === "nofailover" && tags.failover_priority !== undefined) ||
        (key === "nosync" && tags.sync_priority !== undefined);
      if (!keep) continue;
    }
    out[key] = value;
  }
  return out;
}

/** Age (ms) of the Postgres observation, or null when it is fresh enough to answer from. */
export function staleAge(snapshot: NodeSnapshot, now: number): number | null {
  const age = now - snapshot.pgObservedAt;
  return age > STALE_STATUS_MS ? Math.round(age) : null;
}

/** `is_leader`: the node believes it holds the leader key and the belief has not expired. */
export function holdsLeaderLock(snapshot: NodeSnapshot, now: number): boolean {
  return snapshot.isLeader && snapshot.leaderExpiresAt > now;
}

/**
 * Build the `GET /patroni` document from the snapshot. When Postgres is not queryable the document shrinks to
 * `state`/`role` plus the cluster- and node-level fields. A stale observation adds `stale_status_ms`.
 */
export function buildStatus(snapshot: NodeSnapshot, now: number): StatusBody {
  const pg = snapshot.pg;
  const cluster = snapshot.cluster;
  const out: StatusBody = {};
  if (pg.running && pg.queryable && pg.role !== null) {
    out.state = snapshot.state;
    if (pg.postmasterStartTime) out.postmaster_start_time = pg.postmasterStartTime;
    let role: string = pg.role;
    if (role === "replica" && isStandbyCluster(cluster)) role = snapshot.role;
    out.role = role;
    if (pg.serverVersion !== null) out.server_version = pg.serverVersion;
    out.xlog = pg.role === "primary" ? { location: pg.walPosition } : {
      received_location: pg.receiveLsn ?? pg.replayLsn,
      replayed_location: pg.replayLsn,
      replayed_timestamp: pg.replayedTimestamp,
      paused: pg.replayPaused,
    };
    if (pg.timeline !== null) out.timeline = pg.timeline;
    if (pg.role === "replica" && pg.replicationState) out.replication_state = pg.replicationState;
    if (pg.replication.length > 0) {
      out.replication = pg.replication.map(({ write_lsn: _w, replay_lsn: _r, ...r }) => r);
    }
    const mode = synchronousMode(cluster);
    if (role === "replica" && mode !== "off" && isListedSyncStandby(cluster, snapshot.name)) {
      out[mode === "quorum" ? "quorum_standby" : "sync_standby"] = true;
    }
  } else {
    out.state = snapshot.state === "running" ? "unknown" : snapshot.state;
    out.role = snapshot.role;
  }
  if (snapshot.dynamic.pause) out.pause = true;
  if (cluster === null || cluster.leader === null) out.cluster_unlocked = true;
  // As Patroni: the leader ran a full failsafe round, or this replica accepted one, within the last ttl.
  if (snapshot.failsafe?.active === true) out.failsafe_mode_is_active = true;
  out.dcs_last_seen = Math.trunc(snapshot.dcsLastSeen);
  const tags = filterTags(snapshot.tags);
  if (Object.keys(tags).length > 0) out.tags = tags;
  if (pg.sysid) out.database_system_identifier = pg.sysid;
  if (pg.pendingRestart) out.pending_restart = true;
  if (pg.pendingRestart && Object.keys(pg.pendingRestartReason ?? {}).length > 0) {
    out.pending_restart_reason = pg.pendingRestartReason;
  }
  if (snapshot.scheduledRestart) out.scheduled_restart = snapshot.scheduledRestart;
  if (snapshot.watchdogFailed) out.watchdog_failed = true;
  // hactl extension: the fencing supervisor (src/host/fence_client.ts); `usable: false` keeps peers from counting us.
  if (snapshot.fenceSupervisor) out.fence_supervisor = { ...snapshot.fenceSupervisor };
  // Patroni's fields (the advertised Patroni version), plus hactl's own version.
  out.patroni = {
    version: PATRONI_COMPATIBLE_VERSION,
    scope: snapshot.scope,
    name: snapshot.name,
    hactl_version: HACTL_VERSION,
  };
  // hactl extension: this member's last promotions, phase by phase, with the candidates it weighed.
  if (snapshot.roleChanges && snapshot.roleChanges.length > 0) out.role_changes = snapshot.roleChanges;
  const age = staleAge(snapshot, now);
  if (age !== null) out.stale_status_ms = age;
  return out;
}

/** The string form a configured tag value is compared with (`tag_<key>=<value>`): Python `str().lower()`. */
function tagText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null) return "none";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return String(value).toLowerCase();
  try {
    return String(JSON.stringify(value)).toLowerCase();
  } catch {
    return "";
  }
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Best estimate of the leader's WAL position: the DCS `/status` optime or what this replica already received. */
function leaderOptime(snapshot: NodeSnapshot): number {
  return Math.max(num(snapshot.cluster?.status?.optime) ?? 0, num(snapshot.pg.receiveLsn) ?? 0);
}

function xlogField(status: StatusBody, key: string): number | null {
  const xlog = status.xlog;
  if (xlog === null || typeof xlog !== "object") return null;
  return num((xlog as Record<string, unknown>)[key]);
}

/** Step 1 of §1.3: may this node take read-only traffic as a replica? */
function replicaCode(snapshot: NodeSnapshot, status: StatusBody, query: URLSearchParams): number {
  if (truthy(snapshot.tags?.noloadbalance)) return 503;
  if (status.role !== "replica" || status.state !== "running") return 503;
  const lagText = query.get("lag");
  const lag = lagText === null ? null : parseLag(lagText);
  if (lag !== null && leaderOptime(snapshot) > (xlogField(status, "replayed_location") ?? 0) + lag) {
    return 503;
  }
  const wantedState = query.get("replication_state");
  if (wantedState !== null && status.replication_state !== wantedState) return 503;
  return 200;
}

/**
 * The HTTP status of a health check (§1.3) for `path` (the request path without the query) and `query`.
 * `status` must be `buildStatus(snapshot, now)`. A stale snapshot always answers 503.
 */
export function healthCheckCode(
  snapshot: NodeSnapshot,
  status: StatusBody,
  path: string,
  query: URLSearchParams,
  now: number,
): number {
  if (staleAge(snapshot, now) !== null) return 503;
  const cluster = snapshot.cluster;
  const role = status.role;
  let replica = replicaCode(snapshot, status, query);
  let leader = 503;
  let primary = 503;
  let standbyLeader = 503;
  if (cluster === null && snapshot.dynamic.pause) {
    leader = role === "primary" || role === "standby_leader" ? 200 : 503;
    primary = role === "primary" ? 200 : 503;
    standbyLeader = role === "standby_leader" ? 200 : 503;
  } else if (holdsLeaderLock(snapshot, now)) {
    leader = 200;
    // The key holder of a standby cluster in recovery is the standby leader; a primary holding the key (a cluster
    // being demoted) still answers as the primary until it has stopped.
    if (isStandbyCluster(cluster) && role !== "primary") {
      replica = 503;
      standbyLeader = role === "replica" || role === "standby_leader" ? 200 : 503;
    } else {
      primary = 200;
    }
  }

  const p = path === "/" ? "/primary" : path;
  const leaderOrPrimaryOk = primary === 200 || standbyLeader === 200;
  let code = 503;
  let ignoreTags = false;
  if (p.includes("standby_leader") || p.includes("standby-leader")) {
    code = standbyLeader;
    ignoreTags = true;
  } else if (p.includes("leader")) {
    code = leader;
    ignoreTags = true;
  } else if (p.includes("master") || p.includes("primary") || p.includes("read-write")) {
    code = primary;
    ignoreTags = true;
  } else if (p.includes("replica")) {
    code = replica;
  } else if (p.includes("read-only") && !p.includes("sync") && !p.includes("quorum")) {
    code = leaderOrPrimaryOk ? 200 : replica;
  } else if (p.includes("health")) {
    code = status.state === "running" ? 200 : 503;
  } else if (cluster !== null) {
    const isSync = status.sync_standby === true;
    const isQuorum = status.quorum_standby === true;
    if (p === "/sync" || p === "/synchronous") code = isSync ? replica : 503;
    else if (p === "/quorum") code = isQuorum ? replica : 503;
    else if (p === "/async" || p === "/asynchronous") code = !isSync && !isQuorum ? replica : 503;
    else if (p === "/read-only-quorum") code = leaderOrPrimaryOk ? 200 : isQuorum ? replica : 503;
    else if (p === "/read-only-sync" || p === "/read-only-synchronous") {
      code = leaderOrPrimaryOk ? 200 : isSync ? replica : 503;
    }
  }

  if (code === 200 && !ignoreTags) {
    const tags = (snapshot.tags ?? {}) as Record<string, unknown>;
    for (const key of new Set(query.keys())) {
      if (!key.startsWith("tag_")) continue;
      const tag = key.slice(4);
      const wanted = query.get(key); // the first value, as Patroni reads parse_qs lists
      if (!Object.hasOwn(tags, tag) || tags[tag] === undefined || tagText(tags[tag]) !== wanted) return 503;
    }
  }
  return code;
}

/** `GET /liveness` (§1.4): the HA loop is not overdue (ttl for a running primary, 2*ttl otherwise) or paused. */
export function livenessCode(snapshot: NodeSnapshot, now: number): number {
  if (snapshot.dynamic.pause) return 200;
  const runningPrimary = snapshot.pg.running && snapshot.role === "primary";
  return snapshot.nextRunAt + livenessGraceMs(snapshot.dynamic, runningPrimary) > now ? 200 : 503;
}

/**
 * `GET /readiness?lag=<size>&mode=apply|write` (§1.4): the leader is ready; a replica is ready when it runs,
 * streams, has a recent view of the cluster and is within `lag` (default `maximum_lag_on_failover`).
 */
export function readinessCode(snapshot: NodeSnapshot, query: URLSearchParams, now: number): number {
  if (holdsLeaderLock(snapshot, now)) return 200;
  if (staleAge(snapshot, now) !== null) return 503;
  const pg = snapshot.pg;
  if (snapshot.state !== "running" || !pg.running) return 503;
  if (pg.replicationState !== "streaming") return 503;
  if (snapshot.cluster === null) return 503;
  const lagText = query.get("lag");
  const lag = (lagText === null ? null : parseLag(lagText)) ?? snapshot.dynamic.maximumLagOnFailover;
  const location = query.get("mode") === "write" ? pg.receiveLsn ?? pg.replayLsn : pg.replayLsn;
  const optime = num(snapshot.cluster.status?.optime) ?? 0;
  return optime - (location ?? 0) <= lag ? 200 : 503;
}
