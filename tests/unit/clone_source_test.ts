/**
 * Where a new or reinitialised replica copies its data from (src/core/clone_source.ts), as Patroni's
 * `get_clone_member`: a running member tagged `clonefrom`, else the leader; `from_leader` always the leader.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { cloneSourceFor } from "../../src/core/clone_source.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, EMPTY, member, obs, pgState, view } from "../helpers/decide_inputs.ts";

const WITH_CLONEFROM = view({
  members: [
    member("pg1", { role: "primary", tags: { clonefrom: true } }),
    member("pg2", { tags: { clonefrom: true } }),
    member("pg3"),
    member("pg4", { tags: { clonefrom: true }, state: "stopped" }),
  ],
});

Deno.test("an empty member clones from a running clonefrom member, not the leader (as Patroni)", () => {
  const d = decide(obs(EMPTY, WITH_CLONEFROM), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: { kind: "clone", upstream: { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" } },
  }]);
  assert.equal(d.reason, "trying to bootstrap from replica 'pg2'");
});

Deno.test("the clone source is never this member, a stopped member, or one without clonefrom", () => {
  assert.equal(cloneSourceFor(WITH_CLONEFROM, "pg2")?.name, "pg1", "only pg2 has clonefrom: the leader");
  const noTags = view();
  assert.equal(cloneSourceFor(noTags, "pg3")?.name, "pg1");
  assert.equal(cloneSourceFor(WITH_CLONEFROM, "pg3", true)?.name, "pg1", "from_leader");
  assert.equal(cloneSourceFor(view({ leader: null }), "pg3"), null, "no leader: no clone source");
});

Deno.test("reinit clones from the clonefrom member; with from_leader from the leader with pg_basebackup only", () => {
  const plain = decide(obs(pgState(), WITH_CLONEFROM, { reinitRequested: true }), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(plain.actions[1], {
    type: "start_job",
    job: { kind: "clone", upstream: { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" } },
  });
  const fromLeader = decide(
    obs(pgState(), WITH_CLONEFROM, { reinitRequested: true, reinitFromLeader: true }),
    INITIAL_MEMORY,
    ctx("pg3"),
  );
  assert.deepEqual(fromLeader.actions, [
    { type: "demote", mode: "immediate" },
    {
      type: "start_job",
      job: {
        kind: "clone",
        upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
        fromLeader: true,
      },
    },
  ]);
  assert.match(fromLeader.reason, /from the leader, with pg_basebackup/);
});
