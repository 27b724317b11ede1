/**
 * `POST/DELETE /restart`, `POST /reload` and the access check on unsafe methods (allowlist 403, client
 * certificate 403, Basic auth 401 with its challenge, in Patroni's order), driven through the handler in-process.
 */
import assert from "node:assert/strict";
import { type ApiSecurity, createApiHandler, type RequestInfo } from "../../src/api/handler.ts";
import { type ControlDeps, restartNowReply } from "../../src/api/control.ts";
import type { RestartNowResult } from "../../src/core/requests.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { ClusterView, NodeSnapshot, RestartConditions } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const NOW = Date.parse("2026-11-26T12:00:00Z");

function setup(security: Partial<ApiSecurity> = {}, opts: { paused?: boolean } = {}) {
  const calls: string[] = [];
  let scheduled: { conditions: RestartConditions; schedule: string; at: number } | null = null;
  const view: ClusterView = {
    initialize: "7393828465826342947",
    config: null,
    leader: null,
    members: [{
      name: "pg2",
      data: {
        conn_url: "postgres://192.0.2.2:5432/postgres",
        api_url: "http://192.0.2.2:8008/patroni",
        state: "running",
        role: "replica",
        version: "0.1.0",
      },
      modRevision: "1",
      lease: "1",
    }],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "1",
    problems: [],
  };
  const control: ControlDeps = {
    readCluster: () => Promise.resolve(view),
    setFailover: () => Promise.resolve(true),
    fetchStatuses: () => Promise.resolve([]),
    sleep: () => Promise.resolve(),
    wallNow: () => NOW,
    paused: () => opts.paused ?? false,
    loopWait: () => 10,
    warn: () => {},
    setConfig: () => Promise.resolve(true),
    wake: () => {},
    restartNow: (conditions): Promise<RestartNowResult> => {
      calls.push(`now ${JSON.stringify(conditions)}`);
      return Promise.resolve({ kind: "restarted" });
    },
    scheduleRestart: (conditions, schedule, at) => {
      if (scheduled) return { kind: "already_scheduled" };
      scheduled = { conditions, schedule, at };
      return { kind: "scheduled" };
    },
    deleteScheduledRestart: () => {
      if (!scheduled) return { kind: "none_scheduled" };
      scheduled = null;
      return { kind: "deleted" };
    },
    reload: () => void calls.push("reload"),
  };
  const snapshot: NodeSnapshot = {
    name: "pg1",
    scope: "demo",
    state: "running",
    role: "primary",
    pg: emptyPgObservation(),
    pgObservedAt: 0,
    cluster: view,
    dcsLastSeen: 0,
    isLeader: true,
    leaderExpiresAt: 1e12,
    dynamic: { ...DYNAMIC_DEFAULTS },
    tags: {},
    nextRunAt: 0,
    watchdogFailed: false,
  };
  const handler = createApiHandler({
    snapshot: () => snapshot,
    now: () => 0,
    wallNow: () => NOW,
    loadCluster: () => Promise.resolve(view),
    scope: "demo",
    name: "pg1",
    control,
    security: () => ({
      allowlist: [],
      allowlistIncludeMembers: false,
      verifyClient: "none",
      extraHeaders: { "X-Frame-Options": "DENY" },
      ...security,
    }),
    resolveHost: (host) => Promise.resolve(host === "ops.example" ? ["203.0.113.9"] : []),
  });
  const call = async (
    method: string,
    path: string,
    body?: string,
    info: RequestInfo = { remoteAddr: "127.0.0.1" },
  ) => {
    const res = await handler(
      new Request(`http://127.0.0.1:8008${path}`, { method, ...(body === undefined ? {} : { body }) }),
      info,
    );
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  return { call, calls, scheduled: () => scheduled };
}

Deno.test("POST /restart without a body restarts now; with a schedule it is kept (202), a second one is 409", async () => {
  const { call, calls, scheduled } = setup();
  const now = await call("POST", "/restart");
  assert.deepEqual([now.status, now.text], [200, "restarted successfully"]);
  assert.equal(now.headers.get("x-frame-options"), "DENY", "http_extra_headers on every answer");
  const filtered = await call("POST", "/restart", JSON.stringify({ role: "replica", restart_pending: true }));
  assert.equal(filtered.status, 200);
  assert.deepEqual(calls, ["now {}", 'now {"role":"replica","restartPending":true}']);
  const body = JSON.stringify({ schedule: "2026-11-26T13:00:00+00:00", postgres_version: "16.1" });
  assert.deepEqual([(await call("POST", "/restart", body)).status, scheduled()?.conditions], [202, {
    postgresVersion: "16.1",
  }]);
  const again = await call("POST", "/restart", body);
  assert.deepEqual([again.status, again.text], [409, "Another restart is already scheduled"]);
  assert.deepEqual(await call("DELETE", "/restart").then((r) => [r.status, r.text]), [
    200,
    "scheduled restart deleted",
  ]);
  assert.deepEqual(await call("DELETE", "/restart").then((r) => [r.status, r.text]), [
    404,
    "no restarts are scheduled",
  ]);
});

Deno.test("POST /restart refuses bad bodies with 400 naming the problem, and a schedule while paused with 500", async () => {
  const { call } = setup({}, { paused: true });
  assert.deepEqual(await call("POST", "/restart", "{nope").then((r) => r.status), 400);
  assert.deepEqual(await call("POST", "/restart", "[1]").then((r) => r.status), 400);
  const role = await call("POST", "/restart", JSON.stringify({ role: "boss" }));
  assert.deepEqual([role.status, role.text], [
    400,
    "PostgreSQL role should be either primary, standby_leader, or replica",
  ]);
  const paused = await call("POST", "/restart", JSON.stringify({ schedule: "2026-11-26T13:00:00Z" }));
  assert.deepEqual([paused.status, paused.text], [500, "Can't schedule restart in the paused state"]);
});

Deno.test("POST /reload answers 202 'reload scheduled' and hands the work to the agent", async () => {
  const { call, calls } = setup();
  const r = await call("POST", "/reload");
  assert.deepEqual([r.status, r.text], [202, "reload scheduled"]);
  assert.deepEqual(calls, ["reload"]);
});

Deno.test("the allowlist refuses other addresses with 403 on unsafe methods only; hostnames and members count", async () => {
  const { call, calls } = setup({ allowlist: ["10.0.0.0/8", "ops.example"] });
  const refused = await call("POST", "/reload", undefined, { remoteAddr: "127.0.0.1" });
  assert.deepEqual([refused.status, refused.text], [403, "Access is denied"]);
  assert.equal(
    (await call("GET", "/patroni", undefined, { remoteAddr: "127.0.0.1" })).status,
    200,
    "GET is free",
  );
  assert.equal((await call("POST", "/reload", undefined, { remoteAddr: "10.9.8.7" })).status, 202);
  assert.equal(
    (await call("POST", "/reload", undefined, { remoteAddr: "203.0.113.9" })).status,
    202,
    "resolved",
  );
  assert.equal((await call("POST", "/reload", undefined, {})).status, 403, "unknown client address");
  assert.deepEqual(calls, ["reload", "reload"]);
  const members = setup({ allowlist: ["10.0.0.0/8"], allowlistIncludeMembers: true });
  assert.equal((await members.call("POST", "/reload", undefined, { remoteAddr: "192.0.2.2" })).status, 202);
  assert.equal((await members.call("POST", "/reload", undefined, { remoteAddr: "192.0.2.3" })).status, 403);
});

Deno.test("access checks run in Patroni's order: allowlist, client certificate, then Basic auth (401 + challenge)", async () => {
  const auth = { username: "admin", password: "s3cret" };
  const { call } = setup({ allowlist: ["127.0.0.1"], verifyClient: "optional", auth });
  const outsider = await call("POST", "/reload", undefined, {
    remoteAddr: "10.0.0.1",
    clientCertVerified: true,
  });
  assert.equal(outsider.status, 403);
  const noCert = await call("POST", "/reload", undefined, {
    remoteAddr: "127.0.0.1",
    clientCertVerified: false,
  });
  assert.deepEqual([noCert.status, noCert.text], [403, "client certificate required"]);
  const noAuth = await call("POST", "/reload", undefined, {
    remoteAddr: "127.0.0.1",
    clientCertVerified: true,
  });
  assert.deepEqual([noAuth.status, noAuth.text], [401, "no auth header received"]);
  assert.equal(noAuth.headers.get("www-authenticate"), 'Basic realm="Patroni"');
});

Deno.test("each outcome of a restart asked for now maps to Patroni's status and body", () => {
  const answers = ([
    { kind: "restarted" },
    { kind: "busy", what: "bootstrap from leader 'pg1'" },
    { kind: "busy", what: "restart" },
    { kind: "not_running" },
    { kind: "conditions_unmet", condition: "no restart is pending" },
    { kind: "failed" },
    { kind: "timed_out" },
  ] as RestartNowResult[]).map((r) => restartNowReply(r));
  assert.deepEqual(answers, [
    { status: 200, body: "restarted successfully" },
    { status: 503, body: "bootstrap from leader 'pg1' already in progress" },
    { status: 503, body: "restart already in progress" },
    { status: 503, body: "postgres is still starting" },
    { status: 503, body: "restart conditions are not satisfied" },
    { status: 503, body: "restart failed" },
    { status: 503, body: "restart failed" },
  ]);
});
