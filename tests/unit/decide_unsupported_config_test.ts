/**
 * decide() as a specification when the cluster's dynamic config promises what hactl cannot keep yet
 * (synchronous_mode: quorum, standby_cluster): every cycle carries the error; no
 * member takes the leader key (a lockless primary demotes outside pause); the leader keeps leading and says so.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const withConfig = (name: string, doc: Record<string, unknown>, pause = false) =>
  ctx(name, { dynamic: { ...normalizeDynamic(doc).settings, pause } });
const SYNC_SET = "the cluster's dynamic config sets synchronous_mode, which hactl does not implement yet";
const QUORUM_NOTE = "quorum commit is not implemented yet";

Deno.test("the dynamic config's promises hactl cannot keep are named; values that promise nothing are not", () => {
  const guarantees = (doc: Record<string, unknown>) =>
    normalizeDynamic(doc).settings.unsupportedGuarantees ?? [];
  // synchronous_mode true/on and its strict variant are implemented (src/core/sync.ts); quorum commit is not.
  assert.deepEqual(guarantees({ synchronous_mode: true }), []);
  assert.deepEqual(guarantees({ synchronous_mode: "on" }), []);
  assert.deepEqual(guarantees({ synchronous_mode: "quorum" }), ["synchronous_mode"]);
  assert.deepEqual(guarantees({ synchronous_mode: " Quorum " }), ["synchronous_mode"]);
  // failsafe_mode (src/core/failsafe.ts) and strict sync mode (src/core/sync.ts) are implemented.
  assert.deepEqual(guarantees({ synchronous_mode_strict: true, failsafe_mode: "on" }), []);
  assert.deepEqual(guarantees({ standby_cluster: { host: "10.1.0.1", port: 5432 } }), ["standby_cluster"]);
  assert.deepEqual(guarantees({ standby_cluster: { restore_command: "cp /a/%f %p" } }), ["standby_cluster"]);
  assert.deepEqual(guarantees({ standby_cluster: { host: "", primary_slot_name: "x" } }), []);
  assert.deepEqual(
    guarantees({ synchronous_mode: false, synchronous_mode_strict: "off", failsafe_mode: false }),
    [],
  );
  const { warnings } = normalizeDynamic({
    synchronous_mode: "quorum",
    slots: { s: { database: "app", plugin: "pgoutput" } },
  });
  assert.deepEqual(warnings, [
    `synchronous_mode: not supported by hactl yet (${QUORUM_NOTE}); ignored`,
  ], "logical permanent slots are implemented: not refused");
});

Deno.test("decide() under synchronous_mode quorum: the healthiest replica does not take the vanished key", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [peer("pg3", 5500)] });
  const d = decide(o, INITIAL_MEMORY, withConfig("pg2", { synchronous_mode: "quorum" }));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, `not taking the leader key: ${SYNC_SET}`);
  assert.equal(d.error, `${SYNC_SET}: this member does not take the leader key`);
  // The same member with synchronous_mode off takes it, without an error.
  const off = decide(o, INITIAL_MEMORY, withConfig("pg2", { synchronous_mode: false }));
  assert.deepEqual(types(off.actions), ["acquire_leader", "promote"]);
  assert.equal(off.error, undefined);
});

Deno.test("decide() under standby_cluster: the leader keeps leading and says why every cycle", () => {
  const o = obs(PRIMARY, view());
  const plain = decide(o, INITIAL_MEMORY, withConfig("pg1", {}));
  const d = decide(
    o,
    INITIAL_MEMORY,
    withConfig("pg1", { standby_cluster: { host: "10.1.0.1", port: 5432 } }),
  );
  assert.deepEqual(d.actions, plain.actions);
  assert.ok(types(d.actions).includes("renew_leader"));
  const still =
    "still leading although the cluster's dynamic config sets standby_cluster, which hactl does not " +
    "implement yet (releasing the key would only cause an outage)";
  assert.equal(d.reason, `${plain.reason}; ${still}`);
  assert.equal(d.error, still);
});

Deno.test("decide() under synchronous_mode quorum: a lockless primary demotes instead of taking the key back; not in pause", () => {
  const o = obs(PRIMARY, view({ leader: null }));
  const d = decide(o, INITIAL_MEMORY, withConfig("pg1", { synchronous_mode: "quorum" }));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /^not taking the leader key: .* sets synchronous_mode, .*; demoting self$/);
  // failsafe_mode and strict synchronous mode promise nothing hactl cannot keep any more: the primary takes its
  // key back.
  for (const doc of [{ failsafe_mode: true }, { synchronous_mode: true, synchronous_mode_strict: true }]) {
    const kept = decide(o, INITIAL_MEMORY, withConfig("pg1", doc));
    assert.ok(types(kept.actions).includes("acquire_leader"), JSON.stringify(doc));
    assert.equal(kept.error, undefined);
  }
  const paused = decide(o, INITIAL_MEMORY, withConfig("pg1", { synchronous_mode: "quorum" }, true));
  assert.ok(!types(paused.actions).includes("acquire_leader"));
  assert.ok(!types(paused.actions).includes("demote"));
  assert.ok(paused.error !== undefined);
});

Deno.test("decide() under synchronous_mode quorum: followers go on following, with the error; no new cluster starts", () => {
  const o = obs(pgState(), view());
  const plain = decide(o, INITIAL_MEMORY, withConfig("pg2", {}));
  const d = decide(o, INITIAL_MEMORY, withConfig("pg2", { synchronous_mode: "quorum" }));
  assert.deepEqual(d.actions, plain.actions);
  assert.equal(d.reason, plain.reason);
  assert.equal(d.error, `${SYNC_SET}: this member does not take the leader key`);
  const empty = obs(EMPTY, view({ initialize: null, leader: null, members: [] }));
  const boot = decide(empty, INITIAL_MEMORY, withConfig("pg1", { synchronous_mode: "quorum" }));
  assert.deepEqual(boot.actions, []);
  assert.equal(boot.reason, `not taking the leader key: ${SYNC_SET}`);
});
