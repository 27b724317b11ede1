/**
 * The loop's small rules (src/core/loop.ts): how long it waits, when a cycle publishes the member key, when a leader
 * race asks the peers, when a new `config` key reloads Postgres, and which callback a finished job or an adopted
 * server fires.
 */
import assert from "node:assert/strict";
import {
  adoptionCallback,
  carriesOutReinit,
  configChangeReloads,
  jobCallback,
  peersToAsk,
  publishesMember,
  waitDeadline,
} from "../../src/core/loop.ts";
import {
  type Action,
  type ClusterView,
  type DcsObservation,
  INITIAL_MEMORY,
  type PgObservation,
} from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

Deno.test("waitDeadline(): loop_wait, or a scheduled restart due sooner, but not within 100 ms of the start", () => {
  const base = { started: 1000, nextRunAt: 11_000, now: 1200, wallNow: 5_000_000, restartAt: null };
  assert.equal(waitDeadline(base), 11_000);
  assert.equal(waitDeadline({ ...base, restartAt: undefined }), 11_000);
  assert.equal(waitDeadline({ ...base, restartAt: 5_003_000 }), 4200, "3 s from now on the monotonic clock");
  assert.equal(waitDeadline({ ...base, restartAt: 4_000_000 }), 1100, "overdue: 100 ms after the start");
  assert.equal(waitDeadline({ ...base, restartAt: 5_020_000 }), 11_000, "due after the next cycle anyway");
});

const replica: PgObservation = { ...emptyPgObservation(), running: true, queryable: true, role: "replica" };

function view(leader: boolean): DcsObservation {
  const member = (name: string, apiUrl: string) => ({
    name,
    data: { conn_url: "", api_url: apiUrl, state: "running", role: "replica", version: "0.1.0" },
    modRevision: "1",
    lease: "1",
  });
  const cluster: ClusterView = {
    initialize: "1",
    config: null,
    leader: leader ? { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" } : null,
    members: [member("pg1", "http://a/patroni"), member("pg2", "http://b/patroni"), member("pg3", "")],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "1",
    problems: [],
  };
  return { kind: "ok", cluster };
}

Deno.test("peersToAsk(): only a leaderless race of a running replica without a job asks the others with an API", () => {
  assert.deepEqual(peersToAsk(view(false), replica, false, "pg2"), [{
    name: "pg1",
    apiUrl: "http://a/patroni",
  }]);
  assert.equal(peersToAsk(view(true), replica, false, "pg2"), null);
  assert.equal(peersToAsk(view(false), replica, true, "pg2"), null);
  assert.equal(peersToAsk(view(false), { ...replica, role: "primary" }, false, "pg2"), null);
  assert.equal(peersToAsk(view(false), { ...replica, queryable: false }, false, "pg2"), null);
  assert.equal(peersToAsk({ kind: "unreachable", since: 0, error: "cut" }, replica, false, "pg2"), null);
});

Deno.test("configChangeReloads(): a new revision after the first one seen; not the first, not the same", () => {
  assert.equal(configChangeReloads(undefined, "5"), false, "the first view");
  assert.equal(configChangeReloads(null, "5"), false, "the key's creation");
  assert.equal(configChangeReloads("5", "5"), false);
  assert.equal(configChangeReloads("5", "9"), true);
  assert.equal(configChangeReloads("5", null), true, "the key was removed");
});

Deno.test("jobCallback(): on_restart, on_start, on_role_change when the role changed, on_stop; none after a failure", () => {
  const start = (role: "primary" | "replica") => ({ kind: "start" as const, role, upstream: null });
  assert.deepEqual(jobCallback({ kind: "restart", role: "primary", upstream: null }, true, "primary"), {
    action: "on_restart",
    role: "primary",
  });
  assert.equal(jobCallback({ kind: "restart", role: "primary", upstream: null }, false, "primary"), null);
  assert.deepEqual(jobCallback({ kind: "bootstrap" }, true, null), { action: "on_start", role: "primary" });
  assert.deepEqual(jobCallback(start("replica"), true, null), { action: "on_start", role: "replica" });
  assert.deepEqual(jobCallback(start("replica"), true, "replica"), { action: "on_start", role: "replica" });
  assert.deepEqual(jobCallback(start("replica"), true, "primary"), {
    action: "on_role_change",
    role: "replica",
  });
  assert.equal(jobCallback(start("primary"), false, "replica"), null);
  assert.deepEqual(jobCallback({ kind: "stop", mode: "fast" }, true, "primary"), {
    action: "on_stop",
    role: "primary",
  });
  assert.deepEqual(jobCallback({ kind: "stop", mode: "fast" }, true, null), {
    action: "on_stop",
    role: "replica",
  });
  const upstream = { name: "pg1", connUrl: "postgres://a:5432/postgres" };
  assert.equal(jobCallback({ kind: "clone", upstream }, true, null), null);
  assert.equal(jobCallback({ kind: "rewind", upstream }, true, "primary"), null);
});

Deno.test("adoptionCallback(): the first sight of an answering server with no job reports it as started", () => {
  assert.deepEqual(adoptionCallback(null, replica, false), { action: "on_start", role: "replica" });
  assert.equal(adoptionCallback("replica", replica, false), null, "already reported");
  assert.equal(adoptionCallback(null, replica, true), null, "a job is bringing it up");
  assert.equal(adoptionCallback(null, { ...replica, queryable: false }, false), null);
});

Deno.test("publishesMember(): only with a DCS view and no etcd failure in the plan", () => {
  const obs = (dcs: DcsObservation) => ({ now: 0, wallNow: 0, dcs, pg: replica, job: null, peers: null });
  assert.equal(publishesMember(obs(view(true)), false), true);
  assert.equal(publishesMember(obs(view(true)), true), false);
  assert.equal(publishesMember(obs({ kind: "unreachable", since: 0, error: "cut" }), false), false);
});

Deno.test("carriesOutReinit(): a plan that clones", () => {
  const plan = (actions: Action[]) => ({ actions, memory: INITIAL_MEMORY, reason: "" });
  const upstream = { name: "pg1", connUrl: "postgres://a:5432/postgres" };
  assert.equal(carriesOutReinit(plan([{ type: "start_job", job: { kind: "clone", upstream } }])), true);
  assert.equal(carriesOutReinit(plan([{ type: "start_job", job: { kind: "bootstrap" } }])), false);
  assert.equal(carriesOutReinit(plan([])), false);
});
