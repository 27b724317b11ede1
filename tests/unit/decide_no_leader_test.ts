/**
 * decide() with an empty data directory and no leader, when a replica method has `no_leader` (a restore from a
 * backup repository), as Patroni's bootstrap without a leader: the method runs unless another member bootstraps
 * the cluster; the bootstrap race still comes first; a member with a leader clones from it as before.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, SYSID, view } from "../helpers/decide_inputs.ts";

const NO_LEADER = { noLeaderReplicaMethod: true };
const CLONE_WITHOUT_LEADER = { type: "start_job", job: { kind: "clone", upstream: null } };

Deno.test("decide() creates the replica with a no_leader method when the cluster has no leader", () => {
  const d = decide(
    obs(EMPTY, view({ initialize: SYSID, leader: null })),
    INITIAL_MEMORY,
    ctx("pg2", NO_LEADER),
  );
  assert.deepEqual(d.actions, [CLONE_WITHOUT_LEADER]);
  assert.equal(d.reason, "trying to bootstrap (without leader)");
});

Deno.test("decide() without a no_leader method waits for a leader", () => {
  const d = decide(obs(EMPTY, view({ initialize: SYSID, leader: null })), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "waiting for leader to bootstrap");
});

Deno.test("decide() does not restore without a leader while another member bootstraps (initialize empty)", () => {
  const d = decide(obs(EMPTY, view({ initialize: "", leader: null })), INITIAL_MEMORY, ctx("pg2", NO_LEADER));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "waiting for leader to bootstrap");
});

Deno.test("decide() races for initialize first: a no_leader method does not replace the bootstrap", () => {
  const d = decide(
    obs(EMPTY, view({ initialize: null, leader: null, config: null, members: [] })),
    INITIAL_MEMORY,
    ctx("pg1", NO_LEADER),
  );
  assert.equal(d.reason, "trying to bootstrap a new cluster");
});

Deno.test("decide() on a nofailover member of a never-initialised cluster runs the no_leader method", () => {
  // Patroni: a member that may not bootstrap falls through to the replica methods that work without a leader.
  const d = decide(
    obs(EMPTY, view({ initialize: null, leader: null, members: [] })),
    INITIAL_MEMORY,
    ctx("pg2", { ...NO_LEADER, tags: { nofailover: true } }),
  );
  assert.deepEqual(d.actions, [CLONE_WITHOUT_LEADER]);
});

Deno.test("decide() with a leader clones from it even when a method has no_leader", () => {
  const d = decide(obs(EMPTY, view()), INITIAL_MEMORY, ctx("pg3", NO_LEADER));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: { kind: "clone", upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" } },
  }]);
});

Deno.test("decide() in a standby cluster never runs a no_leader method (the standby leader clones remotely)", () => {
  const dynamic = { ...DYNAMIC_DEFAULTS, standbyCluster: { host: "10.0.0.10", port: 5432 } };
  const d = decide(
    obs(EMPTY, view({ initialize: SYSID, leader: null })),
    INITIAL_MEMORY,
    ctx("pg2", { ...NO_LEADER, dynamic }),
  );
  assert.ok(
    !d.actions.some((a) => a.type === "start_job" && a.job.kind === "clone" && a.job.upstream === null),
  );
});
