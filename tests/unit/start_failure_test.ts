/**
 * A leader whose Postgres crashed and then failed to start (Patroni's `post_recover`): it does not keep retrying
 * under the key until primary_start_timeout; it removes the leader key at once ("removed leader key after trying
 * and failing to start postgres") so that a healthy replica takes over, and reports itself demoted through
 * `on_role_change`. With `primary_start_timeout: 0` it does not try at all when a healthy replica can take over.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { jobCallback } from "../../src/core/loop.ts";
import { INITIAL_MEMORY, type JobState } from "../../src/core/types.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { ctx, member, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

const crashed = { ...PRIMARY, running: false, queryable: false };
const failedStart: JobState = {
  kind: "start",
  description: "starting primary after failure",
  startedAt: 0,
  status: "failed",
  error: "pg_ctl start failed (code 1)",
};

Deno.test("a leader whose start after a crash failed removes the leader key instead of retrying under it", () => {
  const mem = { ...INITIAL_MEMORY, isLeader: true, primaryDownSince: 990_000 };
  const d = decide(obs(crashed, view(), { job: failedStart }), mem, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  // Patroni's sentence, then why the start failed (the operator's first question).
  assert.equal(
    d.reason,
    "removed leader key after trying and failing to start postgres: pg_ctl start failed (code 1)",
  );
  assert.equal(d.memory.isLeader, false);
  // Before any attempt failed, it starts Postgres again under the key.
  const first = decide(obs(crashed, view()), mem, ctx("pg1"));
  assert.deepEqual(first.actions.map((a) => a.type), ["renew_leader", "start_job"]);
  // A failed start of a member without the key changes nothing of the key.
  const replica = decide(
    obs(pgState({ running: false, queryable: false }), view(), { job: failedStart }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.ok(!replica.actions.some((a) => a.type === "release_leader"));
});

Deno.test("a failed start as primary reports the former primary demoted through on_role_change", () => {
  const start = { kind: "start" as const, role: "primary" as const, upstream: null };
  assert.deepEqual(jobCallback(start, false, "primary"), { action: "on_role_change", role: "demoted" });
  // Not when the callbacks had not reported it primary, nor for a failed start as a replica.
  assert.equal(jobCallback(start, false, "replica"), null);
  assert.equal(jobCallback({ ...start, role: "replica" }, false, "replica"), null);
});

Deno.test("primary_start_timeout 0: a crashed leader fails over at once when a healthy replica can take over", () => {
  const dynamic = { ...DYNAMIC_DEFAULTS, primaryStartTimeout: 0 };
  const mem = { ...INITIAL_MEMORY, isLeader: true };
  const d = decide(obs(crashed, view()), mem, ctx("pg1", { dynamic }));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  assert.match(d.reason, /^released the leader key: postgres has not been up/);
  // Nobody to fail over to (the replicas are stopped): it starts Postgres again instead.
  const alone = view({ members: [member("pg1", { role: "primary" }), member("pg2", { state: "stopped" })] });
  const started = decide(obs(crashed, alone), mem, ctx("pg1", { dynamic }));
  assert.deepEqual(started.actions.map((a) => a.type), ["renew_leader", "start_job"]);
});
