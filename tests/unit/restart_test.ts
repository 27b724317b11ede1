/**
 * Restart requests: Patroni's validation messages for `POST /restart`, the conditions (`role`,
 * `postgres_version`, `restart_pending`), the per-cycle rule for a scheduled restart, and what `decide` plans for
 * a restart (the leader renews its key and restarts in place) and for a reload.
 */
import assert from "node:assert/strict";
import {
  parsePgVersion,
  parseRestartBody,
  parseTimeoutSeconds,
  restartStep,
  unmetCondition,
} from "../../src/core/restart.ts";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import {
  type ClusterView,
  INITIAL_MEMORY,
  type Member,
  type Observation,
  type PgObservation,
  type RestartIntent,
} from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const WALL = Date.parse("2026-11-26T12:00:00Z");

Deno.test("parsePgVersion reads X.Y and X.Y.Z as server_version_num and refuses other shapes", () => {
  assert.equal(parsePgVersion("15.4"), 150004);
  assert.equal(parsePgVersion("16.0"), 160000);
  assert.equal(parsePgVersion("9.6.3"), 90603);
  assert.equal(parsePgVersion("9.6"), 90600);
  assert.equal(parsePgVersion("15.4.1"), null, "10+ has no third part");
  assert.equal(parsePgVersion("15"), null);
  assert.equal(parsePgVersion("abc"), null);
});

Deno.test("parseTimeoutSeconds takes seconds with Patroni's units and refuses zero, negatives and garbage", () => {
  assert.equal(parseTimeoutSeconds(30), 30);
  assert.equal(parseTimeoutSeconds("45"), 45);
  assert.equal(parseTimeoutSeconds("2min"), 120);
  assert.equal(parseTimeoutSeconds("0"), null);
  assert.equal(parseTimeoutSeconds(-3), null);
  assert.equal(parseTimeoutSeconds("soon"), null);
});

Deno.test("parseRestartBody answers with Patroni's codes and messages", () => {
  const parse = (body: Record<string, unknown>, paused = false) =>
    parseRestartBody(body, { paused, wallNow: WALL });
  assert.deepEqual(parse({}), { ok: true, conditions: {}, schedule: null });
  assert.deepEqual(
    parse({ role: "master", restart_pending: false, postgres_version: "16.1", timeout: "1min" }),
    {
      ok: true,
      conditions: { role: "primary", restartPending: true, postgresVersion: "16.1", timeout: 60 },
      schedule: null,
    },
  );
  const fail = (body: Record<string, unknown>, status: number, message: string, paused = false) =>
    assert.deepEqual(parse(body, paused), { ok: false, status, message });
  fail({ role: "leader" }, 400, "PostgreSQL role should be either primary, standby_leader, or replica");
  fail({ postgres_version: "15" }, 400, "Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 15");
  fail({ postgres_version: "15.1.2" }, 400, "Invalid PostgreSQL version: 15.1.2");
  fail({ timeout: "0" }, 400, "Timeout should be a positive number of seconds");
  fail({ when: "later" }, 400, "Unknown filter for the scheduled restart: when");
  fail({ schedule: "2026-11-26T13:00:00+00:00" }, 500, "Can't schedule restart in the paused state", true);
  fail(
    { schedule: "2026-11-26T13:00:00" },
    400,
    "Timezone information is mandatory for the scheduled restart",
  );
  fail({ schedule: "2026-11-26T11:00:00Z" }, 422, "Cannot schedule restart in the past");
  fail(
    { schedule: "tomorrow" },
    422,
    "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
  );
  const scheduled = parse({ schedule: "2026-11-26T13:00:00+01:00" });
  assert.ok(scheduled.ok && scheduled.schedule?.at === Date.parse("2026-11-26T12:00:00Z"));
});

Deno.test("unmetCondition: role must match, the running version must be lower, a restart must be pending", () => {
  const subject = { role: "replica", serverVersion: 150004, pendingRestart: false };
  assert.equal(unmetCondition({}, subject), null);
  assert.match(unmetCondition({ role: "primary" }, subject)!, /role is replica, not primary/);
  assert.equal(unmetCondition({ role: "replica" }, subject), null);
  assert.equal(unmetCondition({ postgresVersion: "15.5" }, subject), null);
  assert.match(unmetCondition({ postgresVersion: "15.4" }, subject)!, /not below 15.4/);
  assert.match(unmetCondition({ restartPending: true }, subject)!, /no restart is pending/);
  assert.equal(unmetCondition({ restartPending: true }, { ...subject, pendingRestart: true }), null);
});

function pg(over: Partial<PgObservation> = {}): PgObservation {
  return {
    ...emptyPgObservation(),
    dataDir: "initialized",
    running: true,
    queryable: true,
    role: "primary",
    sysid: "7393828465826342947",
    timeline: 1,
    walPosition: 1000,
    serverVersion: 150004,
    postmasterStartTime: "2026-11-26 11:00:00+00",
    ...over,
  };
}

Deno.test("restartStep waits for a scheduled time, then runs it, drops it when late, restarted or unmet", () => {
  const intent: RestartIntent = {
    at: WALL + 60_000,
    schedule: "2026-11-26T12:01:00+00:00",
    conditions: {},
    postmasterStartTime: "2026-11-26 11:00:00+00",
  };
  assert.equal(restartStep(null, pg(), "primary", WALL, 10).kind, "none");
  assert.equal(restartStep({ ...intent, at: null }, pg(), "primary", WALL, 10).kind, "restart");
  assert.equal(restartStep(intent, pg(), "primary", WALL, 10).kind, "none", "not yet due");
  assert.equal(restartStep(intent, pg(), "primary", WALL + 60_000, 10).kind, "restart");
  const late = restartStep(intent, pg(), "primary", WALL + 60_000 + 16_000, 10);
  assert.equal(late.kind, "drop");
  const restarted = restartStep(
    intent,
    pg({ postmasterStartTime: "2026-11-26 11:30:00+00" }),
    "primary",
    WALL + 60_000,
    10,
  );
  assert.deepEqual(restarted, {
    kind: "drop",
    reason: "cancelled the scheduled restart: postgres was restarted since",
  });
  const unmet = restartStep(
    { ...intent, conditions: { role: "replica" } },
    pg(),
    "primary",
    WALL + 60_000,
    10,
  );
  assert.equal(unmet.kind, "drop");
  assert.match((unmet as { reason: string }).reason, /restart conditions are not satisfied/);
});

function member(name: string): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${5431 + Number(name.slice(2))}/postgres`,
      api_url: `http://127.0.0.1:${8007 + Number(name.slice(2))}/patroni`,
      state: "running",
      role: name === "pg1" ? "primary" : "replica",
      version: "0.1.0",
    },
    modRevision: "2",
    lease: "1",
  };
}

function view(): ClusterView {
  return {
    initialize: "7393828465826342947",
    config: { value: { ttl: 30 }, modRevision: "3" },
    leader: { name: "pg1", createRevision: "4", modRevision: "4", lease: "1" },
    members: [member("pg1"), member("pg2")],
    status: { optime: 1000, slots: {}, retainSlots: [] },
    failover: null,
    sync: null,
    history: [],
    revision: "9",
    problems: [],
  };
}

function obs(me: "pg1" | "pg2", over: Partial<Observation> = {}): Observation {
  const p = me === "pg1"
    ? pg()
    : pg({ role: "replica", standbySignal: true, replicationState: "streaming", upstream: "127.0.0.1:5432" });
  return {
    now: 100_000,
    wallNow: WALL,
    dcs: { kind: "ok", cluster: view() },
    pg: p,
    job: null,
    peers: null,
    ...over,
  };
}

const ctx = (name: string, pause = false) => ({
  name,
  tags: {},
  dynamic: { ...DYNAMIC_DEFAULTS, pause },
  bootstrapDcs: {},
});

Deno.test("decide() restarts the leader in place: it renews its key first and keeps it while Postgres restarts", () => {
  const now: RestartIntent = { at: null, conditions: {}, postmasterStartTime: null };
  const d = decide(obs("pg1", { restart: now }), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1"));
  assert.deepEqual(d.actions.map((a) => a.type), ["renew_leader", "write_status", "start_job"]);
  assert.deepEqual(d.actions[2], {
    type: "start_job",
    job: { kind: "restart", role: "primary", upstream: null },
  });
  assert.equal(d.reason, "restarting postgres on request");
  // While the restart job runs (Postgres down), the leader only renews: nobody else can take the key.
  const during = decide(
    obs("pg1", {
      pg: pg({ running: false, queryable: false, role: null }),
      job: { kind: "restart", description: "restart", startedAt: 100_000, status: "running" },
    }),
    d.memory,
    ctx("pg1"),
  );
  assert.deepEqual(during.actions, [{ type: "renew_leader" }]);
  assert.equal(during.reason, "restart in progress");
});

Deno.test("decide() restarts a replica following its upstream, and in pause only an immediate restart runs", () => {
  const d = decide(
    obs("pg2", { restart: { at: null, conditions: {}, postmasterStartTime: null } }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: {
      kind: "restart",
      role: "replica",
      upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
    },
  }]);
  const paused = decide(
    obs("pg2", { restart: { at: null, conditions: {}, postmasterStartTime: null } }),
    INITIAL_MEMORY,
    ctx("pg2", true),
  );
  assert.equal(paused.actions.at(-1)?.type, "start_job");
  const scheduledInPause = decide(
    obs("pg2", { restart: { at: WALL - 1000, conditions: {}, postmasterStartTime: null, schedule: "x" } }),
    INITIAL_MEMORY,
    ctx("pg2", true),
  );
  assert.ok(
    !scheduledInPause.actions.some((a) => a.type === "start_job"),
    "paused clusters run no scheduled restart",
  );
});

Deno.test("decide() drops a scheduled restart whose conditions do not hold and carries on as usual", () => {
  const intent: RestartIntent = {
    at: WALL,
    schedule: "2026-11-26T12:00:00+00:00",
    conditions: { restartPending: true },
    postmasterStartTime: "2026-11-26 11:00:00+00",
  };
  const d = decide(obs("pg1", { restart: intent }), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1"));
  assert.equal(d.actions[0]!.type, "drop_restart");
  assert.ok(d.actions.some((a) => a.type === "renew_leader"));
  assert.match(d.reason, /the leader with the lock; cancelled the scheduled restart: restart conditions/);
});

Deno.test("decide() appends a reload when asked, for the leader and for a replica keeping its upstream", () => {
  const leader = decide(
    obs("pg1", { reloadRequested: "forced" }),
    { ...INITIAL_MEMORY, isLeader: true },
    ctx("pg1"),
  );
  assert.deepEqual(leader.actions.at(-1), { type: "reload", role: "primary", upstream: null, force: true });
  const replica = decide(obs("pg2", { reloadRequested: "config" }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(replica.actions.at(-1), {
    type: "reload",
    role: "replica",
    upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
    force: false,
  });
  // Not while Postgres is being (re)started.
  const stopped = decide(
    obs("pg2", {
      reloadRequested: "forced",
      pg: pg({ running: false, queryable: false, standbySignal: true }),
    }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.ok(!stopped.actions.some((a) => a.type === "reload"));
});

Deno.test("decide(): a restart's timeout replaces primary_start_timeout until Postgres is up again", () => {
  const intent: RestartIntent = { at: null, conditions: { timeout: 5 }, postmasterStartTime: null };
  const planned = decide(obs("pg1", { restart: intent }), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1"));
  assert.equal(planned.memory.startTimeout, 5);
  const down = pg({ running: false, queryable: false, role: null });
  const job = {
    kind: "restart" as const,
    description: "restart",
    startedAt: 100_000,
    status: "running" as const,
  };
  const first = decide(obs("pg1", { now: 101_000, pg: down, job }), planned.memory, ctx("pg1"));
  assert.deepEqual(first.actions, [{ type: "renew_leader" }]);
  // Past the timeout while the restart job still runs: the key is not released beside the job (its start would
  // then make a primary without the key); it goes once the job has ended with Postgres still down.
  const running = decide(obs("pg1", { now: 107_000, pg: down, job }), first.memory, ctx("pg1"));
  assert.deepEqual(running.actions, [{ type: "renew_leader" }]);
  const ended = { ...job, status: "failed" as const, error: "pg_ctl start failed" };
  const late = decide(obs("pg1", { now: 108_000, pg: down, job: ended }), running.memory, ctx("pg1"));
  assert.deepEqual(late.actions.map((a) => a.type), ["demote", "release_leader"]);
  assert.match(late.reason, /restart timeout 5 s/);
  // Up again in time: the override is forgotten, the usual primary_start_timeout (300 s) applies afterwards.
  const up = decide(obs("pg1", { now: 103_000 }), first.memory, ctx("pg1"));
  assert.equal(up.memory.startTimeout, undefined);
});

Deno.test("decide() in maintenance mode starts a replica's stopped Postgres on a restart asked for now (as Patroni restarts it)", () => {
  // Patroni's acceptance suite: pause, kill the replica's postmaster, `patronictl restart <replica>`.
  const now: RestartIntent = { at: null, conditions: {}, postmasterStartTime: null };
  const stopped = pg({ running: false, queryable: false, role: null, standbySignal: true });
  const d = decide(obs("pg2", { pg: stopped, restart: now }), INITIAL_MEMORY, ctx("pg2", true));
  assert.equal(d.reason, "PAUSE: restarting postgres on request");
  const job = d.actions.find((a) => a.type === "start_job");
  assert.ok(job && job.type === "start_job" && job.job.kind === "restart");
  assert.equal(job.job.role, "replica");
  assert.equal(job.job.upstream?.name, "pg1");
  // Without a request, maintenance mode leaves it stopped.
  const idle = decide(obs("pg2", { pg: stopped }), INITIAL_MEMORY, ctx("pg2", true));
  assert.deepEqual(idle.actions.filter((a) => a.type === "start_job"), []);
});
