/**
 * decide() as a specification, with the fencing supervisor on but not usable (`Observation.fenceUnusable`): no
 * member takes or keeps the leader key and each sentence says why (replicas still clone and follow), pause ignores
 * it, the key is never released beside a running job, and peers whose supervisor failed are not counted.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY, type JobState } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const DEAD = "it exited with code 1";

Deno.test("decide() without a usable fencing supervisor: a healthy replica does not take the vanished key", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg3", 5500)],
    fenceUnusable: DEAD,
  });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, `not taking the leader key because the fencing supervisor is not running (${DEAD})`);
  const usable = decide({ ...o, fenceUnusable: undefined }, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(usable.actions), ["acquire_leader", "write_history", "promote"]);
});

Deno.test("decide() without a usable fencing supervisor: the leader demotes and gives the key up", () => {
  const d = decide(obs(PRIMARY, view(), { fenceUnusable: DEAD }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  assert.equal(
    d.reason,
    `demoting self because the fencing supervisor is not running (${DEAD}): giving up the leader key`,
  );
  assert.equal(d.memory.isLeader, false);
  const fresh = decide(
    obs(pgState(), view({ leader: { ...view().leader!, name: "pg2" } }), { fenceUnusable: DEAD }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(fresh.actions, [{ type: "release_leader" }]);
  assert.match(fresh.reason, /^released the leader key because the fencing supervisor is not running/);
});

Deno.test("decide() without a usable fencing supervisor: no bootstrap, a lockless primary demotes, replicas follow", () => {
  const empty = decide(
    obs(EMPTY, view({ initialize: null, leader: null, config: null, members: [] }), { fenceUnusable: DEAD }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(empty.actions, []);
  assert.match(
    empty.reason,
    /^not bootstrapping a new cluster because the fencing supervisor is not running/,
  );
  const lockless = decide(
    obs(PRIMARY, view({ leader: null }), { fenceUnusable: DEAD }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(lockless.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(lockless.reason, /^demoting self because the fencing supervisor is not running/);
  const job: JobState = { kind: "bootstrap", description: "bootstrap", startedAt: 0, status: "ok" };
  const booted = decide(
    obs(PRIMARY, view({ initialize: "", leader: null, config: null, members: [] }), {
      job,
      fenceUnusable: DEAD,
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(booted.actions), ["demote", "cancel_initialize"]);
  const clone = decide(obs(EMPTY, view(), { fenceUnusable: DEAD }), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(types(clone.actions), ["start_job"]);
  const held = pgState({ slots: ["pg1", "pg3"] }); // the other members' slots, kept on a replica
  const follow = decide(obs(held, view(), { fenceUnusable: DEAD }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(follow.actions), ["follow"]);
});

Deno.test("decide() in pause ignores the fencing supervisor: the leader keeps its key", () => {
  const d = decide(
    obs(PRIMARY, view(), { fenceUnusable: DEAD }),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
  );
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "sync_slots"]);
});

Deno.test("decide() never releases the key beside a running job when the supervisor goes, nor renews it", () => {
  const job: JobState = {
    kind: "start",
    description: "starting primary after failure",
    startedAt: 0,
    status: "running",
  };
  const down = pgState({ running: false, queryable: false });
  const d = decide(obs(down, view(), { job, fenceUnusable: DEAD }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, []);
  assert.match(
    d.reason,
    /^starting primary after failure in progress; the fencing supervisor is not running/,
  );
  const ended = decide(
    obs(PRIMARY, view(), { job: { ...job, status: "ok" }, fenceUnusable: DEAD }),
    d.memory,
    ctx("pg1"),
  );
  assert.deepEqual(ended.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
});

Deno.test("decide() stops a promotion in flight when the supervisor goes, and gives the key up", () => {
  // Found by the simulator: the key holder's agent was frozen right after the cycle that stopped renewing, the
  // promotion ended, and nothing stopped the new primary when another member was promoted after the lease.
  const job: JobState = {
    kind: "promote",
    description: "promoting postgres",
    startedAt: 0,
    status: "running",
  };
  const d = decide(obs(pgState(), view(), { job, fenceUnusable: DEAD }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  assert.match(
    d.reason,
    /^promoting postgres in progress; the fencing supervisor is not running .*stopping postgres/,
  );
  assert.equal(d.memory.isLeader, false);
});

Deno.test("decide(): a peer ahead whose fencing supervisor failed is not counted in the race", () => {
  const o = obs(pgState({ walPosition: 5000 }), view({ leader: null }), {
    peers: [{ ...peer("pg3", 9000), fenceFailed: true }],
  });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["acquire_leader", "write_history", "promote"]);
  const counted = decide({ ...o, peers: [peer("pg3", 9000)] }, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(counted.actions, []);
});
