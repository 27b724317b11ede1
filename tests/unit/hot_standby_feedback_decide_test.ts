/**
 * hot_standby_feedback decided in the HA core (src/core/hot_standby_feedback.ts `withHotStandbyFeedback`): a replica
 * holding copies of logical slots, or one a cascaded replica with copies streams from, gets a
 * `set_hot_standby_feedback` action first in its plan when the value changes, remembered so the next cycles plan
 * none; the executor hands the value to the Postgres adapter, which only applies it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { withHotStandbyFeedback } from "../../src/core/hot_standby_feedback.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, member, obs, pgState, view } from "../helpers/decide_inputs.ts";

const CDC = { name: "cdc", database: "postgres", plugin: "test_decoding" };
const DYNAMIC = { ...DYNAMIC_DEFAULTS, logicalSlots: [CDC] };
const SET_ON = { type: "set_hot_standby_feedback", value: true };

Deno.test("decide(): a replica holding logical slot copies is decided hot_standby_feedback on, once", () => {
  const replica = pgState({ logicalSlots: ["cdc"] });
  const first = decide(obs(replica, view()), INITIAL_MEMORY, ctx("pg2", { dynamic: DYNAMIC }));
  assert.deepEqual(first.actions[0], SET_ON);
  assert.equal(first.memory.hotStandbyFeedback, true);
  const next = decide(obs(replica, view()), first.memory, ctx("pg2", { dynamic: DYNAMIC }));
  assert.ok(!next.actions.some((a) => a.type === "set_hot_standby_feedback"), JSON.stringify(next.actions));
  // Tagged nofailover, it keeps no copies: back to the configured value.
  const off = decide(
    obs(replica, view()),
    first.memory,
    ctx("pg2", { dynamic: DYNAMIC, tags: { nofailover: true } }),
  );
  assert.deepEqual(off.actions[0], { type: "set_hot_standby_feedback", value: false });
  assert.equal(off.memory.hotStandbyFeedback, false);
  // Without logical slots nothing is planned at all (the adapter starts with it off).
  const none = decide(obs(replica, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.ok(!none.actions.some((a) => a.type === "set_hot_standby_feedback"));
  assert.equal("hotStandbyFeedback" in none.memory, false);
});

Deno.test("decide(): the member a replica with logical copies streams from is decided hot_standby_feedback on", () => {
  const chain = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2", { tags: { nofailover: true } }),
      member("pg3", { tags: { replicatefrom: "pg2" } }),
    ],
  });
  const d = decide(
    obs(pgState(), chain),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: DYNAMIC, tags: { nofailover: true } }),
  );
  assert.deepEqual(d.actions[0], SET_ON);
});

Deno.test("decide(): without etcd the value handed last stays; before any, a start counts the member's own copies", () => {
  const replica = pgState({ logicalSlots: ["cdc"] });
  const kept = decide(obs(replica, null), { ...INITIAL_MEMORY, hotStandbyFeedback: true }, ctx("pg2"));
  assert.ok(!kept.actions.some((a) => a.type === "set_hot_standby_feedback"), JSON.stringify(kept.actions));
  assert.equal(kept.memory.hotStandbyFeedback, true);
  // Before any was handed, a plan that writes postgresql.conf (a start) counts the member's own copies.
  const stopped = pgState({ running: false, queryable: false, role: null, replicationState: null });
  const start = {
    type: "start_job" as const,
    job: { kind: "start" as const, role: "replica" as const, upstream: null },
  };
  const plan = { actions: [start], memory: INITIAL_MEMORY, reason: "starting as a secondary" };
  const decided = withHotStandbyFeedback(plan, obs(stopped, null), ctx("pg2", { dynamic: DYNAMIC }));
  assert.deepEqual(decided.actions, [SET_ON, start]);
  const idle = withHotStandbyFeedback(
    { ...plan, actions: [] },
    obs(stopped, null),
    ctx("pg2", { dynamic: DYNAMIC }),
  );
  assert.deepEqual(idle.actions, []);
});
