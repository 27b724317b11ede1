/**
 * decide() as a specification, in maintenance mode (`pause: true`, src/core/decide_paused.ts): the leader keeps its
 * key and says PAUSE; nobody races, demotes, starts or bootstraps; a running primary takes a free lock.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide, type HaContext } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, EMPTY, obs, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const paused = (name: string, over: Partial<HaContext> = {}) =>
  ctx(name, { dynamic: { ...DYNAMIC_DEFAULTS, pause: true }, ...over });

Deno.test("decide() in pause: the leader keeps its key and says PAUSE", () => {
  const d = decide(obs(PRIMARY, view()), INITIAL_MEMORY, paused("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "sync_slots"]);
  assert.equal(d.reason, "PAUSE: no action. I am (pg1), the leader with the lock");
});

Deno.test("decide() in pause: no leader race, no demotion, no start, no bootstrap", () => {
  // A replica does not race for a vanished leader key.
  const race = decide(obs(pgState(), view({ leader: null }), { peers: [] }), INITIAL_MEMORY, paused("pg2"));
  assert.ok(!race.actions.some((a) => a.type === "acquire_leader" || a.type === "promote"), race.reason);
  // A primary without the lock keeps running.
  const other = decide(obs(PRIMARY, view()), INITIAL_MEMORY, paused("pg2"));
  assert.deepEqual(other.actions, []);
  assert.equal(other.reason, "PAUSE: continue to run as primary without lock");
  // A stopped Postgres is left stopped, an empty data directory is left empty, etcd trouble demotes nothing.
  assert.deepEqual(
    decide(obs(pgState({ running: false, queryable: false }), view()), INITIAL_MEMORY, paused("pg2")).actions,
    [],
  );
  assert.deepEqual(
    decide(obs(EMPTY, view({ initialize: null, leader: null })), INITIAL_MEMORY, paused("pg1")).actions,
    [],
  );
  assert.deepEqual(decide(obs(PRIMARY, null), INITIAL_MEMORY, paused("pg1")).actions, []);
});

Deno.test("decide() in pause: a running primary takes a free lock; a leader whose Postgres is down gives it up", () => {
  const take = decide(obs(PRIMARY, view({ leader: null })), INITIAL_MEMORY, paused("pg1"));
  assert.deepEqual(take.actions, [{ type: "acquire_leader", guard: { config: "2", sync: null } }]);
  const down = decide(
    obs({ ...PRIMARY, running: false, queryable: false }, view()),
    INITIAL_MEMORY,
    paused("pg1"),
  );
  assert.deepEqual(down.actions, [{ type: "release_leader" }]);
});
