/**
 * The dynamic (cluster-wide) configuration: Patroni's defaults, the Postgres parameters reserved for the agent
 * and the run-time rule that turns the DCS `config` document into
 * `DynamicSettings` (§3.1 item 5). Re-exported by `./config.ts`, which is where callers import it from.
 *
 * Pure and total: a garbage document yields defaults and warnings, never an exception. Imports `./types.ts`
 * and `./config_env.ts` only.
 *
 * @module
 */
import type { DynamicSettings } from "../core/types.ts";
import { isDoc, parseBoolText, parseIntWithUnits } from "./env.ts";

/** Patroni's defaults for the dynamic configuration. */
/**
 * The smallest `ttl` hactl accepts. Patroni's is 20; hactl's fence stops a primary before its lease can expire
 * whatever the ttl, so 10 s (with loop_wait 2, retry_timeout 4) is safe and brings unplanned failover near 10 s.
 */
export const MIN_TTL = 10;

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

/**
 * Reads the dynamic configuration (the DCS `config` key, the cache file or `bootstrap.dcs`) into
 * `DynamicSettings`, applying Patroni's run-time rule (§3.1 item 5):
 * - `loop_wait >= 1`, `retry_timeout >= 3`, `ttl >= 10` (Patroni: 20; hactl fences itself before its lease
 *   can expire, so a 10 s lease is safe and halves failover time): smaller values are raised, with a warning;
 * - if `loop_wait + 2*retry_timeout > ttl`, `loop_wait` is reduced (down to 1), then `retry_timeout` becomes
 *   `(ttl - loop_wait) // 2`, with a warning;
 * - values that cannot be read fall back to the default, with a warning naming the key;
 * - `postgresql.parameters`: `listen_addresses`, `port`, `cluster_name` are dropped; reserved GUCs with an
 *   invalid value fall back to their default (§3.4).
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
  const warn = (m: string) => warnings.push(m);
  const doc = isDoc(raw) ? raw : {};
  if (!isDoc(raw)) warn(`the dynamic configuration is ${show(raw)}, not a mapping; using the defaults`);

  const int = (key: string, fallback: number, unit: "s" | "B" = "s", from = doc): number => {
    const value = from[key];
    if (value === undefined || value === null) return fallback;
    const n = toInt(value, unit);
    if (n !== undefined) return n;
    warn(`${key}: ${show(value)} is not an integer; using the default ${fallback}`);
    return fallback;
  };
  const bool = (key: string, fallback: boolean, path = key, from = doc): boolean => {
    const value = from[key];
    if (value === undefined || value === null) return fallback;
    const b = toBool(value);
    if (b !== undefined) return b;
    warn(`${path}: ${show(value)} is not a boolean; using the default ${fallback}`);
    return fallback;
  };
  const atLeast = (key: string, value: number, min: number): number => {
    if (value >= min) return value;
    warn(`${key}: ${value} is below the minimum ${min}; using ${min}`);
    return min;
  };

  const ttl = atLeast("ttl", int("ttl", DYNAMIC_DEFAULTS.ttl), MIN_TTL);
  let loopWait = atLeast("loop_wait", int("loop_wait", DYNAMIC_DEFAULTS.loopWait), 1);
  let retryTimeout = atLeast("retry_timeout", int("retry_timeout", DYNAMIC_DEFAULTS.retryTimeout), 3);
  if (loopWait + 2 * retryTimeout > ttl) {
    const before = `loop_wait ${loopWait} + 2 * retry_timeout ${retryTimeout} > ttl ${ttl}`;
    loopWait = Math.max(1, ttl - 2 * retryTimeout);
    if (loopWait + 2 * retryTimeout > ttl) retryTimeout = Math.floor((ttl - loopWait) / 2);
    warn(`${before}: using loop_wait ${loopWait} and retry_timeout ${retryTimeout}`);
  }

  const legacyStart = doc.primary_start_timeout === undefined
    ? "master_start_timeout"
    : "primary_start_timeout";
  const pg = isDoc(doc.postgresql) ? doc.postgresql : {};
  if (doc.postgresql !== undefined && doc.postgresql !== null && !isDoc(doc.postgresql)) {
    warn(`postgresql: ${show(doc.postgresql)} is not a mapping; ignoring it`);
  }

  const parameters: Record<string, Scalar> = {};
  if (pg.parameters !== undefined && pg.parameters !== null && !isDoc(pg.parameters)) {
    warn(`postgresql.parameters: ${show(pg.parameters)} is not a mapping; ignoring it`);
  }
  for (const [name, value] of Object.entries(isDoc(pg.parameters) ? pg.parameters : {})) {
    if (value === null || value === undefined) continue;
    if (NEVER_DYNAMIC.includes(name)) {
      warn(`postgresql.parameters.${name}: is set by hactl from the local configuration; ignoring it`);
    } else if (typeof value === "object") {
      warn(`postgresql.parameters.${name}: ${show(value)} is not a scalar; ignoring it`);
    } else parameters[name] = checkGuc(name, value as Scalar, warn);
  }

  return {
    settings: {
      ttl,
      loopWait,
      retryTimeout,
      maximumLagOnFailover: int("maximum_lag_on_failover", DYNAMIC_DEFAULTS.maximumLagOnFailover, "B"),
      checkTimeline: bool("check_timeline", DYNAMIC_DEFAULTS.checkTimeline),
      primaryStartTimeout: atLeast(legacyStart, int(legacyStart, DYNAMIC_DEFAULTS.primaryStartTimeout), 0),
      pause: bool("pause", DYNAMIC_DEFAULTS.pause),
      useSlots: bool("use_slots", DYNAMIC_DEFAULTS.useSlots, "postgresql.use_slots", pg),
      usePgRewind: bool("use_pg_rewind", DYNAMIC_DEFAULTS.usePgRewind, "postgresql.use_pg_rewind", pg),
      memberSlotsTtl: atLeast(
        "member_slots_ttl",
        int("member_slots_ttl", DYNAMIC_DEFAULTS.memberSlotsTtl),
        0,
      ),
      isolationFenceTimeout: atLeast(
        "isolation_fence_timeout",
        int("isolation_fence_timeout", DYNAMIC_DEFAULTS.isolationFenceTimeout),
        0,
      ),
      parameters,
    },
    warnings,
  };
}
