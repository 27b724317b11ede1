/**
 * Restart requests (`POST /restart`, `hactl restart`): validating the body with Patroni's messages and status
 * codes, the conditions a restart is subject to (`role`, `postgres_version`,
 * `restart_pending`), and the rule for a scheduled restart at each HA cycle (wait, run, or drop it).
 *
 * Pure: no clock (times are arguments), no I/O. Imports `types.ts` only.
 *
 * @module
 */
import type { PgObservation, RestartConditions, RestartIntent } from "./types.ts";
import { staleAfterMs } from "./settings.ts";

export type { RestartConditions, RestartIntent };

/** A parsed `POST /restart` body, or the answer for a bad one. */
export type RestartRequest =
  | { ok: true; conditions: RestartConditions; schedule: { text: string; at: number } | null }
  | { ok: false; status: number; message: string };

const ALLOWED_KEYS = new Set(["schedule", "role", "postgres_version", "timeout", "restart_pending"]);

/**
 * A Postgres version `X.Y` / `X.Y.Z` as `server_version_num` (15.4 -> 150004, 9.6.3 -> 90603), or null when the
 * text is not such a version.
 */
export function parsePgVersion(text: string): number | null {
  const m = /^\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$/.exec(text);
  if (!m) return null;
  const [a, b, c] = [Number(m[1]), Number(m[2]), m[3] === undefined ? undefined : Number(m[3])];
  // Two parts: X.Y is the major and minor of 10+ (15.4), or the major of 9.x (9.6 -> 90600).
  if (c === undefined) return a >= 10 ? a * 10000 + b : a * 10000 + b * 100;
  if (a >= 10) return null; // 10+ has no third part
  return a * 10000 + b * 100 + c;
}

/** Seconds from `30`, `30s`, `2min`, `1h` (Patroni's units), or null. */
export function parseTimeoutSeconds(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : null;
  if (typeof value !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(value);
  if (!m) return null;
  const factor = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 }[m[2] ?? "s"]!;
  const seconds = Number(m[1]) * factor;
  return seconds > 0 ? seconds : null;
}

/**
 * ISO 8601 with a timezone (`Z` or `±HH:MM`), for `schedule`/`scheduled_at`: the epoch ms, or the answer Patroni
 * gives (`what` is `restart` or `switchover`).
 */
export function parseSchedule(
  text: string,
  what: string,
): { ok: true; at: number } | { ok: false; status: number; message: string } {
  const trimmed = text.trim();
  const at = Date.parse(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(trimmed) || Number.isNaN(at)) {
    return {
      ok: false,
      status: 422,
      message: "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
    };
  }
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed)) {
    return { ok: false, status: 400, message: `Timezone information is mandatory for the scheduled ${what}` };
  }
  return { ok: true, at };
}

/**
 * Validate a `POST /restart` body (already a JSON object; an absent body is `{}`), in Patroni's order: the
 * paused check for a schedule (500), the schedule, then each filter (400 naming it).
 */
export function parseRestartBody(
  body: Record<string, unknown>,
  opts: { paused: boolean; wallNow: number },
): RestartRequest {
  const fail = (status: number, message: string): RestartRequest => ({ ok: false, status, message });
  const conditions: RestartConditions = {};
  let schedule: { text: string; at: number } | null = null;
  if (body.schedule !== undefined && body.schedule !== null && body.schedule !== "") {
    if (opts.paused) return fail(500, "Can't schedule restart in the paused state");
    if (typeof body.schedule !== "string") {
      return fail(400, "schedule: must be an ISO 8601 timestamp with a timezone");
    }
    const parsed = parseSchedule(body.schedule, "restart");
    if (!parsed.ok) return fail(parsed.status, parsed.message);
    if (parsed.at < opts.wallNow) return fail(422, "Cannot schedule restart in the past");
    schedule = { text: body.schedule, at: parsed.at };
  }
  for (const [key, value] of Object.entries(body)) {
    if (!ALLOWED_KEYS.has(key)) return fail(400, `Unknown filter for the scheduled restart: ${key}`);
    if (key === "role") {
      const role = value === "master" ? "primary" : value;
      if (role !== "primary" && role !== "standby_leader" && role !== "replica") {
        return fail(400, "PostgreSQL role should be either primary, standby_leader, or replica");
      }
      conditions.role = role;
    } else if (key === "postgres_version") {
      if (typeof value !== "string" || !/^\s*\d+\.\d+(\.\d+)?\s*$/.test(value)) {
        return fail(400, `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${String(value)}`);
      }
      if (parsePgVersion(value) === null) return fail(400, `Invalid PostgreSQL version: ${value}`);
      conditions.postgresVersion = value.trim();
    } else if (key === "timeout") {
      const seconds = parseTimeoutSeconds(value);
      if (seconds === null) return fail(400, "Timeout should be a positive number of seconds");
      conditions.timeout = seconds;
    } else if (key === "restart_pending") {
      // Patroni: the key's presence is the filter.
      conditions.restartPending = true;
    }
  }
  return { ok: true, conditions, schedule };
}

/** What a member is, for matching the conditions. */
export interface RestartSubject {
  role: string;
  serverVersion: number | null;
  pendingRestart: boolean;
}

/** Null when the conditions hold; otherwise which one does not (for the log). */
export function unmetCondition(c: RestartConditions, s: RestartSubject): string | null {
  if (c.role !== undefined && c.role !== s.role) return `role is ${s.role}, not ${c.role}`;
  if (c.postgresVersion !== undefined) {
    const wanted = parsePgVersion(c.postgresVersion);
    if (wanted === null || s.serverVersion === null || s.serverVersion >= wanted) {
      return `the running version ${s.serverVersion ?? "unknown"} is not below ${c.postgresVersion}`;
    }
  }
  if (c.restartPending === true && !s.pendingRestart) return "no restart is pending";
  return null;
}

/** The `scheduled_restart` object of the member key and `GET /patroni`. */
export function scheduledRestartJson(intent: RestartIntent): Record<string, unknown> {
  const out: Record<string, unknown> = { schedule: intent.schedule ?? null };
  const c = intent.conditions;
  if (c.role !== undefined) out.role = c.role;
  if (c.postgresVersion !== undefined) out.postgres_version = c.postgresVersion;
  if (c.restartPending !== undefined) out.restart_pending = c.restartPending;
  if (c.timeout !== undefined) out.timeout = c.timeout;
  if (intent.postmasterStartTime !== null) out.postmaster_start_time = intent.postmasterStartTime;
  return out;
}

/** What one HA cycle does with a restart intent. */
export type RestartStep =
  | { kind: "none" }
  | { kind: "drop"; reason: string }
  | { kind: "restart"; reason: string };

/**
 * The cycle's verdict on a restart intent: an immediate one runs at once; a scheduled one waits until its time,
 * is dropped when Postgres restarted since it was scheduled, when it is found more than 1.5 * loop_wait late, or
 * when its conditions do not hold then; otherwise it runs.
 */
export function restartStep(
  intent: RestartIntent | null | undefined,
  pg: PgObservation,
  role: string,
  wallNow: number,
  loopWait: number,
): RestartStep {
  if (!intent) return { kind: "none" };
  if (intent.at === null) return { kind: "restart", reason: "restarting postgres on request" };
  if (intent.at > wallNow) return { kind: "none" };
  if (
    intent.postmasterStartTime !== null && pg.postmasterStartTime !== null &&
    intent.postmasterStartTime !== pg.postmasterStartTime
  ) {
    return { kind: "drop", reason: "cancelled the scheduled restart: postgres was restarted since" };
  }
  if (wallNow - intent.at > staleAfterMs({ loopWait })) {
    return {
      kind: "drop",
      reason: `dropped the scheduled restart: it is ${Math.round((wallNow - intent.at) / 1000)} s late`,
    };
  }
  const unmet = unmetCondition(intent.conditions, {
    role,
    serverVersion: pg.serverVersion,
    pendingRestart: pg.pendingRestart,
  });
  if (unmet !== null) {
    return {
      kind: "drop",
      reason: `cancelled the scheduled restart: restart conditions are not satisfied (${unmet})`,
    };
  }
  return { kind: "restart", reason: `restarting postgres as scheduled for ${intent.schedule ?? "now"}` };
}
