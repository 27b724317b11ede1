/**
 * decide() as a specification, with a required but unusable watchdog: no member takes or keeps the leader key
 * (replicas still clone and follow), pause ignores the watchdog, and the key is never released beside a running job.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY, type JobState } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const NO_WATCHDOG = "/dev/watchdog: No such file or directory (errno 2)";

Deno.test("decide() with a required but unusable watchdog: a healthy replica does not take the vanished key", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg3", 5500)],
    watchdogUnusable: NO_WATCHDOG,
  });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(
    d.reason,
    `not taking the leader key because the watchdog is required but not usable: ${NO_WATCHDOG}`,
  );
  // The same member with a usable watchdog would have taken it.
  const usable = decide({ ...o, watchdogUnusable: undefined }, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(usable.actions), ["acquire_leader", "write_history", "promote"]);
});

Deno.test("decide() with a required but unusable watchdog: the leader demotes and gives the key up", () => {
  const d = decide(obs(PRIMARY, view(), { watchdogUnusable: NO_WATCHDOG }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  assert.equal(d.reason, `demoting self because the watchdog is required but not usable: ${NO_WATCHDOG}`);
  assert.equal(d.memory.isLeader, false);
  // A member that took the key as a replica (its activation failed before promoting) only gives it back.
  const fresh = decide(
    obs(pgState(), view({ leader: { ...view().leader!, name: "pg2" } }), {
      watchdogUnusable: NO_WATCHDOG,
    }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(fresh.actions, [{ type: "release_leader" }]);
  assert.match(fresh.reason, /^released the leader key because the watchdog is required but not usable/);
});

Deno.test("decide() with a required but unusable watchdog: no bootstrap, and a lockless primary demotes", () => {
  const empty = decide(
    obs(EMPTY, view({ initialize: null, leader: null, config: null, members: [] }), {
      watchdogUnusable: NO_WATCHDOG,
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(empty.actions, []);
  assert.match(empty.reason, /^not bootstrapping a new cluster because the watchdog is required/);
  const lockless = decide(
    obs(PRIMARY, view({ leader: null }), { watchdogUnusable: NO_WATCHDOG }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(lockless.actions, [{ type: "demote", mode: "immediate" }]);
  // A finished bootstrap is not published: Postgres stops and the initialize key goes.
  const job: JobState = { kind: "bootstrap", description: "bootstrap", startedAt: 0, status: "ok" };
  const booted = decide(
    obs(PRIMARY, view({ initialize: "", leader: null, config: null, members: [] }), {
      job,
      watchdogUnusable: NO_WATCHDOG,
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(booted.actions), ["demote", "cancel_initialize"]);
  // Replicas still clone and follow: only leadership needs the watchdog.
  const clone = decide(obs(EMPTY, view(), { watchdogUnusable: NO_WATCHDOG }), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(types(clone.actions), ["start_job"]);
  const follow = decide(
    obs(pgState({ slots: ["pg1", "pg3"] }), view(), { watchdogUnusable: NO_WATCHDOG }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(types(follow.actions), ["follow"]);
});

Deno.test("decide() in pause ignores the watchdog: the leader keeps its key", () => {
  const d = decide(
    obs(PRIMARY, view(), { watchdogUnusable: NO_WATCHDOG }),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
  );
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "sync_slots"]);
});

Deno.test("decide() never releases the key beside a running job (required watchdog unusable, primary_start_timeout)", () => {
  const job: JobState = {
    kind: "start",
    description: "starting primary after failure",
    startedAt: 0,
    status: "running",
  };
  const down = pgState({ running: false, queryable: false });
  // The watchdog became unusable while a start job runs: `demote` would find no postmaster yet and the job would
  // then start a primary without the key. Neither released nor renewed (a renewal needs the watchdog): the fence
  // stops postgres before the lease can run out, and the key goes once the job has ended.
  const wd = decide(obs(down, view(), { job, watchdogUnusable: NO_WATCHDOG }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(wd.actions, []);
  assert.match(
    wd.reason,
    /^starting primary after failure in progress; .*watchdog is required but not usable/,
  );
  const ended = decide(
    obs(PRIMARY, view(), { job: { ...job, status: "ok" }, watchdogUnusable: NO_WATCHDOG }),
    wd.memory,
    ctx("pg1"),
  );
  assert.deepEqual(ended.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  // primary_start_timeout passing while the start job still runs: keep renewing, decide once it has ended.
  const dynamic = { ...DYNAMIC_DEFAULTS, primaryStartTimeout: 60 };
  const first = decide(obs(down, view(), { now: 1_000_000 }), INITIAL_MEMORY, ctx("pg1", { dynamic }));
  const late = decide(obs(down, view(), { now: 1_061_000, job }), first.memory, ctx("pg1", { dynamic }));
  assert.deepEqual(types(late.actions), ["renew_leader"]);
  const failed = decide(
    obs(down, view(), { now: 1_062_000, job: { ...job, status: "failed", error: "x" } }),
    late.memory,
    ctx("pg1", { dynamic }),
  );
  assert.deepEqual(types(failed.actions), ["demote", "release_leader"]);
});
