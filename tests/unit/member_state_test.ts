/**
 * What a member is, as others see it (src/core/member_state.ts): Patroni's failover tag rules (`isNoFailover`) and
 * the role and Postgres state a member publishes (`memberRole`, `postgresStateName`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { isNoFailover, memberRole, postgresStateName } from "../../src/core/decide.ts";
import { EMPTY, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

Deno.test("isNoFailover() follows Patroni's tag rules", () => {
  assert.equal(isNoFailover({}), false);
  assert.equal(isNoFailover({ nofailover: true }), true);
  assert.equal(isNoFailover({ failover_priority: 0 }), true);
  assert.equal(isNoFailover({ nofailover: false, failover_priority: 0 }), false);
});

Deno.test("memberRole() and postgresStateName() describe the member for its key", () => {
  const o = obs(EMPTY, view());
  assert.equal(memberRole(o, false), "uninitialized");
  assert.equal(postgresStateName(o), "stopped");
  const cloning = obs(EMPTY, view(), {
    job: { kind: "clone", description: "x", startedAt: 0, status: "running" },
  });
  assert.equal(postgresStateName(cloning), "creating replica");
  assert.equal(memberRole(obs(PRIMARY, view()), true), "primary");
  assert.equal(postgresStateName(obs(pgState(), view())), "running");
});
