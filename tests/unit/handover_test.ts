/**
 * Hand-overs checked as Patroni checks them: the leader weighs the candidate (reachable, streaming, lag, timeline,
 * nofailover) before it demotes; the candidate weighs itself before it takes the key; nofailover always vetoes;
 * the former leader's member is asked during the race; the switchover's shutdown and the promotion run as jobs
 * while the key is renewed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { peersToAsk } from "../../src/core/loop.ts";
import { INITIAL_MEMORY, type JobState, type Memory } from "../../src/core/types.ts";
import { ctx, member, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const SWITCH = view({ failover: { leader: "pg1", member: "pg3", modRevision: "30" } });
const STREAMING = { replicationState: "streaming" };

Deno.test("decide(): the leader refuses a switchover to a candidate that is running but not streaming", () => {
  const o = obs(PRIMARY, SWITCH, { peers: [peer("pg3", 5000, { replicationState: "in archive recovery" })] });
  const d = decide(o, INITIAL_MEMORY, ctx("pg1"));
  assert.ok(!types(d.actions).includes("demote"), d.reason);
  assert.ok(!d.actions.some((a) => a.type === "start_job"), d.reason);
  assert.ok(!types(d.actions).includes("release_leader"), d.reason);
  assert.deepEqual(d.actions.find((a) => a.type === "clear_failover"), {
    type: "clear_failover",
    modRevision: "30",
  });
  assert.match(
    d.reason,
    /cleared the failover key: candidate 'pg3' is not streaming \(in archive recovery\)/,
  );
  assert.equal(d.memory.isLeader, true);
});

Deno.test("decide(): the leader refuses a candidate that lags, is on another timeline, is unreachable, nofailover or unfenced", () => {
  const lag = DYNAMIC_LAG;
  const cases: [ReturnType<typeof peer> | null, RegExp][] = [
    [peer("pg3", 5000 - lag - 1, STREAMING), /lags 1048577 bytes behind .*maximum_lag_on_failover 1048576/],
    [peer("pg3", 5000, { ...STREAMING, timeline: 2 }), /is on timeline 2, not the leader's timeline 1/],
    [{ name: "pg3", reachable: false }, /did not answer/],
    [peer("pg3", 5000, { ...STREAMING, nofailover: true }), /is tagged nofailover/],
    [peer("pg3", 5000, { ...STREAMING, watchdogFailed: true }), /watchdog/],
    [peer("pg3", 5000, { ...STREAMING, fenceFailed: true }), /has no usable fencing supervisor/],
    [null, /did not answer/],
  ];
  for (const [p, why] of cases) {
    const d = decide(obs(PRIMARY, SWITCH, { peers: p ? [p] : [] }), INITIAL_MEMORY, ctx("pg1"));
    assert.ok(!d.actions.some((a) => a.type === "start_job" || a.type === "demote"), d.reason);
    assert.ok(types(d.actions).includes("clear_failover"), d.reason);
    assert.match(d.reason, why);
  }
});

const DYNAMIC_LAG = 1048576;

Deno.test("decide(): a plain switchover goes ahead when any member could take over, and is refused when none can", () => {
  const plain = view({ failover: { leader: "pg1", modRevision: "31" } });
  const ok = decide(
    obs(PRIMARY, plain, {
      peers: [peer("pg2", 5000, { replicationState: "in archive recovery" }), peer("pg3", 5000, STREAMING)],
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.ok(ok.actions.some((a) => a.type === "start_job" && a.job.kind === "demote"), ok.reason);
  const none = decide(
    obs(PRIMARY, plain, {
      peers: [peer("pg2", 5000, { ...STREAMING, timeline: 2 }), { name: "pg3", reachable: false }],
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.ok(types(none.actions).includes("clear_failover"), none.reason);
  assert.match(
    none.reason,
    /no member can take over: pg2 is on timeline 2, not the leader's timeline 1; pg3 did not answer/,
  );
});

Deno.test("decide(): the switchover's clean shutdown runs as a job while the key stays renewed, then the key is released", () => {
  const o = obs(PRIMARY, SWITCH, { peers: [peer("pg3", 5000, STREAMING)] });
  const d = decide(o, INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "start_job"]);
  assert.deepEqual(d.actions[2], { type: "start_job", job: { kind: "demote" } });
  assert.match(d.reason, /switching over to 'pg3'/);
  assert.equal(d.memory.handover, true);
  // While the shutdown runs (a long shutdown checkpoint), the loop renews the key: the fence stays re-armed.
  const job: JobState = {
    kind: "demote",
    description: "switchover: demoting myself",
    startedAt: 0,
    status: "running",
  };
  const during = decide(obs(PRIMARY, SWITCH, { job }), d.memory, ctx("pg1"));
  assert.deepEqual(types(during.actions), ["renew_leader"]);
  assert.match(during.reason, /switchover: demoting myself in progress/);
  // Stopped cleanly: release the key (never start Postgres again as a primary under it).
  const stopped = pgState({ ...PRIMARY, running: false, queryable: false, role: null });
  const after = decide(obs(stopped, SWITCH, { job: { ...job, status: "ok" } }), during.memory, ctx("pg1"));
  assert.deepEqual(types(after.actions), ["release_leader"]);
  assert.match(after.reason, /released the leader key after a clean shutdown for the switchover/);
  // A release that failed is tried again, still without starting Postgres.
  const again = decide(obs(stopped, SWITCH), after.memory, ctx("pg1"));
  assert.deepEqual(types(again.actions), ["release_leader"]);
  // Once the key is gone the member starts as a replica as before.
  const gone = decide(obs(stopped, view({ leader: null })), after.memory, ctx("pg1"));
  assert.equal(gone.memory.handover, undefined);
});

Deno.test("decide(): a switchover shutdown that failed leaves Postgres leading and clears the request", () => {
  const job: JobState = {
    kind: "demote",
    description: "switchover: demoting myself",
    startedAt: 0,
    status: "failed",
    error: "pg_ctl stop failed",
  };
  const mem: Memory = { ...INITIAL_MEMORY, isLeader: true, handover: true };
  const d = decide(obs(PRIMARY, SWITCH, { job, peers: [peer("pg3", 5000, STREAMING)] }), mem, ctx("pg1"));
  assert.ok(types(d.actions).includes("clear_failover"), d.reason);
  assert.ok(!d.actions.some((a) => a.type === "start_job"), d.reason);
  assert.match(d.reason, /switchover failed: pg_ctl stop failed/);
  assert.equal(d.memory.handover, undefined);
});

Deno.test("decide(): the named candidate does not take the key when it lags behind the last known leader position", () => {
  const v = view({
    leader: null,
    failover: { leader: "pg1", member: "pg2", modRevision: "30" },
    status: { optime: 5000 + 2 * DYNAMIC_LAG, slots: {}, retainSlots: [] },
  });
  const d = decide(obs(pgState(), v, { peers: [] }), INITIAL_MEMORY, ctx("pg2"));
  assert.ok(!types(d.actions).includes("acquire_leader"), d.reason);
  assert.match(d.reason, /candidate .*lags 2097152 bytes behind the last known leader position/);
  // The others do not wait for a candidate that cannot take over: they race.
  const other = decide(
    obs(pgState({ walPosition: 5000 + 2 * DYNAMIC_LAG }), v, { peers: [peer("pg2", 5000)] }),
    INITIAL_MEMORY,
    ctx("pg3"),
  );
  assert.ok(types(other.actions).includes("acquire_leader"), other.reason);
});

Deno.test("decide(): the named candidate behind the cluster's timeline does not take the key", () => {
  const v = view({
    leader: null,
    failover: { member: "pg2", modRevision: "30" },
    history: [[1, 4000, "no recovery target specified"]],
  });
  const checking = ctx("pg2", { dynamic: { ...DYNAMIC_DEFAULTS, checkTimeline: true } });
  const d = decide(obs(pgState({ timeline: 1 }), v, { peers: [] }), INITIAL_MEMORY, checking);
  assert.ok(!types(d.actions).includes("acquire_leader"), d.reason);
  assert.match(d.reason, /timeline 1 is behind the cluster timeline 2/);
});

Deno.test("decide(): nofailover vetoes a named candidate also when there is no leader", () => {
  const v = view({ leader: null, failover: { member: "pg2", modRevision: "30" } });
  const d = decide(
    obs(pgState(), v, { peers: [] }),
    INITIAL_MEMORY,
    ctx("pg2", { tags: { nofailover: true } }),
  );
  assert.ok(!types(d.actions).includes("acquire_leader"), d.reason);
  assert.ok(!types(d.actions).includes("promote"), d.reason);
  assert.match(d.reason, /nofailover/);
  const priority0 = decide(
    obs(pgState(), v, { peers: [] }),
    INITIAL_MEMORY,
    ctx("pg2", { tags: { failover_priority: 0 } }),
  );
  assert.ok(!types(priority0.actions).includes("acquire_leader"), priority0.reason);
});

Deno.test("peersToAsk(): the former leader's member is asked in the race, from the view before its key expired", () => {
  const replica = pgState();
  const now = view({ leader: null, members: [member("pg2"), member("pg3")] });
  const before = view().members;
  const asked = peersToAsk({ kind: "ok", cluster: now }, replica, false, "pg2", { previousMembers: before });
  assert.deepEqual(asked?.map((m) => m.name).sort(), ["pg1", "pg3"]);
});

Deno.test("peersToAsk(): the leader asks the candidate of a due switchover, and every other member for a plain one", () => {
  const asked = peersToAsk({ kind: "ok", cluster: SWITCH }, PRIMARY, false, "pg1");
  assert.deepEqual(asked?.map((m) => m.name), ["pg3"]);
  const plain = view({ failover: { leader: "pg1", modRevision: "31" } });
  assert.deepEqual(peersToAsk({ kind: "ok", cluster: plain }, PRIMARY, false, "pg1")?.map((m) => m.name), [
    "pg2",
    "pg3",
  ]);
  assert.equal(peersToAsk({ kind: "ok", cluster: view() }, PRIMARY, false, "pg1"), null, "no request");
  assert.equal(peersToAsk({ kind: "ok", cluster: SWITCH }, PRIMARY, true, "pg1"), null, "a job in flight");
  const later = view({
    failover: { leader: "pg1", member: "pg3", scheduledAt: "2026-11-26T13:00:00+00:00", modRevision: "32" },
  });
  const wallNow = Date.parse("2026-11-26T12:00:00Z");
  assert.equal(
    peersToAsk({ kind: "ok", cluster: later }, PRIMARY, false, "pg1", { wallNow }),
    null,
    "not due",
  );
  assert.deepEqual(
    peersToAsk({ kind: "ok", cluster: later }, PRIMARY, false, "pg1", { wallNow: wallNow + 3_600_000 })
      ?.map((m) => m.name),
    ["pg3"],
    "due",
  );
});

Deno.test("decide(): a promotion in flight keeps the key renewed (the fence stays re-armed)", () => {
  const job: JobState = {
    kind: "promote",
    description: "promoting postgres",
    startedAt: 0,
    status: "running",
  };
  const v = view({ leader: { name: "pg2", createRevision: "40", modRevision: "40", lease: "78" } });
  const d = decide(obs(pgState(), v, { job }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["renew_leader"]);
  assert.equal(d.reason, "promoting postgres in progress");
});
