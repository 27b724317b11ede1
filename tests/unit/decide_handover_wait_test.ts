/**
 * decide() as a specification of a switchover's last step (src/core/handover_wait.ts): the former leader publishes
 * its shutdown checkpoint before it releases the key, and a member that would take the key waits, bounded by the
 * switchover wait, until its WAL position reaches that position; past the wait it clears the request and stays a
 * replica, saying why.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { INITIAL_MEMORY, type JobState, type Memory } from "../../src/core/types.ts";
import { ctx, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const SWITCHOVER = { leader: "pg1", member: "pg2", modRevision: "30" };
const GONE = view({
  leader: null,
  failover: SWITCHOVER,
  status: { optime: 6000, slots: {}, retainSlots: [] },
});

Deno.test("decide() after a switchover's clean shutdown publishes the shutdown checkpoint, then releases the key", () => {
  const job: JobState = { kind: "demote", description: "switchover", startedAt: 0, status: "ok" };
  const stopped = pgState({
    running: false,
    queryable: false,
    role: null,
    standbySignal: false,
    walPosition: null,
    controlPosition: { inRecovery: false, timeline: 1, lsn: 6200 },
  });
  const mem: Memory = { ...INITIAL_MEMORY, isLeader: true, handover: true };
  const d = decide(obs(stopped, view({ failover: SWITCHOVER }), { job }), mem, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "write_status", optime: 6200 }, { type: "release_leader" }]);
  assert.equal(
    d.reason,
    "released the leader key after a clean shutdown for the switchover (final position 6200 published)",
  );
  // A checkpoint not past what `status` holds (a crash leaves an older one) is not published.
  const older = { ...stopped, controlPosition: { inRecovery: false, timeline: 1, lsn: 4000 } };
  const kept = decide(obs(older, view({ failover: SWITCHOVER }), { job }), mem, ctx("pg1"));
  assert.deepEqual(kept.actions, [{ type: "release_leader" }]);
});

Deno.test("decide() a switchover candidate below the former leader's final position waits, then gives up", () => {
  const behind = pgState({ walPosition: 5900 });
  const first = decide(obs(behind, GONE, { now: 1_000_000 }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(first.actions, []);
  assert.equal(
    first.reason,
    "waiting before taking the leader key for the switchover from 'pg1': my WAL position 5900 has not reached " +
      "the former leader's final position 6000 (20 s left of the switchover wait)",
  );
  assert.equal(first.memory.finalPositionWaitSince, 1_000_000);
  const later = decide(obs(behind, GONE, { now: 1_015_000 }), first.memory, ctx("pg2"));
  assert.match(later.reason, /\(5 s left of the switchover wait\)$/);
  const past = decide(obs(behind, GONE, { now: 1_020_000 }), later.memory, ctx("pg2"));
  assert.deepEqual(past.actions, [{ type: "clear_failover", modRevision: "30" }]);
  assert.equal(
    past.reason,
    "not taking the leader key for the switchover from 'pg1': my WAL position 5900 has not reached the former " +
      "leader's final position 6000 within the switchover wait (20 s); cleared the failover key",
  );
  assert.equal(past.memory.finalPositionWaitSince, undefined);
});

Deno.test("decide() a switchover candidate at the former leader's final position takes the key at once", () => {
  const there = decide(obs(pgState({ walPosition: 6000 }), GONE), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(there.actions), ["acquire_leader", "write_history", "promote", "clear_failover"]);
  // Caught up during the wait: the wait is forgotten once someone holds the key.
  const waited = { ...INITIAL_MEMORY, finalPositionWaitSince: 990_000 };
  const caught = decide(obs(pgState({ walPosition: 6100 }), GONE), waited, ctx("pg2"));
  assert.deepEqual(types(caught.actions), ["acquire_leader", "write_history", "promote", "clear_failover"]);
  const led = decide(obs(pgState({ walPosition: 6100 }), view()), waited, ctx("pg2"));
  assert.equal(led.memory.finalPositionWaitSince, undefined);
});

Deno.test("decide() every member but the former leader waits for the final position before it may race", () => {
  const any = view({
    leader: null,
    failover: { leader: "pg1", modRevision: "30" },
    status: { optime: 6000, slots: {}, retainSlots: [] },
  });
  const d = decide(
    obs(pgState({ walPosition: 5900 }), any, { peers: [peer("pg3", 5000)] }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.match(d.reason, /^waiting before taking the leader key for the switchover from 'pg1'/);
  // The former leader, a manual failover without a leader and a nofailover member race as before.
  const former = decide(obs(pgState({ walPosition: 5900 }), any), INITIAL_MEMORY, ctx("pg1"));
  assert.doesNotMatch(former.reason, /waiting before taking/);
  // A member that is not the candidate waits too: it may race when it cannot reach the candidate.
  const other = decide(obs(pgState({ walPosition: 5900 }), GONE), INITIAL_MEMORY, ctx("pg3"));
  assert.match(other.reason, /^waiting before taking the leader key for the switchover from 'pg1'/);
  const ahead = decide(
    obs(pgState({ walPosition: 6000 }), GONE, { peers: [peer("pg2", 6000)] }),
    INITIAL_MEMORY,
    ctx("pg3"),
  );
  assert.equal(ahead.reason, "waiting for candidate 'pg2' to take the lock");
  const failover = view({ ...GONE, failover: { member: "pg2", modRevision: "30" } });
  const manual = decide(obs(pgState({ walPosition: 5900 }), failover), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(manual.actions), ["acquire_leader", "write_history", "promote", "clear_failover"]);
  const tagged = decide(
    obs(pgState({ walPosition: 5900 }), GONE),
    INITIAL_MEMORY,
    ctx("pg2", { tags: { nofailover: true } }),
  );
  assert.match(tagged.reason, /tagged nofailover/);
  // A primary in the race is not a waiting candidate.
  const primary = decide(obs({ ...PRIMARY, walPosition: 5900 }, GONE), INITIAL_MEMORY, ctx("pg2"));
  assert.doesNotMatch(primary.reason, /waiting before taking/);
});

Deno.test("decide() a key holder that gives the key up on a timeline `history` does not know publishes it first", () => {
  // Promoted to timeline 2 (its history file says it left timeline 1 at 4000), then its supervisor failed.
  const promoted = {
    ...PRIMARY,
    timeline: 2,
    timelineHistory: [{ timeline: 1, switchLsn: 4000, reason: "no recovery target specified" }],
  };
  const d = decide(
    obs(promoted, view({ history: [] }), { fenceUnusable: "it exited with code 1" }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(d.actions), ["demote", "write_history", "release_leader"]);
  const written = d.actions[1] as { type: "write_history"; history: unknown[][] };
  assert.deepEqual(written.history.map((e) => e.slice(0, 3)), [[1, 4000, "no recovery target specified"]]);
  // Already published: nothing more.
  const known = view({ history: [[1, 4000, "no recovery target specified"]] });
  const again = decide(
    obs(promoted, known, { fenceUnusable: "it exited with code 1" }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(again.actions), ["demote", "release_leader"]);
});
