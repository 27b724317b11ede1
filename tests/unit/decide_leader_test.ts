/**
 * decide() as a specification, holding the leader key (src/core/decide_leader.ts): renew it and publish the
 * optime, slots and timeline history, restart a crashed primary under it, give it up past primary_start_timeout,
 * and hand over for a switchover. Each test builds one observation (tests/helpers/decide_inputs.ts) and asserts
 * the planned actions and the cycle's sentence.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { type ClusterView, INITIAL_MEMORY, type JobState } from "../../src/core/types.ts";
import { ctx, member, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

Deno.test("decide() keeps the lock, publishes the optime and keeps member slots when it is the leader", () => {
  const d = decide(obs(PRIMARY, view()), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "sync_slots"]);
  assert.deepEqual(d.actions[2], { type: "sync_slots", slots: ["pg2", "pg3"] });
  assert.equal(d.reason, "no action. I am (pg1), the leader with the lock");
  assert.equal(d.memory.isLeader, true);
});

Deno.test("decide() keeps renewing the lock while a job runs", () => {
  const job: JobState = {
    kind: "start",
    description: "starting primary after failure",
    startedAt: 0,
    status: "running",
  };
  const d = decide(
    obs(pgState({ running: false, queryable: false }), view(), { job }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(d.actions), ["renew_leader"]);
  assert.equal(d.reason, "starting primary after failure in progress");
});

Deno.test("decide() restarts a crashed primary in place while it holds the lock", () => {
  const crashed = { ...PRIMARY, running: false, queryable: false };
  const d = decide(obs(crashed, view()), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [
    { type: "renew_leader" },
    { type: "start_job", job: { kind: "start", role: "primary", upstream: null } },
  ]);
});

Deno.test("decide() publishes the timeline history when the leader's timeline is newer than the cluster's", () => {
  const pg = {
    ...PRIMARY,
    timeline: 3,
    timelineHistory: [
      { timeline: 1, switchLsn: 25165984, reason: "no recovery target specified" },
      { timeline: 2, switchLsn: 50331808, reason: "no recovery target specified" },
    ],
  };
  const known: ClusterView["history"] = [[
    1,
    25165984,
    "no recovery target specified",
    "2026-11-01T10:00:00+00:00",
    "pg2",
  ]];
  const d = decide(obs(pg, view({ history: known })), INITIAL_MEMORY, ctx("pg1"));
  const write = d.actions.find((a) => a.type === "write_history");
  assert.deepEqual(write, {
    type: "write_history",
    history: [
      [1, 25165984, "no recovery target specified", "2026-11-01T10:00:00+00:00", "pg2"],
      [2, 50331808, "no recovery target specified", "2026-11-26T12:00:00.000+00:00", "pg1"],
    ],
  });
  // Once published, the cluster timeline matches and nothing is written again.
  const again = decide(
    obs(pg, view({ history: write!.type === "write_history" ? write!.history : [] })),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.ok(!again.actions.some((a) => a.type === "write_history"));
});

Deno.test("decide() records a promotion that skipped a timeline number another member had used", () => {
  // pg1 was on timeline 1 and promoted past the cluster's timeline 2 (seeded history files): timeline 3 branches
  // from 1. The published entry still carries 2 -> 3 so that the cluster's timeline reads 3.
  const pg = {
    ...PRIMARY,
    timeline: 3,
    timelineHistory: [{ timeline: 1, switchLsn: 9000, reason: "no recovery target specified" }],
  };
  const known: ClusterView["history"] = [[
    1,
    8000,
    "no recovery target specified",
    "2026-11-01T10:00:00+00:00",
    "pg9",
  ]];
  const d = decide(obs(pg, view({ history: known })), INITIAL_MEMORY, ctx("pg1"));
  const write = d.actions.find((a) => a.type === "write_history");
  assert.deepEqual(write, {
    type: "write_history",
    history: [
      [1, 8000, "no recovery target specified", "2026-11-01T10:00:00+00:00", "pg9"],
      [2, 9000, "no recovery target specified", "2026-11-26T12:00:00.000+00:00", "pg1"],
    ],
  });
});

Deno.test("decide() releases the lock when the leader's Postgres stays down past primary_start_timeout", () => {
  const crashed = { ...PRIMARY, running: false, queryable: false };
  const dynamic = { ...DYNAMIC_DEFAULTS, primaryStartTimeout: 60 };
  const first = decide(obs(crashed, view(), { now: 1_000_000 }), INITIAL_MEMORY, ctx("pg1", { dynamic }));
  assert.deepEqual(types(first.actions), ["renew_leader", "start_job"]);
  assert.equal(first.memory.primaryDownSince, 1_000_000);
  const later = decide(obs(crashed, view(), { now: 1_030_000 }), first.memory, ctx("pg1", { dynamic }));
  assert.deepEqual(types(later.actions), ["renew_leader", "start_job"], "still within the timeout");
  const expired = decide(obs(crashed, view(), { now: 1_061_000 }), later.memory, ctx("pg1", { dynamic }));
  assert.deepEqual(types(expired.actions), ["demote", "release_leader"]);
  assert.match(expired.reason, /not been up for 61 s \(primary_start_timeout 60 s\)/);
  // Back up and answering: the clock resets.
  const up = decide(obs(PRIMARY, view(), { now: 1_062_000 }), later.memory, ctx("pg1", { dynamic }));
  assert.equal(up.memory.primaryDownSince, null);
});

Deno.test("decide() hands over on a switchover: stop cleanly (a job), then release the lock", () => {
  const v = view({ failover: { leader: "pg1", member: "pg2", modRevision: "30" } });
  const streaming = peer("pg2", 5000, { replicationState: "streaming" });
  const d = decide(obs(PRIMARY, v, { peers: [streaming] }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "start_job"]);
  assert.deepEqual(d.actions[2], { type: "start_job", job: { kind: "demote" } });
  const stopped = { ...PRIMARY, running: false, queryable: false };
  const after = decide(obs(stopped, v), d.memory, ctx("pg1"));
  assert.deepEqual(types(after.actions), ["release_leader"]);
});

Deno.test("decide() keeps the slot of a member that left for member_slots_ttl, then drops it", () => {
  const seen = { pg2: 1_000_000, pg3: 1_000_000 };
  const gone = view({ members: [member("pg1", { role: "primary" }), member("pg3")] });
  const soon = decide(
    obs(PRIMARY, gone, { now: 1_100_000 }),
    { ...INITIAL_MEMORY, membersSeen: seen },
    ctx("pg1"),
  );
  assert.deepEqual(soon.actions.find((a) => a.type === "sync_slots"), {
    type: "sync_slots",
    slots: ["pg2", "pg3"],
  });
  const late = decide(obs(PRIMARY, gone, { now: 1_000_000 + 1801_000 }), soon.memory, ctx("pg1"));
  assert.deepEqual(late.actions.find((a) => a.type === "sync_slots"), { type: "sync_slots", slots: ["pg3"] });
});
