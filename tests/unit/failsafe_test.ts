/**
 * Failsafe mode as a specification (src/core/failsafe.ts): the leader without etcd keeps its primary only while every
 * member of the `failsafe` key accepted this cycle's round, a replica that accepted the leader's call within ttl
 * does not race, a member missing from the key never does, the leader keeps the key equal to the registered members,
 * a call is accepted only from the leader this member follows; with failsafe_mode off (or refused) nothing changes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/dynamic.ts";
import {
  failsafeCallVerdict,
  failsafeKeyAction,
  failsafeRoundVerdict,
  failsafeTopology,
} from "../../src/core/failsafe.ts";
import { isolationVerdict } from "../../src/core/isolation.ts";
import { peersToAsk } from "../../src/core/loop.ts";
import type { FailsafeObservation } from "../../src/core/failsafe_types.ts";
import { type DynamicSettings, INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, member, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const ON: DynamicSettings = { ...DYNAMIC_DEFAULTS, failsafeMode: true };
const REFUSED: DynamicSettings = { ...ON, unsupportedGuarantees: ["failsafe_mode"] };
const OFF: DynamicSettings = { ...DYNAMIC_DEFAULTS, failsafeMode: false };
const KEY = {
  pg1: "http://127.0.0.1:8008/patroni",
  pg2: "http://127.0.0.1:8009/patroni",
  pg3: "http://127.0.0.1:8010/patroni",
};
const NOW = 1_000_000;
const STREAMING = pgState({
  ...PRIMARY,
  replication: [{
    usename: "replicator",
    application_name: "pg2",
    client_addr: null,
    state: "streaming",
    sync_state: "async",
    sync_priority: 0,
  }],
});

function offline(failsafe: FailsafeObservation, pg = PRIMARY) {
  return obs(pg, null, { failsafe });
}
const accepted = (...names: string[]) => names.map((name) => ({ name, accepted: true }));

Deno.test("failsafe: a primary without etcd keeps running when every member of the key accepted the round", () => {
  const o = offline({ key: KEY, round: { startedAt: NOW - 300, answers: accepted("pg2", "pg3") } });
  const d = decide(o, INITIAL_MEMORY, ctx("pg1", { dynamic: ON }));
  assert.deepEqual(d.actions, [{ type: "failsafe_keep", since: NOW - 300, ttl: 30 }]);
  assert.equal(
    d.reason,
    "continue to run as a leader because failsafe mode is enabled and all members are accessible",
  );
  assert.equal(d.memory.isLeader, true);
});

Deno.test("failsafe: the round counts for the shortest ttl a member answered with (it read a lower ttl since)", () => {
  const answers = [{ name: "pg2", accepted: true, ttl: 10 }, { name: "pg3", accepted: true, ttl: 40 }];
  const d = decide(
    offline({ key: KEY, round: { startedAt: NOW, answers } }),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: ON }),
  );
  assert.deepEqual(d.actions, [{ type: "failsafe_keep", since: NOW, ttl: 10 }]);
});

Deno.test("failsafe: one member of the key not confirming makes the primary without etcd demote, naming it", () => {
  const round = {
    startedAt: NOW - 300,
    answers: [{ name: "pg2", accepted: true }, { name: "pg3", accepted: false, error: "connection refused" }],
  };
  const d = decide(offline({ key: KEY, round }), INITIAL_MEMORY, ctx("pg1", { dynamic: ON }));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /^demoting self because DCS is not accessible and I was a leader \(failsafe mode: /);
  assert.match(d.reason, /not confirmed by pg3 \(connection refused\)/);
  // A member missing from the answers counts as not confirming.
  const partial = decide(
    offline({ key: KEY, round: { startedAt: NOW, answers: accepted("pg2") } }, STREAMING),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: ON }),
  );
  assert.deepEqual(partial.actions, [{ type: "demote", mode: "fast" }]);
});

Deno.test("failsafe: no key, not in the key, or no round: the primary without etcd demotes", () => {
  for (
    const f of [{ key: null }, { key: { pg2: KEY.pg2 }, round: { startedAt: NOW, answers: [] } }, {
      key: KEY,
    }]
  ) {
    const d = decide(offline(f), INITIAL_MEMORY, ctx("pg1", { dynamic: ON }));
    assert.deepEqual(types(d.actions), ["demote"], JSON.stringify(f));
  }
  assert.equal(failsafeRoundVerdict({ pg1: KEY.pg1 }, "pg1", { startedAt: NOW, answers: [] }), null);
  assert.equal(
    failsafeRoundVerdict({ pg2: KEY.pg2 }, "pg1", undefined),
    "this member is not in the failsafe key",
  );
});

Deno.test("failsafe off, or refused as not implemented: a primary without etcd demotes exactly as before", () => {
  const o = offline({ key: KEY, round: { startedAt: NOW, answers: accepted("pg2", "pg3") } });
  const before = decide(obs(PRIMARY, null), INITIAL_MEMORY, ctx("pg1"));
  for (const dynamic of [DYNAMIC_DEFAULTS, REFUSED, { ...ON, failsafeMode: false }]) {
    const d = decide(o, INITIAL_MEMORY, ctx("pg1", { dynamic }));
    assert.deepEqual(d, before);
  }
});

Deno.test("failsafe: a replica that accepted the leader's call within ttl does not race; after ttl it does", () => {
  const o = (at: number) =>
    obs(pgState({ walPosition: 6000 }), view({ leader: null, failsafe: KEY }), {
      peers: [peer("pg3", 5500)],
      failsafe: { key: KEY, accepted: { leader: "pg1", at } },
    });
  const held = decide(o(NOW - 29_000), INITIAL_MEMORY, ctx("pg2", { dynamic: ON }));
  assert.deepEqual(held.actions, []);
  assert.match(
    held.reason,
    /^no action: failsafe mode is active, the leader pg1 called POST \/failsafe 29\.0 s ago$/,
  );
  // The ttl promised holds when the member read a shorter one since.
  const promised = obs(pgState({ walPosition: 6000 }), view({ leader: null, failsafe: KEY }), {
    peers: [peer("pg3", 5500)],
    failsafe: { key: KEY, accepted: { leader: "pg1", at: NOW - 25_000, ttl: 30 } },
  });
  assert.deepEqual(decide(promised, INITIAL_MEMORY, ctx("pg2", { dynamic: { ...ON, ttl: 20 } })).actions, []);
  const stale = decide(o(NOW - 30_000), INITIAL_MEMORY, ctx("pg2", { dynamic: ON }));
  assert.deepEqual(types(stale.actions), ["acquire_leader", "write_history", "promote"]);
  // failsafe_mode turned off since: the promise still holds for its ttl (found by the simulator: the replicas raced
  // beside a leader whose fence counted on their acceptance); without an acceptance, the race goes on.
  const off = decide(o(NOW - 1000), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(off.actions, []);
  const none = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [peer("pg3", 5500)] });
  assert.deepEqual(types(decide(none, INITIAL_MEMORY, ctx("pg2")).actions), [
    "acquire_leader",
    "write_history",
    "promote",
  ]);
});

Deno.test("failsafe: a member missing from a non-empty failsafe key takes no part in a leader race", () => {
  const o = obs(
    pgState({ walPosition: 6000 }),
    view({ leader: null, failsafe: { pg1: KEY.pg1, pg3: KEY.pg3 } }),
    {
      peers: [peer("pg3", 5500)],
    },
  );
  const d = decide(o, INITIAL_MEMORY, ctx("pg2", { dynamic: ON }));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "not taking part in the leader race: this member is not in the failsafe key");
  // failsafe_mode off (or refused): a leader cut off from etcd cannot read the change and may still run on its
  // rounds (found by the simulator: failsafe_mode turned on and off while pg2 was frozen, and pg2 raced beside the
  // leader); the key, which a healthy leader empties once failsafe mode is off, decides.
  for (const dynamic of [OFF, REFUSED]) {
    const off = decide(o, INITIAL_MEMORY, ctx("pg2", { dynamic }));
    assert.deepEqual(off.actions, []);
    assert.equal(off.reason, d.reason);
  }
  // An empty key (failsafe mode off at the last leader) holds nobody.
  const empty = obs(o.pg, view({ leader: null, failsafe: {} }), { peers: [peer("pg3", 5500)] });
  assert.deepEqual(types(decide(empty, INITIAL_MEMORY, ctx("pg2")).actions), [
    "acquire_leader",
    "write_history",
    "promote",
  ]);
  // A switchover to it (found by the simulator: a candidate that had been away when the key was written never took
  // over, and nobody led): the failover request decides.
  const asked = obs(
    o.pg,
    view({ leader: null, failsafe: { pg1: KEY.pg1 }, failover: { member: "pg2", modRevision: "9" } }),
    {
      peers: [peer("pg3", 5500)],
    },
  );
  assert.deepEqual(types(decide(asked, INITIAL_MEMORY, ctx("pg2", { dynamic: ON })).actions).slice(0, 3), [
    "acquire_leader",
    "write_history",
    "promote",
  ]);
});

Deno.test("failsafe: a switchover request lets nobody past the key, and nobody waits for a candidate the key leaves out", () => {
  // Found by the simulator (seed 31337): the leader pg1, cut off from etcd, runs on failsafe rounds with pg3; a
  // switchover request (it names a leader) used to let pg2, left out of the key, race beside it. Only an operator's
  // failover to a named member goes past the key.
  const key = { pg1: KEY.pg1, pg3: KEY.pg3 };
  for (
    const failover of [{ leader: "pg1", modRevision: "9" }, {
      leader: "pg1",
      member: "pg2",
      modRevision: "9",
    }]
  ) {
    const o = obs(pgState({ walPosition: 6000 }), view({ leader: null, failsafe: key, failover }), {
      peers: [peer("pg3", 5500)],
    });
    const d = decide(o, INITIAL_MEMORY, ctx("pg2", { dynamic: ON }));
    assert.deepEqual(d.actions, [], JSON.stringify(failover));
    assert.equal(d.reason, "not taking part in the leader race: this member is not in the failsafe key");
  }
  // pg3, in the key, does not wait for the candidate pg2 that the key keeps out (they used to wait for good).
  const asked = view({
    leader: null,
    failsafe: key,
    failover: { leader: "pg1", member: "pg2", modRevision: "9" },
  });
  const o3 = obs(pgState({ walPosition: 6000 }), asked, { peers: [peer("pg2", 5500)] });
  const d3 = decide(o3, INITIAL_MEMORY, ctx("pg3", { dynamic: ON }));
  assert.doesNotMatch(d3.reason, /waiting for candidate/);
  assert.deepEqual(types(d3.actions).slice(0, 3), ["acquire_leader", "write_history", "promote"]);
});

Deno.test("failsafe: the leader writes the key after its renewal when the registered members differ", () => {
  const v = view({ members: [member("pg1", { role: "primary" }), member("pg2"), member("pg3")] });
  assert.deepEqual(failsafeTopology(v), KEY);
  const d = decide(obs(PRIMARY, v), INITIAL_MEMORY, ctx("pg1", { dynamic: ON }));
  const t = types(d.actions);
  assert.ok(t.indexOf("write_failsafe") > t.indexOf("renew_leader"));
  assert.deepEqual(d.actions.find((a) => a.type === "write_failsafe"), {
    type: "write_failsafe",
    value: KEY,
  });
  // Unchanged key: no write. Failsafe off, or refused: no write while the key is absent or empty, and a key that
  // names members is emptied (a member it names nobody any more may race again).
  assert.equal(failsafeKeyAction(view({ failsafe: { ...KEY } }), ctx("pg1", { dynamic: ON })), null);
  assert.equal(failsafeKeyAction(v, ctx("pg1", { dynamic: REFUSED })), null);
  assert.equal(failsafeKeyAction(view({ ...v, failsafe: {} }), ctx("pg1", { dynamic: OFF })), null);
  assert.ok(!types(decide(obs(PRIMARY, v), INITIAL_MEMORY, ctx("pg1")).actions).includes("write_failsafe"));
  for (const dynamic of [OFF, REFUSED]) {
    const stale = decide(
      obs(PRIMARY, view({ ...v, failsafe: { ...KEY } })),
      INITIAL_MEMORY,
      ctx("pg1", { dynamic }),
    );
    assert.deepEqual(stale.actions.find((a) => a.type === "write_failsafe"), {
      type: "write_failsafe",
      value: {},
    });
  }
});

Deno.test("failsafe: a call is accepted from the leader this member follows, never by a primary", () => {
  const base = {
    enabled: true,
    mayBeWritable: false,
    caller: "pg1",
    viewLeader: "pg1",
    accepted: null,
    now: NOW,
  };
  assert.deepEqual(failsafeCallVerdict({ ...base, ttl: 30 }), { status: 200, body: "Accepted" });
  assert.equal(failsafeCallVerdict({ ...base, ttl: 30, enabled: false }).status, 502);
  assert.deepEqual(failsafeCallVerdict({ ...base, ttl: 30, mayBeWritable: true }), {
    status: 500,
    body: "Running as a leader",
  });
  assert.equal(failsafeCallVerdict({ ...base, ttl: 30, caller: "pg3" }).status, 500);
  // Once the leader key is gone, the leader whose calls it has been accepting (within ttl) only.
  const gone = { ...base, ttl: 30, viewLeader: null };
  assert.equal(failsafeCallVerdict({ ...gone, accepted: { leader: "pg1", at: NOW - 5000 } }).status, 200);
  assert.equal(failsafeCallVerdict({ ...gone, accepted: { leader: "pg1", at: NOW - 31_000 } }).status, 500);
  assert.equal(
    failsafeCallVerdict({ ...gone, caller: "pg3", accepted: { leader: "pg1", at: NOW } }).status,
    500,
  );
  // A stale acceptance of an old leader does not override the leader etcd names now.
  assert.equal(
    failsafeCallVerdict({ ...base, ttl: 30, viewLeader: "pg3", accepted: { leader: "pg1", at: NOW } }).status,
    500,
  );
});

Deno.test("failsafe and the isolation fence: a round every member accepted counts as the replicas heard then", () => {
  const input = {
    now: 20_000,
    timeoutMs: 3000,
    pause: false,
    writablePrimary: true,
    failoverCandidates: 2,
    unconfirmedSince: 10_000,
    dcsLastSuccess: 5000,
    dcsUnansweredSince: 10_000,
  };
  assert.notEqual(isolationVerdict(input), null);
  assert.equal(isolationVerdict({ ...input, failsafeConfirmedAt: 18_000 }), null);
  assert.notEqual(isolationVerdict({ ...input, failsafeConfirmedAt: 16_000 }), null);
});

Deno.test("failsafe: a leader race also asks the members of the failsafe key whose member keys have expired", () => {
  const v = view({ leader: null, members: [member("pg2"), member("pg3")], failsafe: KEY });
  const replica = pgState({ walPosition: 6000 });
  const names = (f?: Record<string, string>) =>
    peersToAsk({ kind: "ok", cluster: v }, replica, false, "pg2", f ? { failsafe: f } : {})?.map((p) =>
      p.name
    );
  assert.deepEqual(names(), ["pg3"]);
  assert.deepEqual(names(KEY), ["pg3", "pg1"]);
});
