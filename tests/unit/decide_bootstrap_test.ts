/**
 * decide() as a specification, for the data directory before Postgres can run on it (src/core/decide_bootstrap.ts):
 * the initialize race and the bootstrap job, cloning from the leader, a foreign system identifier, and a Postgres
 * running without a data directory.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { INITIAL_MEMORY, type JobState } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, pgState, PRIMARY, SYSID, types, view } from "../helpers/decide_inputs.ts";

Deno.test("decide() races for initialize and bootstraps when the cluster was never initialised", () => {
  const d = decide(
    obs(EMPTY, view({ initialize: null, leader: null, config: null, members: [] })),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(d.actions, [{ type: "acquire_initialize" }, {
    type: "start_job",
    job: { kind: "bootstrap" },
  }]);
  assert.equal(d.reason, "trying to bootstrap a new cluster");
});

Deno.test("decide() never bootstraps a member tagged nofailover", () => {
  const d = decide(
    obs(EMPTY, view({ initialize: null, leader: null, members: [] })),
    INITIAL_MEMORY,
    ctx("pg1", { tags: { nofailover: true } }),
  );
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "waiting for leader to bootstrap");
});

Deno.test("decide() waits while another member bootstraps (initialize is empty)", () => {
  const d = decide(obs(EMPTY, view({ initialize: "", leader: null })), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "waiting for leader to bootstrap");
});

Deno.test("decide() clones from the leader when its data directory is empty", () => {
  const d = decide(obs(EMPTY, view()), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: { kind: "clone", upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" } },
  }]);
  assert.equal(d.reason, "trying to bootstrap from leader 'pg1'");
});

Deno.test("decide() publishes the new cluster and takes the lock after a successful bootstrap", () => {
  const job: JobState = { kind: "bootstrap", description: "bootstrap", startedAt: 0, status: "ok" };
  const d = decide(
    obs(PRIMARY, view({ initialize: "", leader: null, config: null, members: [] }), { job }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(d.actions), ["write_initialize", "write_config", "acquire_leader", "write_status"]);
  assert.deepEqual(d.actions[0], { type: "write_initialize", sysid: SYSID });
  assert.deepEqual(d.actions[1], { type: "write_config", value: { ttl: 30, loop_wait: 10 } });
});

Deno.test("decide() removes the initialize key when the bootstrap failed", () => {
  const job: JobState = {
    kind: "bootstrap",
    description: "bootstrap",
    startedAt: 0,
    status: "failed",
    error: "x",
  };
  const d = decide(obs(EMPTY, view({ initialize: "", leader: null }), { job }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "cancel_initialize" }]);
});

Deno.test("decide() refuses to join a cluster with another system identifier", () => {
  const d = decide(obs(pgState({ sysid: "1111111111111" }), view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /belongs to another cluster/);
  // Fatal, as in Patroni: the agent exits 1 with its message.
  assert.equal(
    d.fatal,
    `system ID mismatch, node pg2 belongs to a different cluster: ${SYSID} != 1111111111111`,
  );
  assert.equal(decide(obs(pgState(), view()), INITIAL_MEMORY, ctx("pg2")).fatal, undefined);
});

Deno.test("decide() stops a Postgres running without a data directory before it releases the key", () => {
  const running = { ...EMPTY, running: true };
  const d = decide(obs(running, view()), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  // Without the key there is nothing to release: the stop may run as a job.
  const other = decide(obs(running, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(other.actions, [{ type: "start_job", job: { kind: "stop", mode: "immediate" } }]);
});

Deno.test("decide() does not start another clone in the cycle that saw one fail: it tries again a loop_wait later", () => {
  // Found through Patroni's acceptance suite: a replica method failing at once was retried dozens of times a second.
  const job: JobState = {
    kind: "clone",
    description: "clone",
    startedAt: 0,
    status: "failed",
    error: "exit 1",
  };
  const v = view();
  const d = decide(obs(EMPTY, v, { job }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "failed to create a replica (exit 1); trying again at the next cycle");
  // The next cycle (the failure is reported once) clones again.
  assert.deepEqual(types(decide(obs(EMPTY, v), INITIAL_MEMORY, ctx("pg2")).actions), ["start_job"]);
});
