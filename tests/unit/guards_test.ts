/**
 * The end-of-cycle rule for the fence and the watchdog (src/core/guards.ts): both stand down once this member
 * does not hold the lock, no job is in flight, Postgres cannot accept writes and nothing planned could make it a
 * primary again; the watchdog also counts a demotion carried out in this plan, the fence also needs to be armed
 * and the observed job to be over; pause stands both down.
 */
import assert from "node:assert/strict";
import { type GuardInput, guardVerdicts } from "../../src/core/guards.ts";
import { type Action, INITIAL_MEMORY, type Observation, type PgObservation } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const NOT_LEADER_REASON = "this member is not the leader and postgres is not a primary";

const primary: Partial<PgObservation> = {
  running: true,
  queryable: true,
  role: "primary",
  standbySignal: false,
};
const standby: Partial<PgObservation> = {
  running: true,
  queryable: true,
  role: "replica",
  standbySignal: true,
};
const stopped: Partial<PgObservation> = { running: false, queryable: false, role: null };

function input(
  pg: Partial<PgObservation>,
  actions: Action[] = [],
  over: Partial<Omit<GuardInput, "obs" | "decision">> & { job?: Observation["job"] } = {},
): GuardInput {
  const { job = null, ...rest } = over;
  return {
    obs: {
      now: 0,
      wallNow: 0,
      dcs: { kind: "unreachable", since: 0, error: "cut" },
      pg: { ...emptyPgObservation(), ...pg },
      job,
      peers: null,
    },
    decision: { actions, memory: INITIAL_MEMORY, reason: "" },
    failedAt: -1,
    holdsLock: false,
    jobBusy: false,
    paused: false,
    fenceArmed: true,
    watchdogRunning: true,
    ...rest,
  };
}

const standDown = { fence: { action: "disarm" }, watchdog: { action: "close", reason: NOT_LEADER_REASON } };
const keepBoth = { fence: { action: "keep" }, watchdog: { action: "keep" } };
const demote: Action = { type: "demote", mode: "fast" };
const promote: Action = { type: "promote" };
const startAs = (role: "primary" | "replica"): Action => ({
  type: "start_job",
  job: { kind: "start", role, upstream: null },
});

Deno.test("guardVerdicts(): a stopped Postgres or a running standby without the lock stands both guards down", () => {
  assert.deepEqual(guardVerdicts(input(stopped)), standDown);
  assert.deepEqual(guardVerdicts(input(standby)), standDown);
  assert.deepEqual(
    guardVerdicts(input(standby, [startAs("replica")])),
    standDown,
    "starting as a replica is safe",
  );
});

Deno.test("guardVerdicts(): both stay while the lock is held, a job runs, or Postgres may still take writes", () => {
  assert.deepEqual(guardVerdicts(input(stopped, [], { holdsLock: true })), keepBoth);
  assert.deepEqual(guardVerdicts(input(stopped, [], { jobBusy: true })), keepBoth);
  assert.deepEqual(guardVerdicts(input(primary)), keepBoth);
  // A replica that does not answer, or one without standby.signal, may be a primary in the making.
  assert.deepEqual(guardVerdicts(input({ ...standby, queryable: false })), keepBoth);
  assert.deepEqual(guardVerdicts(input({ ...standby, standbySignal: false })), keepBoth);
});

Deno.test("guardVerdicts(): nothing stands down when the plan could make this member a primary", () => {
  assert.deepEqual(guardVerdicts(input(stopped, [promote])), keepBoth);
  assert.deepEqual(guardVerdicts(input(stopped, [startAs("primary")])), keepBoth);
  assert.deepEqual(guardVerdicts(input(standby, [{ type: "write_status", optime: 1 }, promote])), keepBoth);
});

Deno.test("guardVerdicts(): pause disarms an armed fence and closes an open watchdog, even for the leader", () => {
  const paused = { fence: { action: "disarm" }, watchdog: { action: "close", reason: "paused" } };
  assert.deepEqual(
    guardVerdicts(input(primary, [], { paused: true, holdsLock: true, jobBusy: true })),
    paused,
  );
  assert.deepEqual(guardVerdicts(input(primary, [promote], { paused: true })), paused);
  assert.deepEqual(
    guardVerdicts(input(primary, [], { paused: true, fenceArmed: false, watchdogRunning: false })),
    keepBoth,
    "nothing to stand down",
  );
});

Deno.test("guardVerdicts(): an unarmed fence and a closed watchdog are left as they are", () => {
  assert.deepEqual(guardVerdicts(input(stopped, [], { fenceArmed: false })), {
    fence: { action: "keep" },
    watchdog: { action: "close", reason: NOT_LEADER_REASON },
  });
  assert.deepEqual(guardVerdicts(input(stopped, [], { watchdogRunning: false })), {
    fence: { action: "disarm" },
    watchdog: { action: "keep" },
  });
});

Deno.test("guardVerdicts(): a demotion carried out in this plan closes the watchdog, but not the fence", () => {
  // Observed as a primary, stopped by this very plan: the watchdog has nothing left to guard.
  assert.deepEqual(guardVerdicts(input(primary, [demote])), {
    fence: { action: "keep" },
    watchdog: { action: "close", reason: NOT_LEADER_REASON },
  });
  assert.deepEqual(guardVerdicts(input(primary, [demote, { type: "release_leader" }], { failedAt: 1 })), {
    fence: { action: "keep" },
    watchdog: { action: "close", reason: NOT_LEADER_REASON },
  });
  // The demotion itself failed (or was not reached): the primary may still be writable.
  assert.deepEqual(guardVerdicts(input(primary, [demote], { failedAt: 0 })), keepBoth);
  assert.deepEqual(
    guardVerdicts(input(primary, [{ type: "release_leader" }, demote], { failedAt: 0 })),
    keepBoth,
  );
  // A demotion beside a planned promotion (not a plan decide() makes) still counts as "may become primary".
  assert.deepEqual(guardVerdicts(input(primary, [demote, promote])), keepBoth);
});

Deno.test("guardVerdicts(): the fence also waits for the observed job to be over; the watchdog does not", () => {
  const job = {
    kind: "stop" as const,
    description: "stopping postgres (fast)",
    startedAt: 0,
    status: "running" as const,
  };
  assert.deepEqual(guardVerdicts(input(stopped, [], { job })), {
    fence: { action: "keep" },
    watchdog: { action: "close", reason: NOT_LEADER_REASON },
  });
  assert.deepEqual(guardVerdicts(input(stopped, [], { job: { ...job, status: "ok" } })), standDown);
});
