/**
 * decide() as a specification when the cluster's dynamic config promises what hactl cannot keep yet: every cycle
 * carries the error; no member takes the leader key (a lockless primary demotes outside pause); the leader keeps
 * leading and says so. Every promise of Patroni's dynamic keys is implemented today (the last one,
 * standby_cluster.create_replica_methods, in src/core/decide_standby.ts), so the refused key is injected into the
 * settings as the config reader would name it (`unsupportedGuarantees`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

/** A dynamic key whose promise hactl would not keep (none of Patroni's is one today). */
const PROMISE = "future_promise";
/** The config as the reader leaves it when it names PROMISE: the refused key is not in force at all. */
const UNKEPT = { [PROMISE]: true };
const withConfig = (name: string, doc: Record<string, unknown>, pause = false) =>
  ctx(name, {
    dynamic: {
      ...normalizeDynamic(PROMISE in doc ? {} : doc).settings,
      pause,
      ...(PROMISE in doc ? { unsupportedGuarantees: [PROMISE] } : {}),
    },
  });
const STANDBY_SET = `the cluster's dynamic config sets ${PROMISE}, which hactl does not implement yet`;
const STANDBY = UNKEPT;

Deno.test("the dynamic config's promises hactl cannot keep are named; values that promise nothing are not", () => {
  const guarantees = (doc: Record<string, unknown>) =>
    normalizeDynamic(doc).settings.unsupportedGuarantees ?? [];
  // synchronous_mode true/on, its strict variant (src/core/sync.ts) and quorum commit (src/core/quorum_plan.ts)
  // are implemented.
  assert.deepEqual(guarantees({ synchronous_mode: true }), []);
  assert.deepEqual(guarantees({ synchronous_mode: "on" }), []);
  assert.deepEqual(guarantees({ synchronous_mode: "quorum" }), []);
  assert.deepEqual(guarantees({ synchronous_mode: " Quorum " }), []);
  // failsafe_mode (src/core/failsafe.ts) and strict sync mode (src/core/sync.ts) are implemented.
  assert.deepEqual(guarantees({ synchronous_mode_strict: true, failsafe_mode: "on" }), []);
  // standby_cluster is implemented (src/core/decide_standby.ts), with its create_replica_methods.
  assert.deepEqual(guarantees({ standby_cluster: { host: "10.1.0.1", port: 5432 } }), []);
  assert.deepEqual(guarantees({ standby_cluster: { restore_command: "cp /a/%f %p" } }), []);
  assert.deepEqual(
    guarantees({ standby_cluster: { host: "h", create_replica_methods: ["basebackup"] } }),
    [],
  );
  assert.deepEqual(guarantees({ standby_cluster: { host: "h", create_replica_methods: ["wal_e"] } }), []);
  assert.deepEqual(
    guarantees({ synchronous_mode: false, synchronous_mode_strict: "off", failsafe_mode: false }),
    [],
  );
  const { warnings } = normalizeDynamic({
    standby_cluster: { host: "10.1.0.1", port: 5432, create_replica_methods: ["wal_e"] },
    slots: { s: { database: "app", plugin: "pgoutput" } },
  });
  assert.deepEqual(warnings, [], "logical permanent slots and the standby cluster's methods are implemented");
});

Deno.test("decide() under an unkept promise: the healthiest replica does not take the vanished key", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [peer("pg3", 5500)] });
  const d = decide(o, INITIAL_MEMORY, withConfig("pg2", STANDBY));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, `not taking the leader key: ${STANDBY_SET}`);
  assert.equal(d.error, `${STANDBY_SET}: this member does not take the leader key`);
  // The same member without it takes the key, without an error.
  const off = decide(o, INITIAL_MEMORY, withConfig("pg2", {}));
  assert.deepEqual(types(off.actions), ["acquire_leader", "write_history", "promote"]);
  assert.equal(off.error, undefined);
});

Deno.test("decide() under an unkept promise: the leader keeps leading and says why every cycle", () => {
  const o = obs(pgState(), view());
  // The refused section is not in force at all: the leader goes on as it would without it.
  const plain = decide(o, INITIAL_MEMORY, withConfig("pg1", {}));
  const d = decide(o, INITIAL_MEMORY, withConfig("pg1", UNKEPT));
  assert.deepEqual(d.actions, plain.actions);
  assert.ok(types(d.actions).includes("renew_leader"));
  const still = `still leading although the cluster's dynamic config sets ${PROMISE}, ` +
    "which hactl does not implement yet (releasing the key would only cause an outage)";
  assert.equal(d.reason, `${plain.reason}; ${still}`);
  assert.equal(d.error, still);
});

Deno.test("decide() under an unkept promise: a lockless primary demotes instead of taking the key back; not in pause", () => {
  const o = obs(PRIMARY, view({ leader: null }));
  const d = decide(o, INITIAL_MEMORY, withConfig("pg1", STANDBY));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /^not taking the leader key: .* sets future_promise, .*; demoting self$/);
  // failsafe_mode, strict synchronous mode and quorum commit promise nothing hactl cannot keep any more: the
  // primary takes its key back.
  const implemented = [
    { failsafe_mode: true },
    { synchronous_mode: true, synchronous_mode_strict: true },
    { synchronous_mode: "quorum" },
  ];
  for (const doc of implemented) {
    const kept = decide(o, INITIAL_MEMORY, withConfig("pg1", doc));
    assert.ok(types(kept.actions).includes("acquire_leader"), JSON.stringify(doc));
    assert.equal(kept.error, undefined);
  }
  const paused = decide(o, INITIAL_MEMORY, withConfig("pg1", STANDBY, true));
  assert.ok(!types(paused.actions).includes("acquire_leader"));
  assert.ok(!types(paused.actions).includes("demote"));
  assert.ok(paused.error !== undefined);
});

Deno.test("decide() under an unkept promise: followers go on following, with the error; no new cluster starts", () => {
  const o = obs(pgState(), view());
  const plain = decide(o, INITIAL_MEMORY, withConfig("pg2", {}));
  const d = decide(o, INITIAL_MEMORY, withConfig("pg2", STANDBY));
  assert.deepEqual(d.actions, plain.actions);
  assert.equal(d.reason, plain.reason);
  assert.equal(d.error, `${STANDBY_SET}: this member does not take the leader key`);
  const empty = obs(EMPTY, view({ initialize: null, leader: null, members: [] }));
  const boot = decide(empty, INITIAL_MEMORY, withConfig("pg1", STANDBY));
  assert.deepEqual(boot.actions, []);
  assert.equal(boot.reason, `not taking the leader key: ${STANDBY_SET}`);
});
