/**
 * The checkpoint after a promotion (src/core/checkpoint_after_promote.ts): a new primary whose latest checkpoint is
 * still on the timeline it was promoted from asks for CHECKPOINT (run beside the loop, not as a job) until
 * pg_control shows its timeline, and says `checkpoint_after_promote:
 * false` in its member key meanwhile; a member that needs pg_rewind waits until the leader's latest checkpoint is on
 * the timeline it writes (read from its server, or its member key's flag), and rewinds once it is.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { memberRecord } from "../../src/core/member.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY, type LeaderTimeline, type PgObservation } from "../../src/core/types.ts";
import { ctx, member, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

const PG1 = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
const REWIND = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
/** pg1 was promoted to timeline 2 at 5000; its latest checkpoint is still on timeline 1. */
const PROMOTED: PgObservation = { ...PRIMARY, timeline: 2, checkpointTimeline: 1 };
const LEADER_TL2 = view({
  members: [member("pg1", { role: "primary", timeline: 2 }), member("pg2"), member("pg3")],
});
const READ: LeaderTimeline = {
  member: "pg1",
  inRecovery: false,
  timeline: 2,
  history: [{ timeline: 1, switchLsn: 5000, reason: "no recovery target specified" }],
  checkpointTimeline: 1,
};
/** A former primary of timeline 1 (no standby.signal), stopped past the switch point. */
const FORMER = pgState({
  running: false,
  queryable: false,
  role: null,
  standbySignal: false,
  replicationState: null,
  controlPosition: { inRecovery: false, timeline: 1, lsn: 6000 },
});

Deno.test("a new primary whose latest checkpoint is on an older timeline asks for CHECKPOINT beside the loop", () => {
  const CKPT = { type: "checkpoint_after_promote" } as const;
  const d = decide(obs(PROMOTED, LEADER_TL2), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1"));
  assert.deepEqual(d.actions.at(-1), CKPT);
  assert.equal(d.actions[0]!.type, "renew_leader");
  assert.ok(!d.actions.some((a) => a.type === "start_job"), "not a job: the job slot stays free");
  assert.match(
    d.reason,
    /; checkpoint after promotion \(the latest checkpoint is on timeline 1, .* timeline 2\)$/,
  );
  // Asked again every cycle until pg_control has the new timeline (the shell skips it while one is in flight, and a
  // failed one is thus tried again); once it has, nothing more is asked.
  const again = decide(obs(PROMOTED, LEADER_TL2), d.memory, ctx("pg1"));
  assert.deepEqual(again.actions.at(-1), CKPT);
  const done = decide(obs({ ...PROMOTED, checkpointTimeline: 2 }, LEADER_TL2), d.memory, ctx("pg1"));
  assert.ok(!done.actions.some((a) => a.type === CKPT.type), JSON.stringify(done.actions));
  // Not while a job stops or restarts Postgres (the loop only renews then).
  for (const kind of ["restart", "demote", "stop"] as const) {
    const job = { kind, description: kind, startedAt: 0, status: "running" as const };
    const busy = decide(
      obs(PROMOTED, LEADER_TL2, { job }),
      { ...INITIAL_MEMORY, isLeader: true },
      ctx("pg1"),
    );
    assert.ok(!busy.actions.some((a) => a.type === CKPT.type), `${kind}: ${JSON.stringify(busy.actions)}`);
  }
  // Not on a replica, nor when the adapter does not say (the fake), nor without the key.
  for (const pg of [pgState({ timeline: 2, checkpointTimeline: 1 }), { ...PRIMARY, timeline: 2 }]) {
    const other = decide(obs(pg, LEADER_TL2), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1"));
    assert.ok(!other.actions.some((a) => a.type === CKPT.type), JSON.stringify(other.actions));
  }
  const follower = view({
    members: [member("pg1"), member("pg2", { role: "primary", timeline: 2 })],
    leader: { name: "pg2", createRevision: "10", modRevision: "10", lease: "77" },
  });
  const noKey = decide(obs(PROMOTED, follower), INITIAL_MEMORY, ctx("pg1"));
  assert.ok(!noKey.actions.some((a) => a.type === CKPT.type), JSON.stringify(noKey.actions));
});

Deno.test("the leader's member key says checkpoint_after_promote: false until the checkpoint, as Patroni's", () => {
  const record = (pg: PgObservation, holdsLock: boolean) =>
    memberRecord({
      obs: obs(pg, LEADER_TL2),
      pg,
      holdsLock,
      connUrl: PG1.connUrl,
      apiUrl: "http://127.0.0.1:8008/patroni",
      tags: {},
      scheduledRestart: null,
      paused: false,
    });
  assert.equal(record(PROMOTED, true).checkpoint_after_promote, false);
  assert.equal("checkpoint_after_promote" in record({ ...PROMOTED, checkpointTimeline: 2 }, true), false);
  assert.equal("checkpoint_after_promote" in record(PROMOTED, false), false);
});

Deno.test("a former primary waits for the leader's checkpoint after its promotion before pg_rewind", () => {
  const wait = decide(
    obs(FORMER, LEADER_TL2, { leaderTimeline: READ }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: REWIND }),
  );
  assert.deepEqual(wait.actions, []);
  assert.equal(
    wait.reason,
    "waiting for checkpoint on 'pg1' before rewind (its latest checkpoint is on timeline 1, it writes timeline 2)",
  );
  const ready = decide(
    obs(FORMER, LEADER_TL2, { leaderTimeline: { ...READ, checkpointTimeline: 2 } }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: REWIND }),
  );
  assert.deepEqual(ready.actions, [{ type: "start_job", job: { kind: "rewind", upstream: PG1 } }]);
  // A Patroni (or hactl) leader's member key that says the checkpoint is not done yet is honoured too.
  const flagged = view({
    members: [
      member("pg1", { role: "primary", timeline: 2, checkpoint_after_promote: false }),
      member("pg2"),
    ],
  });
  const byKey = decide(obs(FORMER, flagged), INITIAL_MEMORY, ctx("pg2", { dynamic: REWIND }));
  assert.deepEqual(byKey.actions, []);
  assert.match(byKey.reason, /^waiting for checkpoint on 'pg1' before rewind \(its member key says/);
});

Deno.test("a diverged replica waits for the leader's checkpoint before it stops for pg_rewind", () => {
  const stopped = pgState({
    running: false,
    queryable: false,
    role: null,
    replicationState: null,
    controlPosition: { inRecovery: true, timeline: 1, lsn: 6000 },
  });
  const d = decide(
    obs(stopped, LEADER_TL2, { leaderTimeline: READ }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: REWIND }),
  );
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /^diverged: rewind needed \(.*\); waiting for checkpoint on 'pg1' before rewind/);
  // Running, not streaming, past the switch point: it keeps running until then (no demote, no job).
  const running = pgState({ replicationState: "in archive recovery", walPosition: 6000, replayLsn: 6000 });
  const r = decide(
    obs(running, LEADER_TL2, { leaderTimeline: READ }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: REWIND }),
  );
  assert.deepEqual(r.actions, []);
  assert.match(r.reason, /waiting for checkpoint on 'pg1' before rewind/);
  const go = decide(
    obs(running, LEADER_TL2, { leaderTimeline: { ...READ, checkpointTimeline: 2 } }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: REWIND }),
  );
  assert.deepEqual(go.actions, [
    { type: "demote", mode: "fast" },
    { type: "start_job", job: { kind: "rewind", upstream: PG1 } },
  ]);
});
