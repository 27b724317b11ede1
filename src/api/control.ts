/**
 * The REST API's control endpoints for planned handovers: `POST /switchover`, `POST /failover`,
 * `DELETE /switchover`, with Patroni's validation order, messages and status codes.
 * They only write the `failover` key and watch the outcome: the agents act (the API never decides). Also
 * `PATCH`/`PUT /config`, which refuse (400) a document setting a key hactl does not support yet
 * (`config: <key>: not supported by hactl yet`, src/config/key_check.ts).
 *
 * I/O only through the deps it is given (a DCS reader/writer, the peer client, a sleep); no Deno.* here.
 *
 * @module
 */
import type { ClusterView, PeerStatus, RestartConditions } from "../core/types.ts";
import { unsupportedDynamicProblems } from "../config/key_check.ts";
import { parseRestartBody } from "../core/restart.ts";
import { switchoverWaitSeconds } from "../core/settings.ts";
import { handoverLimitation, raceLimitation } from "../core/switchover.ts";
import { clusterTimeline } from "../core/topology.ts";
import { normalizeDynamic } from "../config/dynamic.ts";
import { syncRequested, syncSwitchoverRefusal } from "../core/sync.ts";
import type { SyncConfig } from "../core/sync_types.ts";
import type { DeleteRestartResult, RestartNowResult, ScheduleRestartResult } from "../core/requests.ts";

/** What the control endpoints need from the agent. */
export interface ControlDeps {
  /** A fresh read of the cluster from etcd. */
  readCluster(): Promise<ClusterView>;
  /** Write the `failover` key; with `modRevision` as a CAS. False when the CAS lost. */
  setFailover(value: Record<string, unknown>, modRevision?: string): Promise<boolean>;
  /** The members' `GET /patroni`, in parallel, each bounded by `timeoutMs`. */
  fetchStatuses(members: { name: string; apiUrl: string }[], timeoutMs: number): Promise<PeerStatus[]>;
  sleep(ms: number): Promise<void>;
  /** Wall clock, epoch ms. */
  wallNow(): number;
  /** The dynamic config's `pause` and `loop_wait` as the agent knows them. */
  paused(): boolean;
  loopWait(): number;
  /** Logged at WARNING (a failover request carrying `leader` becomes a switchover). */
  warn(message: string): void;
  /** Logged at INFO (why each candidate of a refused switchover or failover could not take over). */
  info?(message: string): void;
  /** Ask this member to reinitialise; null when accepted, else why not. */
  reinit?(force: boolean, fromLeader: boolean): string | null;
  /** Write the `config` key; with `modRevision` as a CAS. False when the CAS lost. */
  setConfig(value: Record<string, unknown>, modRevision?: string): Promise<boolean>;
  /** Wake the HA loop (a new config takes effect at once). */
  wake(): void;
  /** Restart Postgres now; resolves once it is up again, or with why not (`restartNowReply` maps it to HTTP). */
  restartNow?(conditions: RestartConditions): Promise<RestartNowResult>;
  /** Keep a restart for `at` (epoch ms), unless one is already scheduled. */
  scheduleRestart?(conditions: RestartConditions, schedule: string, at: number): ScheduleRestartResult;
  /** Forget the scheduled restart, if there is one. */
  deleteScheduledRestart?(): DeleteRestartResult;
  /** Re-read the local configuration and reload Postgres (in the background). */
  reload?(): void;
  /** A leader's `POST /failsafe` (failsafe mode): accepted (200 `Accepted`, `lsn`) or refused saying why. */
  failsafeCall?(body: unknown): { status: number; body: string; lsn?: number; ttl?: number };
}

/**
 * Patroni's merge-patch for `PATCH /config`: `null` deletes a key, two objects merge recursively, anything else
 * replaces the old value when the two differ.
 */
export function mergePatch(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const old = out[k];
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(old)) out[k] = mergePatch(old, v);
    else out[k] = v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `GET /config`: the stored dynamic configuration as stored; 502 without the key. */
export async function getConfig(deps: ControlDeps): Promise<{ status: number; body: unknown }> {
  try {
    const view = await deps.readCluster();
    return view.config ? { status: 200, body: view.config.value } : { status: 502, body: "No configuration" };
  } catch {
    return { status: 503, body: "DCS is not accessible" };
  }
}

/** `PATCH /config`: merge, CAS-write on the key's revision (409 on a race), answer with the merged document. */
export async function patchConfig(
  deps: ControlDeps,
  patch: Record<string, unknown>,
): Promise<{ status: number; body: unknown }> {
  if (Object.keys(patch).length === 0) return { status: 400, body: "request body is an empty JSON object" };
  let view: ClusterView;
  try {
    view = await deps.readCluster();
  } catch {
    return { status: 503, body: "DCS is not accessible" };
  }
  if (!view.config) return { status: 503, body: "No configuration" };
  const merged = mergePatch(view.config.value, patch);
  const refused = unsupportedDynamicProblems(merged, "config");
  if (refused.length > 0) return { status: 400, body: refused.join("\n") };
  if (JSON.stringify(merged) !== JSON.stringify(view.config.value)) {
    try {
      if (!(await deps.setConfig(merged, view.config.modRevision))) {
        return { status: 409, body: "Conflict: the configuration changed meanwhile" };
      }
    } catch {
      return { status: 503, body: "DCS is not accessible" };
    }
    deps.wake();
  }
  return { status: 200, body: merged };
}

/** `PUT /config`: replace the whole document (no CAS, as Patroni). */
export async function putConfig(
  deps: ControlDeps,
  value: Record<string, unknown>,
): Promise<{ status: number; body: unknown }> {
  const refused = unsupportedDynamicProblems(value, "config");
  if (refused.length > 0) return { status: 400, body: refused.join("\n") };
  try {
    const view = await deps.readCluster();
    if (JSON.stringify(view.config?.value ?? null) !== JSON.stringify(value)) {
      if (!(await deps.setConfig(value))) return { status: 502, body: "failed to write the configuration" };
      deps.wake();
    }
    return { status: 200, body: value };
  } catch {
    return { status: 502, body: "failed to write the configuration" };
  }
}

/**
 * `POST /reinitialize` (`{"force": true}` also while an operation runs; `{"from_leader": true}` clones from the
 * leader with pg_basebackup only, as Patroni's).
 */
export function postReinitialize(deps: ControlDeps, body: Record<string, unknown>): ControlReply {
  if (!deps.reinit) return reply(501, "reinitialize is not available");
  const refusal = deps.reinit(body.force === true, body.from_leader === true);
  return refusal === null ? reply(200, "reinitialize started") : reply(503, refusal);
}

/** `POST /restart`: validate (Patroni's messages), then restart now or keep the schedule. */
export async function postRestart(deps: ControlDeps, body: Record<string, unknown>): Promise<ControlReply> {
  if (!deps.restartNow || !deps.scheduleRestart) return reply(501, "restart is not available");
  const parsed = parseRestartBody(body, { paused: deps.paused(), wallNow: deps.wallNow() });
  if (!parsed.ok) return reply(parsed.status, parsed.message);
  if (parsed.schedule) {
    return scheduleRestartReply(
      deps.scheduleRestart(parsed.conditions, parsed.schedule.text, parsed.schedule.at),
    );
  }
  return restartNowReply(await deps.restartNow(parsed.conditions));
}

/**
 * Patroni's answer to a restart asked for now: 200 `restarted successfully`; 503 with the reason otherwise
 * (`<job> already in progress`, `postgres is still starting`, `restart conditions are not satisfied`,
 * `restart failed` for a failed or timed-out restart).
 */
export function restartNowReply(r: RestartNowResult): ControlReply {
  switch (r.kind) {
    case "restarted":
      return reply(200, "restarted successfully");
    case "busy":
      return reply(503, `${r.what} already in progress`);
    case "not_running":
      return reply(503, "postgres is still starting");
    case "conditions_unmet":
      return reply(503, "restart conditions are not satisfied");
    case "failed":
    case "timed_out":
      return reply(503, "restart failed");
  }
}

/** 202 `Restart scheduled`, or 409 when one is already scheduled. */
export function scheduleRestartReply(r: ScheduleRestartResult): ControlReply {
  return r.kind === "scheduled"
    ? reply(202, "Restart scheduled")
    : reply(409, "Another restart is already scheduled");
}

/** `DELETE /restart`: 200 `scheduled restart deleted` / 404 `no restarts are scheduled`. */
export function deleteRestart(deps: ControlDeps): ControlReply {
  if (!deps.deleteScheduledRestart) return reply(501, "restart is not available");
  const r = deps.deleteScheduledRestart();
  return r.kind === "deleted"
    ? reply(200, "scheduled restart deleted")
    : reply(404, "no restarts are scheduled");
}

/** `POST /reload`: always 202 `reload scheduled` (the work happens in the background). */
export function postReload(deps: ControlDeps): ControlReply {
  if (!deps.reload) return reply(501, "reload is not available");
  deps.reload();
  return reply(202, "reload scheduled");
}

/** A reply: status and plain-text body (Patroni sends these as text/html). */
export interface ControlReply {
  status: number;
  body: string;
}

const reply = (status: number, body: string): ControlReply => ({ status, body });

/** ISO 8601 with a timezone (`Z` or `±HH:MM`/`±HHMM`). */
function parseScheduled(text: string): { ok: true; at: number } | { ok: false; reply: ControlReply } {
  const trimmed = text.trim();
  const at = Date.parse(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(trimmed) || Number.isNaN(at)) {
    return {
      ok: false,
      reply: reply(
        422,
        "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
      ),
    };
  }
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed)) {
    return { ok: false, reply: reply(400, "Timezone information is mandatory for the scheduled switchover") };
  }
  return { ok: true, at };
}

function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** `POST /switchover` (`failover` false) or `POST /failover`, the body already parsed as a JSON object. */
export async function postSwitchover(
  deps: ControlDeps,
  body: Record<string, unknown>,
  failoverPath: boolean,
): Promise<ControlReply> {
  const leader = stringField(body, "leader");
  const candidate = stringField(body, "candidate") ?? stringField(body, "member");
  const scheduled = stringField(body, "scheduled_at");
  if (failoverPath && !candidate) {
    return reply(400, "Failover could be performed only to a specific candidate");
  }
  if (!failoverPath && !leader) {
    return reply(400, "Switchover could be performed only from a specific leader");
  }
  let scheduledAt: number | null = null;
  if (scheduled) {
    if (failoverPath) return reply(400, "Failover can't be scheduled");
    if (deps.paused()) return reply(400, "Can't schedule switchover in the paused state");
    const parsed = parseScheduled(scheduled);
    if (!parsed.ok) return parsed.reply;
    if (parsed.at < deps.wallNow()) return reply(422, "Cannot schedule switchover in the past");
    scheduledAt = parsed.at;
  }
  if (deps.paused() && !candidate) {
    return reply(400, "Switchover is possible only to a specific candidate in a paused state");
  }
  let action = failoverPath ? "failover" : "switchover";
  if (failoverPath && leader) {
    deps.warn(`a failover request names leader '${leader}': handled as a switchover`);
    action = "switchover";
  }
  if (leader && leader === candidate) return reply(400, "Switchover target and source are the same");

  let view: ClusterView;
  try {
    view = await deps.readCluster();
  } catch {
    return reply(503, "DCS is not accessible");
  }
  if (scheduledAt === null) {
    const refusal = await feasibility(deps, view, action, leader, candidate);
    if (refusal) return refusal;
  }
  const value: Record<string, unknown> = {};
  if (leader) value.leader = leader;
  if (candidate) value.member = candidate;
  if (scheduled) value.scheduled_at = scheduled;
  try {
    if (!(await deps.setFailover(value))) return reply(503, "failed to write failover key into DCS");
  } catch {
    return reply(503, "failed to write failover key into DCS");
  }
  if (scheduledAt !== null) return reply(202, "Switchover scheduled");
  return await awaitOutcome(deps, view.leader?.name ?? null, candidate, action);
}

/**
 * Patroni's pre-checks for an immediate request (412 with the reason), or null when it may go ahead. A candidate
 * must answer, not be nofailover, have a working watchdog and pass the check its agent will make: with a leader,
 * the leader's hand-over check (streaming, on the leader's timeline, within maximum_lag_on_failover); without
 * one, the race's (lag behind `/status`, the cluster's timeline with check_timeline).
 */
async function feasibility(
  deps: ControlDeps,
  view: ClusterView,
  action: string,
  leader: string | undefined,
  candidate: string | undefined,
): Promise<ControlReply | null> {
  if (leader && view.leader?.name !== leader) return reply(412, "leader name does not match");
  const sync = syncConfigOf(view);
  const syncRefusal = syncSwitchoverRefusal(
    sync,
    view.sync,
    candidate,
    action === "failover" ? "failover" : "switchover",
  );
  if (syncRefusal) return reply(412, syncRefusal);
  if (candidate && !view.members.some((m) => m.name === candidate)) {
    return reply(412, "candidate does not exists");
  }
  // In synchronous mode, without a candidate, only the sync standbys can take over (Patroni's pre-check).
  const syncPool = !candidate && syncRequested(sync) && sync.mode === "on";
  const pool = view.members.filter((m) =>
    candidate ? m.name === candidate : m.name !== (leader ?? view.leader?.name) &&
      (!syncPool || (view.sync?.syncStandby ?? []).includes(m.name))
  );
  if (pool.length === 0) {
    return reply(412, `${action} is not possible: cluster does not have members except leader`);
  }
  const asked = pool.filter((m) => m.data.api_url).map((m) => ({ name: m.name, apiUrl: m.data.api_url }));
  let why: { name: string; why: string | null }[] = [];
  // A candidate that only is not streaming (yet: its WAL receiver reconnects within seconds after the leader
  // restarted) is asked again once a second for a few seconds before the request is refused.
  for (let attempt = 0; attempt <= STREAM_WAIT_SECONDS; attempt++) {
    if (attempt > 0) await deps.sleep(1000);
    const statuses = await deps.fetchStatuses(asked, 2000);
    why = pool.map((m) => ({ name: m.name, why: limitation(view, statuses.find((s) => s.name === m.name)) }));
    if (why.some((w) => w.why === null)) return null;
    if (!why.some((w) => w.why?.startsWith("is not streaming"))) break;
  }
  // The answer is Patroni's, word for word (scripts compare it); this member's log names each candidate and why.
  deps.info?.(`${action} refused: ${why.map((w) => `candidate '${w.name}' ${w.why}`).join("; ")}`);
  return reply(412, `${action} is not possible: no good candidates have been found`);
}

/** How long a switchover or failover waits for a named candidate that is not streaming yet, in seconds. */
export const STREAM_WAIT_SECONDS = 10;

/** The synchronous replication settings of the cluster's dynamic configuration (undefined: off). */
function syncConfigOf(view: ClusterView): SyncConfig | undefined {
  return normalizeDynamic(view.config?.value ?? {}).settings.synchronous;
}

/** Why this member cannot take over now (src/core/switchover.ts, as the agents judge it), or null. */
function limitation(view: ClusterView, st: PeerStatus | undefined): string | null {
  if (!st || !st.reachable) return "did not answer over its REST API";
  if (st.nofailover === true) return "is tagged nofailover";
  if (st.watchdogFailed === true) return "has a failed watchdog";
  if (st.fenceFailed === true) return "has no usable fencing supervisor";
  const dynamic = normalizeDynamic(view.config?.value ?? {}).settings;
  const leader = view.leader ? view.members.find((m) => m.name === view.leader!.name) : undefined;
  if (!view.leader) {
    return raceLimitation(view, st.walPosition ?? null, st.timeline ?? null, {
      maximumLagOnFailover: dynamic.maximumLagOnFailover,
      checkTimeline: dynamic.checkTimeline,
    });
  }
  const position = leader?.data.xlog_location ?? view.status?.optime ?? null;
  return handoverLimitation(st, {
    peers: [st],
    position: typeof position === "number" ? position : null,
    timeline: typeof leader?.data.timeline === "number" ? leader.data.timeline : clusterTimeline(view),
    maximumLagOnFailover: dynamic.maximumLagOnFailover,
  });
}

/** Watch etcd once a second for up to `switchoverWaitSeconds` (2 * max(10, loop_wait)) for the leader to change. */
async function awaitOutcome(
  deps: ControlDeps,
  oldLeader: string | null,
  candidate: string | undefined,
  action: string,
): Promise<ControlReply> {
  const seconds = switchoverWaitSeconds({ loopWait: deps.loopWait() });
  const Past = action === "failover" ? "Failed over" : "Switched over";
  const Done = action === "failover" ? "Successfully failed over" : "Successfully switched over";
  for (let i = 0; i < seconds; i++) {
    await deps.sleep(1000);
    let view: ClusterView;
    try {
      view = await deps.readCluster();
    } catch {
      continue;
    }
    const now = view.leader?.name ?? null;
    if (now !== null && now !== oldLeader) {
      return !candidate || candidate === now
        ? reply(200, `${Done} to "${now}"`)
        : reply(200, `${Past} to "${now}" instead of "${candidate}"`);
    }
    if (!view.failover) return reply(503, action === "failover" ? "Failover failed" : "Switchover failed");
  }
  return reply(503, `Switchover status unknown after ${seconds} seconds; operation may still be in progress`);
}

/** `DELETE /switchover`: remove a scheduled request (CAS on the key's revision). */
export async function deleteSwitchover(deps: ControlDeps): Promise<ControlReply> {
  let view: ClusterView;
  try {
    view = await deps.readCluster();
  } catch {
    return reply(503, "DCS is not accessible");
  }
  const f = view.failover;
  if (!f?.scheduledAt) return reply(404, "no switchover is scheduled");
  try {
    return (await deps.setFailover({}, f.modRevision))
      ? reply(200, "scheduled switchover deleted")
      : reply(409, "the failover key changed meanwhile");
  } catch {
    return reply(503, "DCS is not accessible");
  }
}
