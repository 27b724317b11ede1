/**
 * The dynamic (cluster-wide) configuration: Patroni's defaults, the rules for its timing keys (minimums and
 * `loop_wait + 2 * retry_timeout <= ttl`, adjusted with a warning as Patroni does, the same in the check of
 * `bootstrap.dcs` in `./read.ts` and in the lenient run-time reading here), the Postgres parameters reserved for the agent, and `normalizeDynamic`, the one
 * reader that turns a dynamic document (the DCS `config` key or `bootstrap.dcs`) into `DynamicSettings`
 * (§3.1 item 5). Re-exported by `./config.ts`.
 *
 * Pure and total: a garbage document yields defaults and warnings, never an exception. May import: `src/core/`
 * (types), `./env.ts` and `./key_check.ts` (the document's keys against the table of every key).
 *
 * @module
 */
import type { DynamicSettings } from "../core/types.ts";
import { FENCE_CYCLE_ROOM_MS, fenceDeadline, maxLoopWaitForFence } from "../core/fence.ts";
import type { DynamicStopPart } from "../core/hook_types.ts";
import { type DynamicSyncFields, SYNC_OFF, type SyncModeName } from "../core/sync_types.ts";
import { type Doc, isDoc, parseBoolText, parseIntWithUnits } from "./env.ts";
import { checkDynamicKeys } from "./key_check.ts";
import { readRewindOptions, readRoleConfigs } from "./pg_role_config.ts";
import { readStandbyCluster } from "./standby_section.ts";
import { readIgnoreSlots, readPermanentSlots, type SlotSettingsPart } from "../core/slot_rules.ts";

/**
 * The smallest `ttl` hactl accepts. Patroni's is 20; hactl's fence stops a primary before its lease can expire
 * whatever the ttl. At 5 s (loop_wait 1, retry_timeout 2) the fencing supervisor still fires 625 ms before the
 * lease can expire, several times the worst timer lateness measured with both cores saturated and fsync stalled
 * (`scripts/bench/soak.sh`); below it that lead and the etcd deadlines (1 s per attempt) shrink towards the
 * scheduling and fsync delays of a loaded host.
 */
export const MIN_TTL = 5;

/** Patroni's defaults for the dynamic configuration (seconds, except `maximumLagOnFailover` in bytes). */
export const DYNAMIC_DEFAULTS: DynamicSettings = {
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  maximumLagOnFailover: 1048576,
  checkTimeline: false,
  primaryStartTimeout: 300,
  pause: false,
  useSlots: true,
  usePgRewind: false,
  memberSlotsTtl: 1800,
  isolationFenceTimeout: 3,
  parameters: {},
};

/**
 * The smallest value of each integer key of the dynamic configuration that has one (seconds), by YAML key. A value
 * below it is raised to it with a warning (the timing keys, as Patroni does, in `bootstrap.dcs` too); the other
 * keys are an error in `bootstrap.dcs`.
 */
export const DYNAMIC_MINIMUMS = {
  ttl: MIN_TTL,
  loop_wait: 1,
  retry_timeout: 2,
  primary_start_timeout: 0,
  primary_race_backoff: 0,
  member_slots_ttl: 0,
  isolation_fence_timeout: 0,
  primary_stop_timeout: 0,
  master_stop_timeout: 0,
} as const;

/** The timing part of the dynamic settings (seconds). */
export type Timing = Pick<DynamicSettings, "ttl" | "loopWait" | "retryTimeout">;

/** The timing keys in the order they are read and reported: YAML key, settings field. */
export const TIMING_KEYS: readonly (readonly ["ttl" | "loop_wait" | "retry_timeout", keyof Timing])[] = [
  ["ttl", "ttl"],
  ["loop_wait", "loopWait"],
  ["retry_timeout", "retryTimeout"],
];

/** Patroni's rule `loop_wait + 2 * retry_timeout <= ttl`: a member can retry etcd twice within one lease. */
export function timingFits(t: Timing): boolean {
  return t.loopWait + 2 * t.retryTimeout <= t.ttl;
}

/**
 * The run-time repair of timings that do not fit: `loop_wait` is reduced (down to 1), then `retry_timeout`
 * becomes `(ttl - loop_wait) // 2`. Timings that fit are returned unchanged.
 *
 * @example
 * ```ts
 * fitTiming({ ttl: 20, loopWait: 10, retryTimeout: 10 }); // { ttl: 20, loopWait: 1, retryTimeout: 9 }
 * ```
 */
export function fitTiming(t: Timing): Timing {
  if (timingFits(t)) return { ttl: t.ttl, loopWait: t.loopWait, retryTimeout: t.retryTimeout };
  const loopWait = Math.max(1, t.ttl - 2 * t.retryTimeout);
  const retryTimeout = loopWait + 2 * t.retryTimeout > t.ttl
    ? Math.floor((t.ttl - loopWait) / 2)
    : t.retryTimeout;
  return { ttl: t.ttl, loopWait, retryTimeout };
}

/**
 * Patroni's adjustment of the timing keys, which it applies instead of refusing them (to `bootstrap.dcs` at start
 * as to the `config` key later): each of `ttl`, `loop_wait`, `retry_timeout` below its minimum is raised to it,
 * then timings that break `loop_wait + 2 * retry_timeout <= ttl` are fitted ({@linkcode fitTiming}: `loop_wait`
 * lowered first, `retry_timeout` only when `loop_wait` is already 1), and a `loop_wait` that would leave the fence
 * no room for a cycle is lowered (hactl's own rule, {@linkcode withFenceRoom}). One warning per adjustment names the keys,
 * the values found and the values used; `path` (`bootstrap.dcs`) prefixes the keys.
 *
 * @example
 * ```ts
 * adjustTiming({ ttl: 21, loopWait: 2, retryTimeout: 10 }).timing; // { ttl: 21, loopWait: 1, retryTimeout: 10 }
 * ```
 */
export function adjustTiming(found: Timing, path?: string): { timing: Timing; warnings: string[] } {
  const at = (key: string) => path === undefined ? key : `${path}.${key}`;
  const warnings: string[] = [];
  const raised = { ...found };
  for (const [key, field] of TIMING_KEYS) {
    const min = DYNAMIC_MINIMUMS[key];
    if (raised[field] >= min) continue;
    warnings.push(`${at(key)}: ${raised[field]} is below the minimum ${min}; using ${min}`);
    raised[field] = min;
  }
  const fitted = fitTiming(raised);
  if (fitted.loopWait !== raised.loopWait || fitted.retryTimeout !== raised.retryTimeout) {
    const changed = ([["loop_wait", "loopWait"], ["retry_timeout", "retryTimeout"]] as const)
      .filter(([, field]) => fitted[field] !== raised[field])
      .map(([key, field]) => `${key} from ${raised[field]} to ${fitted[field]}`);
    warnings.push(
      `${path === undefined ? "" : `${path}: `}loop_wait + 2 * retry_timeout <= ttl is violated ` +
        `(${raised.loopWait} + 2 * ${raised.retryTimeout} > ${raised.ttl}): adjusting ${
          changed.join(" and ")
        }`,
    );
  }
  return { timing: withFenceRoom(fitted, warnings, path), warnings };
}

/**
 * hactl's own timing rule beside Patroni's: `loop_wait` is lowered, with a warning, until a leader's next renewal
 * starts at least a cycle's room before its fence deadline ({@linkcode maxLoopWaitForFence}). Timings that keep
 * `loop_wait + 2 * retry_timeout <= ttl` with a `retry_timeout` of 3 or more always leave that room; only a
 * smaller `retry_timeout` (allowed for the short lease) can break it, as ttl 20 / loop_wait 16 / retry_timeout 2
 * does (fence deadline 15 s after a renewal starts, next renewal 16 s after it).
 */
function withFenceRoom(t: Timing, warnings: string[], path?: string): Timing {
  const limit = Math.max(1, maxLoopWaitForFence(t.ttl));
  if (t.loopWait <= limit) return t;
  const margin = (t.ttl * 1000 - fenceDeadline(0, t.ttl)) / 1000;
  warnings.push(
    `${path === undefined ? "" : `${path}: `}loop_wait ${t.loopWait} leaves less than ${
      FENCE_CYCLE_ROOM_MS / 1000
    } s between the next renewal and the ` +
      `fence deadline (ttl ${t.ttl} - ${margin} s margin): adjusting loop_wait from ${t.loopWait} to ${limit}`,
  );
  return { ...t, loopWait: limit };
}

/** GUCs a local `postgresql.parameters` may not set (§3.4): they are dropped silently. */
export const PROTECTED_PARAMETERS: readonly string[] = [
  "listen_addresses",
  "port",
  "cluster_name",
  "max_connections",
  "max_locks_per_transaction",
  "max_worker_processes",
  "max_prepared_transactions",
  "wal_level",
  "track_commit_timestamp",
  "max_wal_senders",
  "max_replication_slots",
  "wal_keep_segments",
  "wal_keep_size",
  "wal_log_hints",
  "hot_standby",
];

/** GUCs that come from the local config (`postgresql.listen`, `scope`) and are never taken from the DCS. */
const NEVER_DYNAMIC = ["listen_addresses", "port", "cluster_name"];

/** Integer GUCs validated when set dynamically: [default, minimum]. */
const INT_GUCS: Record<string, [number, number]> = {
  max_connections: [100, 25],
  max_locks_per_transaction: [64, 32],
  max_worker_processes: [8, 2],
  max_prepared_transactions: [0, 0],
  max_wal_senders: [10, 3],
  max_replication_slots: [10, 4],
  wal_keep_segments: [8, 1],
};

type Scalar = string | number | boolean;

/**
 * `synchronous_mode` (true/on, false/off, quorum), `synchronous_mode_strict`, `synchronous_node_count` (at least
 * 1) and `maximum_lag_on_syncnode` (bytes), as Patroni reads them; nothing when none is set (the companions act
 * only while the mode is on or quorum).
 */
function readSync(r: LenientReader, doc: Doc): DynamicSyncFields {
  const raw = doc.synchronous_mode;
  let mode: SyncModeName = "off";
  if (typeof raw === "string" && raw.trim().toLowerCase() === "quorum") mode = "quorum";
  else if (raw !== undefined && raw !== null) {
    const on = toBool(raw);
    if (on === undefined) r.warn(`synchronous_mode: ${show(raw)} is not true, false or quorum; using false`);
    else if (on) mode = "on";
  }
  const companions = ["synchronous_mode_strict", "synchronous_node_count", "maximum_lag_on_syncnode"];
  if (mode === "off" && companions.every((k) => doc[k] === undefined || doc[k] === null)) return {};
  return {
    synchronous: {
      mode,
      strict: r.bool(doc, "synchronous_mode_strict", SYNC_OFF.strict),
      nodeCount: r.intAtLeast(doc, "synchronous_node_count", SYNC_OFF.nodeCount, 1),
      maximumLagOnSyncnode: r.int(doc, "maximum_lag_on_syncnode", SYNC_OFF.maximumLagOnSyncnode, "B"),
    },
  };
}

/** `max_timelines_history`, only when above 0 (0: the whole history, as Patroni). */
function readMaxTimelinesHistory(r: LenientReader, doc: Doc): { maxTimelinesHistory?: number } {
  const max = r.intAtLeast(doc, "max_timelines_history", 0, 0);
  return max > 0 ? { maxTimelinesHistory: max } : {};
}

/**
 * `postgresql.recovery_conf` of the dynamic document: recovery parameters of a replica (scalars; a local
 * `postgresql.recovery_conf` wins, as Patroni's local `postgresql` keys do). Absent when not set; a value that is
 * not a mapping of scalars is warned about and ignored.
 */
function readDynamicRecoveryConf(r: LenientReader, pg: Doc): { recoveryConf?: Record<string, Scalar> } {
  const v = pg.recovery_conf;
  if (v === undefined || v === null) return {};
  const scalar = (x: unknown) => ["string", "number", "boolean"].includes(typeof x);
  if (isDoc(v) && Object.values(v).every(scalar)) {
    return Object.keys(v).length > 0 ? { recoveryConf: v as Record<string, Scalar> } : {};
  }
  r.warn(`postgresql.recovery_conf: ${show(v)} is not a mapping of recovery parameters; ignoring it`);
  return {};
}

/** `primary_stop_timeout` (or its older name), only when above 0. */
function readStopKeys(r: LenientReader, doc: Doc): DynamicStopPart {
  const stopKey = doc.primary_stop_timeout === undefined ? "master_stop_timeout" : "primary_stop_timeout";
  const stop = r.intAtLeast(doc, stopKey, 0, DYNAMIC_MINIMUMS[stopKey]);
  return stop > 0 ? { primaryStopTimeout: stop } : {};
}

function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return value === null ? "null" : Array.isArray(value) ? "a list" : "a mapping";
}

function toInt(value: unknown, unit: "s" | "B"): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === "string") return parseIntWithUnits(value, unit);
  return undefined;
}

function toBool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return parseBoolText(value);
  if (value === 0 || value === 1) return value === 1;
  return undefined;
}

/** Checks the dynamic value of one reserved GUC; returns the value to use. */
function checkGuc(name: string, value: Scalar, warn: (m: string) => void): Scalar {
  const invalid = (fallback: Scalar, why: string): Scalar => {
    warn(`postgresql.parameters.${name}: ${show(value)} ${why}; using the default ${fallback}`);
    return fallback;
  };
  if (name in INT_GUCS) {
    const [fallback, min] = INT_GUCS[name];
    const n = typeof value === "number"
      ? value
      : typeof value === "string" && /^\s*-?\d+\s*$/.test(value)
      ? Number(value)
      : NaN;
    if (!Number.isInteger(n)) return invalid(fallback, "is not an integer");
    return n < min ? invalid(fallback, `is below the minimum ${min}`) : n;
  }
  if (name === "wal_level") {
    return ["hot_standby", "replica", "logical"].includes(String(value))
      ? value
      : invalid("hot_standby", "is not one of hot_standby, replica, logical");
  }
  if (name === "hot_standby") return toBool(value) === true ? value : invalid("on", "must be on");
  if (name === "track_commit_timestamp" || name === "wal_log_hints") {
    return toBool(value) === undefined
      ? invalid(name === "wal_log_hints" ? "on" : "off", "is not a boolean")
      : value;
  }
  return value;
}

/** A reader of the dynamic document that never fails: a value it cannot use becomes the fallback, with a warning. */
class LenientReader {
  constructor(readonly warn: (message: string) => void) {}

  /** An integer (with units: `"s"` seconds, `"B"` bytes); null/absent gives the fallback silently. */
  int(from: Doc, key: string, fallback: number, unit: "s" | "B" = "s"): number {
    const value = from[key];
    if (value === undefined || value === null) return fallback;
    const n = toInt(value, unit);
    if (n !== undefined) return n;
    this.warn(`${key}: ${show(value)} is not an integer; using the default ${fallback}`);
    return fallback;
  }

  /** An integer in seconds raised to `min` (with a warning) when below it. */
  intAtLeast(from: Doc, key: string, fallback: number, min: number): number {
    const value = this.int(from, key, fallback);
    if (value >= min) return value;
    this.warn(`${key}: ${value} is below the minimum ${min}; using ${min}`);
    return min;
  }

  bool(from: Doc, key: string, fallback: boolean, path = key): boolean {
    const value = from[key];
    if (value === undefined || value === null) return fallback;
    const b = toBool(value);
    if (b !== undefined) return b;
    this.warn(`${path}: ${show(value)} is not a boolean; using the default ${fallback}`);
    return fallback;
  }
}

/**
 * The run-time timing rule: each of `ttl`, `loop_wait`, `retry_timeout` read (garbage: the default), then adjusted
 * as {@linkcode adjustTiming} does, with a warning per adjustment.
 */
function readTiming(r: LenientReader, doc: Doc): Timing {
  const [ttl, loopWait, retryTimeout] = TIMING_KEYS.map(([key, field]) =>
    r.int(doc, key, DYNAMIC_DEFAULTS[field])
  );
  const { timing, warnings } = adjustTiming({ ttl: ttl!, loopWait: loopWait!, retryTimeout: retryTimeout! });
  warnings.forEach(r.warn);
  return timing;
}

/** `postgresql` of the dynamic document (a mapping, else ignored with a warning). */
function readPgSection(r: LenientReader, doc: Doc): Doc {
  if (doc.postgresql !== undefined && doc.postgresql !== null && !isDoc(doc.postgresql)) {
    r.warn(`postgresql: ${show(doc.postgresql)} is not a mapping; ignoring it`);
  }
  return isDoc(doc.postgresql) ? doc.postgresql : {};
}

/** `postgresql.pg_hba`: a list of lines (undefined when absent, or not a list of strings, with a warning). */
/**
 * `slots` (or its older names) and `ignore_slots`: the permanent physical and logical slots and the matchers; bad
 * entries are warned about and left out.
 */
function readSlots(r: LenientReader, doc: Doc): SlotSettingsPart {
  const permanent = readPermanentSlots(doc);
  for (const bad of permanent.invalid) r.warn(`slots: ${bad}; ignoring it`);
  const ignore = readIgnoreSlots(doc.ignore_slots);
  for (const bad of ignore.invalid) r.warn(`ignore_slots: ${bad}; ignoring it`);
  return {
    ...(permanent.physical.length > 0 ? { permanentSlots: permanent.physical } : {}),
    ...(permanent.logical.length > 0 ? { logicalSlots: permanent.logical } : {}),
    ...(ignore.matchers.length > 0 ? { ignoreSlots: ignore.matchers } : {}),
  };
}

function readPgHba(r: LenientReader, pg: Doc, key: "pg_hba" | "pg_ident" = "pg_hba"): string[] | undefined {
  const v = pg[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((l) => typeof l === "string")) return v as string[];
  r.warn(`postgresql.${key}: ${show(v)} is not a list of lines; ignoring it`);
  return undefined;
}

/** `postgresql.parameters`: the local-only GUCs dropped, reserved GUCs checked (§3.4). */
function readParameters(r: LenientReader, pg: Doc): Record<string, Scalar> {
  const parameters: Record<string, Scalar> = {};
  if (pg.parameters !== undefined && pg.parameters !== null && !isDoc(pg.parameters)) {
    r.warn(`postgresql.parameters: ${show(pg.parameters)} is not a mapping; ignoring it`);
  }
  for (const [name, value] of Object.entries(isDoc(pg.parameters) ? pg.parameters : {})) {
    if (value === null || value === undefined) continue;
    if (NEVER_DYNAMIC.includes(name)) {
      r.warn(`postgresql.parameters.${name}: is set by hactl from the local configuration; ignoring it`);
    } else if (typeof value === "object") {
      r.warn(`postgresql.parameters.${name}: ${show(value)} is not a scalar; ignoring it`);
    } else parameters[name] = checkGuc(name, value as Scalar, r.warn);
  }
  return parameters;
}

/**
 * Reads the dynamic configuration (the DCS `config` key, the cache file or `bootstrap.dcs`) into
 * `DynamicSettings`, applying Patroni's run-time rule (§3.1 item 5). This is the one reader of a dynamic
 * document: the agent, the simulator and the control commands all go through it.
 * - `loop_wait >= 1`, `retry_timeout >= 3`, `ttl >= 10` (Patroni: 20; hactl fences itself before its lease
 *   can expire, so a 10 s lease is safe and halves failover time): smaller values are raised, with a warning;
 * - if `loop_wait + 2*retry_timeout > ttl`, `loop_wait` is reduced (down to 1), then `retry_timeout` becomes
 *   `(ttl - loop_wait) // 2`, with a warning;
 * - values that cannot be read fall back to the default, with a warning naming the key;
 * - `postgresql.parameters`: `listen_addresses`, `port`, `cluster_name` are dropped; reserved GUCs with an
 *   invalid value fall back to their default (§3.4);
 * - a key hactl does not support yet, set to a value that changes behaviour, is ignored with a warning, and when
 *   it is a promise (`synchronous_mode`, `standby_cluster`) it is named in
 *   `unsupportedGuarantees` (the agent then does not take the leader key); unknown keys are warned about.
 *
 * The document itself is not modified (the DCS document is never rewritten).
 *
 * @example
 * ```ts
 * normalizeDynamic({ ttl: 20, loop_wait: 10, retry_timeout: 10 }).settings; // loopWait 1, retryTimeout 9
 * ```
 */
export function normalizeDynamic(
  raw: Record<string, unknown>,
): { settings: DynamicSettings; warnings: string[] } {
  const warnings: string[] = [];
  const r = new LenientReader((m) => warnings.push(m));
  const doc = isDoc(raw) ? raw : {};
  if (!isDoc(raw)) r.warn(`the dynamic configuration is ${show(raw)}, not a mapping; using the defaults`);

  const keys = checkDynamicKeys(doc);
  for (const { key, message } of keys.refused) r.warn(`${key}: ${message}; ignored`);
  keys.warnings.forEach(r.warn);
  const timing = readTiming(r, doc);
  const pg = readPgSection(r, doc);
  const parameters = readParameters(r, pg);
  const pgHba = readPgHba(r, pg);
  const pgIdent = readPgHba(r, pg, "pg_ident");
  const lenient = (path: string, message: string) => r.warn(`${path}: ${message}; ignoring it`);
  const roleConfig = readRoleConfigs(pg, lenient);
  const rewind = readRewindOptions(pg, lenient);
  const startKey = doc.primary_start_timeout === undefined ? "master_start_timeout" : "primary_start_timeout";
  const d = DYNAMIC_DEFAULTS;
  const min = DYNAMIC_MINIMUMS;
  const sync = readSync(r, doc);
  // A standby_cluster section that asks for what hactl cannot do yet is not in force at all (the cluster is not
  // led while it stands, and its leader stays what it was), rather than half applied.
  const standby = keys.guarantees.some((g) => g.startsWith("standby_cluster"))
    ? {}
    : readStandbyCluster(doc, r.warn);
  return {
    settings: {
      ...timing,
      maximumLagOnFailover: r.int(doc, "maximum_lag_on_failover", d.maximumLagOnFailover, "B"),
      checkTimeline: r.bool(doc, "check_timeline", d.checkTimeline),
      primaryStartTimeout: r.intAtLeast(doc, startKey, d.primaryStartTimeout, min.primary_start_timeout),
      ...(doc.primary_race_backoff !== undefined && doc.primary_race_backoff !== null
        ? { primaryRaceBackoff: r.intAtLeast(doc, "primary_race_backoff", 0, min.primary_race_backoff) }
        : {}),
      pause: r.bool(doc, "pause", d.pause),
      useSlots: r.bool(pg, "use_slots", d.useSlots, "postgresql.use_slots"),
      usePgRewind: r.bool(pg, "use_pg_rewind", d.usePgRewind, "postgresql.use_pg_rewind"),
      memberSlotsTtl: r.intAtLeast(doc, "member_slots_ttl", d.memberSlotsTtl, min.member_slots_ttl),
      isolationFenceTimeout: r.intAtLeast(
        doc,
        "isolation_fence_timeout",
        d.isolationFenceTimeout,
        min.isolation_fence_timeout,
      ),
      parameters,
      ...(doc.failsafe_mode !== undefined ? { failsafeMode: r.bool(doc, "failsafe_mode", false) } : {}),
      ...(pgHba !== undefined ? { pgHba } : {}),
      ...(pgIdent !== undefined ? { pgIdent } : {}),
      ...(roleConfig !== undefined ? { roleConfig } : {}),
      ...(rewind !== undefined ? { rewind } : {}),
      // Synchronous replication is off in a standby cluster, as in Patroni (its standbys replicate from a
      // standby leader that cannot commit); it takes effect when the cluster is promoted.
      ...(standby.standbyCluster ? {} : sync),
      ...readSlots(r, doc),
      ...standby,
      ...readStopKeys(r, doc),
      ...readMaxTimelinesHistory(r, doc),
      ...readDynamicRecoveryConf(r, pg),
      ...(keys.guarantees.length > 0 ? { unsupportedGuarantees: keys.guarantees } : {}),
    },
    warnings,
  };
}
