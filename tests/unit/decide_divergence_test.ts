/**
 * Divergence from the leader's history (src/core/divergence.ts and its use in decide_replica.ts): when the leader's
 * timeline is fetched, Patroni's comparison, and what decide does about a member that left the leader's history —
 * one started as a replica while nobody led, one that lost a race or was demoted (stopped), one ahead of the new
 * leader (running, not streaming), one behind a cascading upstream still on the old timeline.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { divergenceCheckTarget, hasDiverged, walProbe } from "../../src/core/divergence.ts";
import { walRange } from "../../src/pg/leader_timeline.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import {
  INITIAL_MEMORY,
  type LeaderTimeline,
  type Observation,
  type PgObservation,
} from "../../src/core/types.ts";
import { ctx, member, obs, pgState, view } from "../helpers/decide_inputs.ts";

const PG1 = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
const REWIND = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
/** pg1 leads on timeline 2, which left timeline 1 at 5000. */
const LEADER_TL2: LeaderTimeline = {
  member: "pg1",
  inRecovery: false,
  timeline: 2,
  history: [{ timeline: 1, switchLsn: 5000, reason: "no recovery target specified" }],
};
const leaderOnTl2 = view({
  members: [member("pg1", { role: "primary", timeline: 2 }), member("pg2"), member("pg3")],
});
/** The other members' slots, which a replica of pg2's keeps (as Patroni 4 does with member_slots_ttl above 0). */
const HELD = ["pg1", "pg3"];
/** A replica on timeline 1 at 6000: 1000 bytes past the point where the leader's history left timeline 1. */
const AHEAD_RUNNING = pgState({
  slots: HELD,
  replicationState: "in archive recovery",
  walPosition: 6000,
  replayLsn: 6000,
});
const AHEAD_STOPPED = pgState({
  running: false,
  queryable: false,
  role: null,
  replicationState: null,
  controlPosition: { inRecovery: true, timeline: 1, lsn: 6000 },
});

function withLeader(pg: PgObservation, lt: LeaderTimeline = LEADER_TL2, over: Partial<Observation> = {}) {
  return obs(pg, leaderOnTl2, { leaderTimeline: lt, ...over });
}

Deno.test("divergenceCheckTarget(): the read-write leader, for a stopped member, a silent replica or one behind its timeline", () => {
  const ok = { kind: "ok" as const, cluster: leaderOnTl2 };
  assert.deepEqual(divergenceCheckTarget(ok, AHEAD_STOPPED, false, "pg2", false), PG1);
  assert.deepEqual(divergenceCheckTarget(ok, AHEAD_RUNNING, false, "pg2", false), PG1);
  // Streaming, but on timeline 1 while the leader's key says 2 (a cascading upstream on the old timeline).
  assert.deepEqual(divergenceCheckTarget(ok, pgState(), false, "pg3", false), PG1);
  // Streaming on the leader's timeline: nothing to check.
  assert.equal(divergenceCheckTarget(ok, pgState({ timeline: 2 }), false, "pg2", false), null);
  // Never while a job runs, while paused, for the leader itself, or while the leader is not read-write yet.
  assert.equal(divergenceCheckTarget(ok, AHEAD_STOPPED, true, "pg2", false), null);
  assert.equal(divergenceCheckTarget(ok, AHEAD_STOPPED, false, "pg2", true), null);
  assert.equal(divergenceCheckTarget(ok, AHEAD_STOPPED, false, "pg1", false), null);
  const promoting = view({ members: [member("pg1", { role: "replica" }), member("pg2")] });
  assert.equal(
    divergenceCheckTarget({ kind: "ok", cluster: promoting }, AHEAD_STOPPED, false, "pg2", false),
    null,
  );
});

Deno.test("hasDiverged(): Patroni's comparison of a position with the leader's timeline history", () => {
  const h = LEADER_TL2.history;
  assert.equal(
    hasDiverged({ inRecovery: true, timeline: 1, lsn: 5000 }, 2, h),
    false,
    "replayed up to the switch",
  );
  assert.equal(
    hasDiverged({ inRecovery: true, timeline: 1, lsn: 5001 }, 2, h),
    true,
    "replayed past the switch",
  );
  assert.equal(
    hasDiverged({ inRecovery: false, timeline: 1, lsn: 4900 }, 2, h),
    false,
    "checkpoint before it",
  );
  assert.equal(
    hasDiverged({ inRecovery: false, timeline: 1, lsn: 5000 }, 2, h),
    true,
    "checkpoint at the switch",
  );
  assert.equal(hasDiverged({ inRecovery: true, timeline: 2, lsn: 9000 }, 2, h), false, "same timeline");
  assert.equal(hasDiverged({ inRecovery: true, timeline: 3, lsn: 100 }, 2, h), true, "newer than the leader");
  // Timeline 2 of another history: the leader's went 1 -> 3, so a member on 2 has left it.
  const skip = [{ timeline: 1, switchLsn: 5000, reason: "" }, { timeline: 3, switchLsn: 8000, reason: "" }];
  assert.equal(hasDiverged({ inRecovery: true, timeline: 2, lsn: 5100 }, 4, skip), true);
  assert.equal(
    hasDiverged({ inRecovery: true, timeline: 2, lsn: 5100 }, 4, []),
    true,
    "no history to follow",
  );
});

Deno.test("decide() rewinds a running replica ahead of the new leader from the leader, stopping it first", () => {
  const d = decide(withLeader(AHEAD_RUNNING), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(d.actions, [
    { type: "demote", mode: "fast" },
    { type: "start_job", job: { kind: "rewind", upstream: PG1 } },
  ]);
  assert.match(d.reason, /^diverged: rewind needed \(timeline 1 at 0\/1770 is not in the history of 'pg1'/);
});

Deno.test("decide() rewinds a stopped replica (after a lost race or a demotion) ahead of the leader before it starts", () => {
  const d = decide(withLeader(AHEAD_STOPPED), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(d.actions, [{ type: "start_job", job: { kind: "rewind", upstream: PG1 } }]);
  assert.match(d.reason, /^diverged: rewind needed/);
  // Not past the switch point: it starts as a replica and streams the new timeline.
  const behind = { ...AHEAD_STOPPED, controlPosition: { inRecovery: true, timeline: 1, lsn: 4000 } };
  const d2 = decide(withLeader(behind), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(d2.actions, [{
    type: "start_job",
    job: { kind: "start", role: "replica", upstream: PG1 },
  }]);
  // The leader's history could not be read: start (the check runs again while it does not stream).
  const unknown = withLeader(AHEAD_STOPPED, { member: "pg1", error: "pg1 is still in recovery" });
  assert.equal(
    decide(unknown, INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND })).actions[0]?.type,
    "start_job",
  );
});

Deno.test("decide() checks a replica behind a cascading upstream against the leader and rewinds from the leader", () => {
  // pg3 streams from pg2 (replicatefrom), both still on timeline 1 past the leader's switch point.
  const pg = pgState({ walPosition: 6000, replayLsn: 6000, upstream: "127.0.0.1:5433" });
  const d = decide(
    withLeader(pg),
    INITIAL_MEMORY,
    ctx("pg3", { dynamic: REWIND, tags: { replicatefrom: "pg2" } }),
  );
  assert.deepEqual(d.actions, [
    { type: "demote", mode: "fast" },
    { type: "start_job", job: { kind: "rewind", upstream: PG1 } },
  ]);
});

Deno.test("decide() rewinds a former primary from the read-write leader, never from its replicatefrom member", () => {
  const former = pgState({ running: false, queryable: false, role: null, standbySignal: false });
  const d = decide(
    obs(former, leaderOnTl2),
    INITIAL_MEMORY,
    ctx("pg3", { dynamic: REWIND, tags: { replicatefrom: "pg2" } }),
  );
  assert.deepEqual(d.actions, [{ type: "start_job", job: { kind: "rewind", upstream: PG1 } }]);
  assert.equal(d.reason, "running pg_rewind from 'pg1' before following 'pg2'");
  // The leader's key does not say it runs as a primary yet: wait rather than rewind from a server in recovery.
  const promoting = view({ members: [member("pg1", { role: "replica" }), member("pg2"), member("pg3")] });
  const d2 = decide(obs(former, promoting), INITIAL_MEMORY, ctx("pg3", { dynamic: REWIND }));
  assert.deepEqual(d2.actions, []);
  assert.match(d2.reason, /waiting for the leader 'pg1' to run as the read-write primary/);
});

Deno.test("decide() re-clones a diverged replica without pg_rewind when remove_data_directory_on_diverged_timelines is set", () => {
  const d = decide(
    withLeader(AHEAD_RUNNING),
    INITIAL_MEMORY,
    ctx("pg2", { removeDataOnDivergedTimelines: true }),
  );
  assert.deepEqual(d.actions, [
    { type: "demote", mode: "fast" },
    { type: "start_job", job: { kind: "clone", upstream: PG1 } },
  ]);
  const stopped = decide(
    withLeader(AHEAD_STOPPED),
    INITIAL_MEMORY,
    ctx("pg2", { removeDataOnDivergedTimelines: true }),
  );
  assert.deepEqual(stopped.actions, [{ type: "start_job", job: { kind: "clone", upstream: PG1 } }]);
});

Deno.test("decide() says a diverged replica needs 'hactl reinit' when it may neither rewind nor re-clone", () => {
  const d = decide(withLeader(AHEAD_RUNNING), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "follow", upstream: PG1 }]);
  assert.doesNotMatch(d.reason, /^no action/);
  assert.match(d.reason, /but not streaming: diverged .*run 'hactl reinit'/);
});

Deno.test("decide() says when a following replica has not streamed for a while, never 'no action' forever", () => {
  const pg = pgState({ replicationState: "in archive recovery", timeline: 2 });
  const same: LeaderTimeline = { ...LEADER_TL2 };
  const first = decide(withLeader(pg, same, { now: 100_000 }), INITIAL_MEMORY, ctx("pg2"));
  assert.equal(first.memory.notStreamingSince, 100_000);
  assert.match(first.reason, /^no action/);
  const later = decide(withLeader(pg, same, { now: 160_000 }), first.memory, ctx("pg2"));
  assert.equal(later.memory.notStreamingSince, 100_000);
  assert.match(
    later.reason,
    /following 'pg1' \(leader pg1\) but not streaming for 60 s \(in archive recovery\)/,
  );
  // Streaming again clears the mark.
  const again = decide(
    withLeader(pgState({ timeline: 2 }), same, { now: 170_000 }),
    later.memory,
    ctx("pg2"),
  );
  assert.equal(again.memory.notStreamingSince, undefined);
  assert.match(again.reason, /^no action/);
});

Deno.test("decide() restarts a replica that chases a timeline the leader never had, once it has not streamed for a while", () => {
  // Its WAL (timeline 2 at 5000) is on the leader's history (timeline 4 left 2 at 6000), but its pg_wal holds the
  // history file of timeline 3, an abandoned branch: Postgres keeps asking the leader for timeline 3.
  const leader: LeaderTimeline = {
    member: "pg1",
    inRecovery: false,
    timeline: 4,
    history: [{ timeline: 1, switchLsn: 1000, reason: "" }, { timeline: 2, switchLsn: 6000, reason: "" }],
  };
  const pg = pgState({
    replicationState: "in archive recovery",
    timeline: 2,
    historyTimelines: [3],
    slots: HELD,
  });
  const first = decide(withLeader(pg, leader, { now: 100_000 }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(
    first.actions,
    [{ type: "follow", upstream: PG1 }],
    "not at once: it may be about to stream",
  );
  const later = decide(withLeader(pg, leader, { now: 130_000 }), first.memory, ctx("pg2"));
  assert.deepEqual(later.actions, [
    { type: "demote", mode: "fast" },
    { type: "start_job", job: { kind: "start", role: "replica", upstream: PG1 } },
  ]);
  assert.match(later.reason, /history of timeline 3, which is not in the history of 'pg1' \(timeline 4\)/);
  // A history file of the leader's own lineage is what Postgres is about to follow: nothing to do.
  const fine = pgState({
    replicationState: "in archive recovery",
    timeline: 2,
    historyTimelines: [4],
    slots: HELD,
  });
  const d = decide(withLeader(fine, leader, { now: 130_000 }), first.memory, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "follow", upstream: PG1 }]);
  // The leader's timeline 4 is there too, but Postgres chose timeline 3 when it started and cannot switch to 4
  // ("new timeline 4 is not a child of database system timeline 2"): restarted, it picks 4 (3, then 4, exist).
  const both = pgState({ replicationState: "in archive recovery", timeline: 2, historyTimelines: [3, 4] });
  const stuck = decide(withLeader(both, leader, { now: 130_000 }), first.memory, ctx("pg2"));
  assert.deepEqual(stuck.actions, later.actions);
  assert.match(stuck.reason, /history of timeline 3, which is not in the history of 'pg1' \(timeline 4\)/);
});

Deno.test("decide() rewinds a replica whose pages hold a timeline the leader never had (rewound from a member that lost)", () => {
  // Replayed timeline 2 up to 5000 only, but pg_rewind from a timeline-3 member left its minimum recovery point on
  // timeline 3 at 7000: the leader's timeline 4 left timeline 2 at 6000 and never had timeline 3.
  const leader: LeaderTimeline = {
    member: "pg1",
    inRecovery: false,
    timeline: 4,
    history: [{ timeline: 1, switchLsn: 1000, reason: "" }, { timeline: 2, switchLsn: 6000, reason: "" }],
  };
  const pg = pgState({
    replicationState: "in archive recovery",
    timeline: 2,
    minRecoveryPoint: { inRecovery: true, timeline: 3, lsn: 7000 },
  });
  const d = decide(withLeader(pg, leader), INITIAL_MEMORY, ctx("pg3", { dynamic: REWIND }));
  assert.deepEqual(d.actions, [
    { type: "demote", mode: "fast" },
    { type: "start_job", job: { kind: "rewind", upstream: PG1 } },
  ]);
  assert.match(d.reason, /timeline 3 at 0\/1B58 is not in the history of 'pg1'/);
});

Deno.test("decide() never starts or streams a member whose timeline number is the leader's but whose history is not", () => {
  // Both promoted to timeline 2 unaware of each other: this member left timeline 1 at 4000, the leader at 5000.
  const own = [{ timeline: 1, switchLsn: 4000, reason: "" }];
  const stopped = pgState({
    running: false,
    queryable: false,
    role: null,
    standbySignal: false,
    replicationState: null,
    controlPosition: { inRecovery: false, timeline: 2, lsn: 4500 },
    positionHistory: own,
  });
  const d = decide(withLeader(stopped), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(d.actions, [], "pg_rewind would report 'same timeline, no rewind required'");
  assert.match(
    d.reason,
    /another history than timeline 2 of 'pg1'.*not starting postgres: run 'hactl reinit'/,
  );
  const clone = decide(
    withLeader(stopped),
    INITIAL_MEMORY,
    ctx("pg2", { removeDataOnDivergedTimelines: true }),
  );
  assert.deepEqual(clone.actions, [{ type: "start_job", job: { kind: "clone", upstream: PG1 } }]);
  // Already running as a replica of it: stop streaming the foreign history.
  const running = pgState({ timeline: 2, positionHistory: own });
  const r = decide(withLeader(running), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(r.actions, [{ type: "demote", mode: "fast" }]);
  // The same history: nothing to do.
  const same = pgState({ timeline: 2, positionHistory: LEADER_TL2.history, slots: HELD });
  assert.deepEqual(decide(withLeader(same), INITIAL_MEMORY, ctx("pg2")).actions, [{
    type: "follow",
    upstream: PG1,
  }]);
});

Deno.test("decide() never starts a member whose timeline began with other WAL than the leader's at the same switch point", () => {
  // Both promoted from timeline 1 at 5000 to timeline 2, unaware of each other (the first stopped before it
  // published its timeline): one history file, two timelines. Only the WAL written after the switch tells them apart.
  const stopped = pgState({
    running: false,
    queryable: false,
    role: null,
    standbySignal: false,
    replicationState: null,
    controlPosition: { inRecovery: false, timeline: 2, lsn: 5400 },
    positionHistory: LEADER_TL2.history,
  });
  const differs: LeaderTimeline = { ...LEADER_TL2, switchWal: { lsn: 5000, match: false } };
  const d = decide(withLeader(stopped, differs), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(d.actions, [], "pg_rewind would report 'same timeline, no rewind required'");
  assert.match(d.reason, /timeline 2 began with other WAL at 0\/1388 than on 'pg1'.*run 'hactl reinit'/);
  const clone = decide(
    withLeader(stopped, differs),
    INITIAL_MEMORY,
    ctx("pg2", { removeDataOnDivergedTimelines: true }),
  );
  assert.deepEqual(clone.actions, [{ type: "start_job", job: { kind: "clone", upstream: PG1 } }]);
  // The same WAL at the switch point (or none compared): a former primary is rewound as before (pg_rewind looks).
  for (const lt of [{ ...LEADER_TL2, switchWal: { lsn: 5000, match: true } }, LEADER_TL2]) {
    const same = decide(withLeader(stopped, lt), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
    assert.deepEqual(same.actions, [{ type: "start_job", job: { kind: "rewind", upstream: PG1 } }]);
  }
});

Deno.test("walProbe(): which WAL a stopped member on a newer timeline compares with the leader's", () => {
  const stopped = (lsn: number, timeline = 2) =>
    pgState({
      running: false,
      queryable: false,
      role: null,
      replicationState: null,
      controlPosition: { inRecovery: false, timeline, lsn },
      positionHistory: timeline > 1 ? LEADER_TL2.history : [],
    });
  assert.deepEqual(walProbe(stopped(5400)), { timeline: 2, lsn: 5000, length: 400 });
  assert.deepEqual(walProbe(stopped(9000)), { timeline: 2, lsn: 5000, length: 512 }, "at most 512 bytes");
  assert.equal(walProbe(stopped(5000)), null, "nothing written after the switch");
  assert.equal(walProbe(stopped(5400, 1)), null, "timeline 1 has no switch");
  assert.equal(walProbe(pgState({ timeline: 2, positionHistory: LEADER_TL2.history })), null, "running");
});

Deno.test("walRange(): the probe's bytes within the switch point's segment file, no further than the leader wrote", () => {
  const seg = 16 * 1024 * 1024;
  // Timeline 7 left timeline 6 at 0/60002A8: segment 6 of log 0.
  assert.deepEqual(walRange({ timeline: 7, lsn: 0x60002a8, length: 512 }, 0x6000400, seg), {
    lsn: 0x60002a8,
    file: "000000070000000000000006",
    offset: 0x2a8,
    length: 0x158,
  });
  // Past 4 GiB, and cut at the end of the segment.
  assert.deepEqual(walRange({ timeline: 2, lsn: 0x1_00ffff00, length: 512 }, 0x2_00000000, seg), {
    lsn: 0x1_00ffff00,
    file: "000000020000000100000000",
    offset: 0xffff00,
    length: 0x100,
  });
  assert.equal(
    walRange({ timeline: 2, lsn: 5000, length: 400 }, 5000, seg),
    null,
    "the leader wrote nothing after",
  );
  assert.equal(walRange({ timeline: 2, lsn: 5000, length: 400 }, 9000, Number.NaN), null);
});
