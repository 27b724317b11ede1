/**
 * `failover_priority` and `sync_priority` as Patroni handles them: a value written as a string in the YAML
 * (`failover_priority: '1'`) is published in the member key as written, and a string priority in a member key
 * (a Patroni member's, or hactl's own) counts as its integer value; and the leader race's log lines in Patroni's
 * words: "not allowed to promote" for a member that may not fail over, "Wal position of X is ahead of my wal
 * position", "X has equally tolerable WAL position and priority N, while this node has priority M".
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfigWithWarnings } from "../../src/config/config.ts";
import { publishedTags } from "../../src/core/member.ts";
import { failoverPriority, isNoFailover } from "../../src/core/member_state.ts";
import { isNoSync, syncPriority } from "../../src/core/sync.ts";
import { isHealthyCandidate } from "../../src/core/switchover.ts";
import { decide } from "../../src/core/decide.ts";
import { INITIAL_MEMORY, type Tags } from "../../src/core/types.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";
import { ctx, member, obs, peer, pgState, view } from "../helpers/decide_inputs.ts";

Deno.test("a priority tag written as a string is published as written, and the boolean still wins", () => {
  const { config, warnings } = parseConfigWithWarnings(
    `${MINIMAL}tags: {nofailover: true, failover_priority: '1', sync_priority: '3'}\n`,
    "hactl.yml",
    {},
  );
  assert.deepEqual(warnings, [
    "Conflicting configuration between nofailover: True and failover_priority: 1. Defaulting to nofailover: True",
  ]);
  assert.deepEqual(publishedTags(config.tags), {
    nofailover: true,
    failover_priority: "1",
    sync_priority: "3",
  });
  assert.equal(isNoFailover(config.tags), true);
  assert.equal(failoverPriority(config.tags), 0);
  assert.equal(syncPriority(config.tags), 3);
});

Deno.test("a string priority in a member key counts as its integer value (Patroni's parse_int)", () => {
  const t = (tags: Record<string, unknown>) => tags as Tags;
  assert.equal(isNoFailover(t({ failover_priority: "0" })), true);
  assert.equal(isNoFailover(t({ failover_priority: "0", nofailover: false })), false);
  assert.equal(failoverPriority(t({ failover_priority: "2" })), 2);
  assert.equal(failoverPriority(t({ failover_priority: "x" })), 1);
  assert.equal(isNoSync(t({ sync_priority: "0" })), true);
  assert.equal(syncPriority(t({ sync_priority: "5" })), 5);
  assert.equal(isHealthyCandidate(member("pg2", { tags: t({ failover_priority: "0" }) }), "pg1"), false);
  assert.equal(isHealthyCandidate(member("pg2", { tags: t({ failover_priority: "1" }) }), "pg1"), true);
});

Deno.test("a replica that may not fail over says, as Patroni, that it is not allowed to promote", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [] });
  for (const tags of [{ failover_priority: 0 }, { nofailover: true }] as Tags[]) {
    const d = decide(o, INITIAL_MEMORY, ctx("pg2", { tags }));
    assert.deepEqual(d.actions, []);
    assert.equal(d.reason, "following a different leader because I am not allowed to promote");
  }
});

Deno.test("the race's vetoes name Patroni's sentences: a peer ahead, a peer as far with a higher priority", () => {
  const ahead = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [peer("pg3", 7000)] });
  assert.match(
    decide(ahead, INITIAL_MEMORY, ctx("pg2")).reason,
    /^following a different leader because I am not the healthiest node: Wal position of pg3 is ahead of my wal position/,
  );
  const equal = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg3", 6000, { failoverPriority: 2 })],
  });
  assert.match(
    decide(equal, INITIAL_MEMORY, ctx("pg2", { tags: { failover_priority: 1 } })).reason,
    /pg3 has equally tolerable WAL position and priority 2, while this node has priority 1/,
  );
});
