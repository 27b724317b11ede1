/**
 * decide() as a specification, without the leader key (src/core/decide_replica.ts): follow the leader or the
 * replicatefrom member, demote a primary (or a silent, possibly writable Postgres) that has no lock, start a
 * stopped replica, reinitialize on request, and rejoin a former primary by pg_rewind, by re-cloning, or directly.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

Deno.test("decide() makes a replica follow the leader", () => {
  // It holds the other members' slots already (a replica that may become primary keeps them, as in Patroni 4).
  const d = decide(obs(pgState({ slots: ["pg1", "pg3"] }), view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{
    type: "follow",
    upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
  }]);
  assert.equal(d.reason, "no action. I am (pg2), a secondary, and following a leader (pg1)");
});

Deno.test("decide() follows the replicatefrom member when it exists", () => {
  const d = decide(
    obs(pgState({ slots: ["pg1", "pg2"] }), view()),
    INITIAL_MEMORY,
    ctx("pg3", { tags: { replicatefrom: "pg2" } }),
  );
  assert.deepEqual(d.actions, [{
    type: "follow",
    upstream: { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" },
  }]);
});

Deno.test("decide() demotes a primary that does not hold the lock", () => {
  const d = decide(obs(PRIMARY, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /^demoting self because I do not have the lock/);
});

Deno.test("decide() starts a stopped replica following the leader", () => {
  const d = decide(obs(pgState({ running: false, queryable: false }), view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: {
      kind: "start",
      role: "replica",
      upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
    },
  }]);
});

Deno.test("decide() demotes a Postgres that does not answer, has no standby.signal and another member leads", () => {
  const silent = pgState({ queryable: false, role: null, standbySignal: false, replicationState: null });
  const d = decide(obs(silent, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /does not answer, may be a primary, and 'pg1' has the lock/);
  // A silent replica (standby.signal present) is left to come up.
  const replica = pgState({ queryable: false, role: null, replicationState: null });
  assert.deepEqual(decide(obs(replica, view()), INITIAL_MEMORY, ctx("pg2")).actions, []);
});

Deno.test("decide() reinitializes a replica on request: stop, then clone from the leader", () => {
  const d = decide(obs(pgState(), view(), { reinitRequested: true }), {
    ...INITIAL_MEMORY,
    rewindFailed: true,
  }, ctx("pg2"));
  assert.deepEqual(d.actions, [
    { type: "demote", mode: "immediate" },
    {
      type: "start_job",
      job: { kind: "clone", upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" } },
    },
  ]);
  assert.equal(d.memory.rewindFailed, false);
  // The leader never throws its data away.
  assert.ok(
    !decide(obs(PRIMARY, view(), { reinitRequested: true }), INITIAL_MEMORY, ctx("pg1")).actions.some((a) =>
      a.type === "start_job"
    ),
  );
});

Deno.test("decide() rejoins a stopped former primary by pg_rewind, by re-cloning, or directly, as configured", () => {
  const formerPrimary = { ...PRIMARY, running: false, queryable: false };
  const up = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
  const rewind = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
  assert.deepEqual(
    decide(obs(formerPrimary, view()), INITIAL_MEMORY, ctx("pg2", { dynamic: rewind })).actions,
    [
      { type: "start_job", job: { kind: "rewind", upstream: up } },
    ],
  );
  // After the rewind: start as a replica.
  const done = { kind: "rewind" as const, description: "x", startedAt: 0, status: "ok" as const };
  assert.deepEqual(
    decide(obs(formerPrimary, view(), { job: done }), INITIAL_MEMORY, ctx("pg2", { dynamic: rewind }))
      .actions,
    [{ type: "start_job", job: { kind: "start", role: "replica", upstream: up } }],
  );
  // A failed rewind: stay down, or re-clone when allowed.
  const failed = { ...done, status: "failed" as const, error: "boom" };
  const stay = decide(
    obs(formerPrimary, view(), { job: failed }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: rewind }),
  );
  assert.deepEqual(stay.actions, []);
  assert.equal(stay.memory.rewindFailed, true);
  assert.deepEqual(
    decide(
      obs(formerPrimary, view(), { job: failed }),
      INITIAL_MEMORY,
      ctx("pg2", {
        dynamic: rewind,
        removeDataOnRewindFailure: true,
      }),
    ).actions,
    [{ type: "start_job", job: { kind: "clone", upstream: up } }],
  );
  // Without pg_rewind: re-clone when remove_data_directory_on_diverged_timelines, else start directly.
  assert.deepEqual(
    decide(obs(formerPrimary, view()), INITIAL_MEMORY, ctx("pg2", { removeDataOnDivergedTimelines: true }))
      .actions,
    [{ type: "start_job", job: { kind: "clone", upstream: up } }],
  );
  assert.deepEqual(decide(obs(formerPrimary, view()), INITIAL_MEMORY, ctx("pg2")).actions, [
    { type: "start_job", job: { kind: "start", role: "replica", upstream: up } },
  ]);
});

Deno.test("decide() retries a pg_rewind that could not reach its source instead of giving up for good", () => {
  // Found by the chaos suite: the new leader restarted just as the former primary asked it for a CHECKPOINT; the
  // former primary then refused to start until an operator ran 'hactl reinit'.
  const formerPrimary = { ...PRIMARY, running: false, queryable: false };
  const up = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
  const rewind = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
  const unreachable = {
    kind: "rewind" as const,
    description: "x",
    startedAt: 0,
    status: "failed" as const,
    error: "CHECKPOINT on pg1 before pg_rewind failed: connect ECONNREFUSED",
    retryable: true,
  };
  const d = decide(
    obs(formerPrimary, view(), { job: unreachable }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: rewind }),
  );
  assert.equal(d.memory.rewindFailed, false);
  assert.match(d.reason, /pg_rewind could not start.*ECONNREFUSED.*retrying/);
  assert.deepEqual(d.actions, []);
  // The next cycle (the job consumed) tries again.
  assert.deepEqual(
    decide(obs(formerPrimary, view()), d.memory, ctx("pg2", { dynamic: rewind })).actions,
    [{ type: "start_job", job: { kind: "rewind", upstream: up } }],
  );
});

Deno.test("decide() re-clones after a failed pg_rewind when remove_data_directory_on_diverged_timelines is set, as Patroni does", () => {
  // Found by the restart-orders integration test: a replica that streamed the new leader's timeline but was stopped
  // before it replayed a checkpoint of that timeline keeps the old timeline in pg_control, and pg_rewind (up to
  // PostgreSQL 15) looks for the fork point in the old timeline's WAL, which ends there ("could not find previous
  // WAL record"). Patroni removes the data directory after a failed rewind when either key is set.
  const formerPrimary = { ...PRIMARY, running: false, queryable: false };
  const up = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
  const rewind = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
  const failed = {
    kind: "rewind" as const,
    description: "x",
    startedAt: 0,
    status: "failed" as const,
    error: "pg_rewind: error: could not find previous WAL record at 0/4026CB0",
  };
  const d = decide(
    obs(formerPrimary, view(), { job: failed }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: rewind, removeDataOnDivergedTimelines: true }),
  );
  assert.deepEqual(d.actions, [{ type: "start_job", job: { kind: "clone", upstream: up } }]);
  assert.match(d.reason, /pg_rewind failed .*could not find previous WAL record.*reinitializing from 'pg1'/);
  assert.notEqual(d.memory.rewindFailed, true);
});
