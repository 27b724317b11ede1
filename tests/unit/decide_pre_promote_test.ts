/**
 * decide() and `postgresql.pre_promote` (src/core/pre_promote.ts): a promotion job the script refused makes the key
 * holder release the leader key instead of promoting again, and the member stays out of the leader race for one
 * ttl, as Patroni does after a failed pre_promote script.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY, type JobState, type Memory } from "../../src/core/types.ts";
import { ctx, obs, peer, pgState, types, view } from "../helpers/decide_inputs.ts";

const REFUSED: JobState = {
  kind: "promote",
  description: "promoting postgres",
  startedAt: 990_000,
  status: "failed",
  error: "pre_promote script /bin/false exited with 1",
  prePromoteRefused: true,
};
const MINE = view({ leader: { name: "pg2", createRevision: "30", modRevision: "30", lease: "88" } });
const NO_LEADER = view({ leader: null });
const PEERS = [peer("pg1", 5000, { reachable: false }), peer("pg3", 5000)];

Deno.test("decide() releases the leader key instead of promoting when the pre_promote script refused the promotion", () => {
  const d = decide(obs(pgState(), MINE, { job: REFUSED }), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["release_leader"]);
  assert.equal(
    d.reason,
    "promotion cancelled because the pre_promote script failed (pre_promote script /bin/false exited with 1); " +
      "released the leader key voluntarily",
  );
  assert.equal(d.memory.prePromoteFailedAt, 1_000_000);
  assert.equal(d.memory.isLeader, false);
});

Deno.test("decide() promotes again after a promotion job that failed for another reason (the key is kept)", () => {
  const failed: JobState = {
    ...REFUSED,
    error: "pg_ctl promote exited with code 1",
    prePromoteRefused: undefined,
  };
  const d = decide(obs(pgState(), MINE, { job: failed }), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg2"));
  assert.ok(types(d.actions).includes("promote"), d.reason);
  assert.equal(d.memory.prePromoteFailedAt, undefined);
});

Deno.test("decide() does not race for the key within a ttl of a refused promotion, and races again after it", () => {
  const mem: Memory = { ...INITIAL_MEMORY, prePromoteFailedAt: 1_000_000 };
  const c = ctx("pg2", { dynamic: { ...DYNAMIC_DEFAULTS, ttl: 30 } });
  const during = decide(obs(pgState(), NO_LEADER, { now: 1_029_000, peers: PEERS }), mem, c);
  assert.deepEqual(during.actions, []);
  assert.equal(
    during.reason,
    "backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily",
  );
  const after = decide(obs(pgState(), NO_LEADER, { now: 1_030_000, peers: PEERS }), mem, c);
  assert.deepEqual(types(after.actions), ["acquire_leader", "write_history", "promote"], after.reason);
});

Deno.test("decide() releases the key again when it still holds it after a refused promotion (the release failed)", () => {
  const mem: Memory = { ...INITIAL_MEMORY, isLeader: true, prePromoteFailedAt: 1_000_000 };
  const d = decide(obs(pgState(), MINE, { now: 1_010_000 }), mem, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["release_leader"]);
  assert.match(d.reason, /^releasing the leader key again: the pre_promote script refused the promotion/);
});

Deno.test("decide() only notes a refused promotion when the key is not its own any more", () => {
  const d = decide(obs(pgState(), view(), { job: REFUSED }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /the leader key is not mine any more$/);
  assert.equal(d.memory.prePromoteFailedAt, 1_000_000);
});

Deno.test("decide() follows the new leader as usual while in the backoff after a refused promotion", () => {
  const mem: Memory = { ...INITIAL_MEMORY, prePromoteFailedAt: 1_000_000 };
  const leader = view({ leader: { name: "pg3", createRevision: "40", modRevision: "40", lease: "99" } });
  const d = decide(obs(pgState(), leader, { now: 1_005_000 }), mem, ctx("pg2"));
  assert.ok(!types(d.actions).includes("acquire_leader"));
  assert.ok(!types(d.actions).includes("release_leader"));
  assert.doesNotMatch(d.reason, /backoff/);
});
