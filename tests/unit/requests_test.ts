/**
 * Whether a running agent takes the REST API's requests (src/core/requests.ts): a restart now waits for no job and
 * no other restart, needs Postgres up and its conditions met; a reinitialisation is never the leader's, and not
 * while a job runs unless forced.
 */
import assert from "node:assert/strict";
import { reinitRefusal, type RestartNowInput, restartNowRefusal } from "../../src/core/requests.ts";
import type { JobState } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const clone: JobState = {
  kind: "clone",
  description: "bootstrap from leader 'pg1'",
  startedAt: 0,
  status: "running",
};

function restart(over: Partial<RestartNowInput> = {}): RestartNowInput {
  return {
    job: null,
    restartInFlight: false,
    snapshot: {
      role: "replica",
      pg: { ...emptyPgObservation(), running: true, queryable: true, role: "replica", serverVersion: 150004 },
    },
    conditions: {},
    ...over,
  };
}

Deno.test("restartNowRefusal(): a job in flight, then a restart in flight, then Postgres not up, then conditions", () => {
  assert.equal(restartNowRefusal(restart()), null);
  assert.equal(
    restartNowRefusal(restart({ job: { ...clone, status: "ok" } })),
    null,
    "a finished job is over",
  );
  assert.deepEqual(restartNowRefusal(restart({ job: clone, restartInFlight: true })), {
    kind: "busy",
    what: "bootstrap from leader 'pg1'",
  });
  assert.deepEqual(restartNowRefusal(restart({ restartInFlight: true })), { kind: "busy", what: "restart" });
  const down = restart();
  down.snapshot.pg = { ...down.snapshot.pg, queryable: false };
  assert.deepEqual(restartNowRefusal({ ...down, conditions: { role: "primary" } }), { kind: "not_running" });
  assert.deepEqual(restartNowRefusal(restart({ conditions: { role: "primary" } })), {
    kind: "conditions_unmet",
    condition: "role is replica, not primary",
  });
  assert.deepEqual(restartNowRefusal(restart({ conditions: { restartPending: true } })), {
    kind: "conditions_unmet",
    condition: "no restart is pending",
  });
  assert.equal(
    restartNowRefusal(restart({ conditions: { role: "replica", postgresVersion: "16.1" } })),
    null,
  );
});

Deno.test("reinitRefusal(): never the leader; not while a job runs unless forced", () => {
  assert.equal(
    reinitRefusal({ holdsLock: true, job: null, force: true }),
    "I am the leader, can not reinitialize",
  );
  assert.equal(
    reinitRefusal({ holdsLock: false, job: clone, force: false }),
    "bootstrap from leader 'pg1' already in progress",
  );
  assert.equal(reinitRefusal({ holdsLock: false, job: clone, force: true }), null);
  assert.equal(reinitRefusal({ holdsLock: false, job: { ...clone, status: "failed" }, force: false }), null);
  assert.equal(reinitRefusal({ holdsLock: false, job: null, force: false }), null);
});

Deno.test("restartNowRefusal(): in maintenance mode a stopped Postgres may be restarted (Patroni starts it)", () => {
  const stopped = restart();
  stopped.snapshot.pg = { ...stopped.snapshot.pg, running: false, queryable: false };
  assert.equal(restartNowRefusal({ ...stopped, paused: true }), null);
  assert.deepEqual(
    restartNowRefusal(stopped),
    { kind: "not_running" },
    "outside maintenance mode the loop starts it",
  );
  const starting = restart();
  starting.snapshot.pg = { ...starting.snapshot.pg, queryable: false };
  assert.deepEqual(
    restartNowRefusal({ ...starting, paused: true }),
    { kind: "not_running" },
    "still starting",
  );
});
