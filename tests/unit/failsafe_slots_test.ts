/**
 * Slot positions in failsafe mode (src/core/failsafe_slots.ts, src/shell/failsafe.ts), as Patroni handles them:
 * the leader's `POST /failsafe` body carries `slots` (what it writes to `status`), the replica keeps them with the
 * call it accepted (bad input ignored, said why), and while etcd is out of reach a replica with a fresh call
 * advances its permanent slots, logical copies and existing member slots to them, only advancing.
 *
 * @module
 */
import { slot } from "../helpers/existing_slot.ts";
import assert from "node:assert/strict";
import { DYNAMIC_DEFAULTS } from "../../src/config/dynamic.ts";
import { decide } from "../../src/core/decide.ts";
import { parseFailsafeSlots } from "../../src/core/failsafe_slots.ts";
import { planSlotSync } from "../../src/core/slot_rules.ts";
import { FailsafeState } from "../../src/shell/failsafe.ts";
import type { AgentDeps } from "../../src/shell/deps.ts";
import type { PeerClient } from "../../src/core/ports.ts";
import { type DynamicSettings, INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

const SLOTS: DynamicSettings = {
  ...DYNAMIC_DEFAULTS,
  failsafeMode: true,
  permanentSlots: ["dcs_slot_1", "pg1"],
  logicalSlots: [{ name: "dcs_slot_0", database: "postgres", plugin: "test_decoding" }],
};

function stateFor(name: string, peers: Partial<PeerClient> = {}, warned: string[] = []) {
  const deps = {
    name,
    connUrl: "postgres://10.0.0.1:5432/postgres",
    apiUrl: "http://10.0.0.1:8008/patroni",
    clock: { now: () => 1000, wallNow: () => 1000, after: () => () => {} },
    peers: { fetchStatuses: () => Promise.resolve([]), ...peers },
    log: { warn: (m: string, f?: Record<string, unknown>) => warned.push(`${m} ${JSON.stringify(f)}`) },
  } as unknown as AgentDeps;
  return new FailsafeState(deps);
}

Deno.test("failsafe round: the leader's POST /failsafe body carries the slot positions it writes to status", async () => {
  const bodies: Record<string, unknown>[] = [];
  const s = stateFor("pg1", {
    postFailsafe: (members, body) => {
      bodies.push(body);
      return Promise.resolve(members.map((m) => ({ name: m.name, accepted: true })));
    },
  });
  const v = view({ failsafe: { pg1: "http://a/patroni", pg2: "http://b/patroni" } });
  s.dcsAnswered(v);
  const pg = {
    ...PRIMARY,
    walPosition: 9000,
    slotPositions: { dcs_slot_1: 5000, dcs_slot_0: 6000, pg2: 8000 },
  };
  await s.round(SLOTS, pg, v);
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0]!.name, "pg1");
  // Permanent physical and logical positions, the member slot (member_slots_ttl above 0) and its own at its WAL.
  assert.deepEqual(bodies[0]!.slots, { dcs_slot_1: 5000, dcs_slot_0: 6000, pg2: 8000, pg1: 9000 });
});

Deno.test("parseFailsafeSlots(): an object of name -> non-negative integer, anything else is a problem", () => {
  assert.deepEqual(parseFailsafeSlots({ a: 1, b: 0 }), { slots: { a: 1, b: 0 } });
  assert.deepEqual(parseFailsafeSlots(undefined), {});
  assert.deepEqual(parseFailsafeSlots(null), {});
  for (const bad of [[1], "x", 3, { a: -1 }, { a: 1.5 }, { a: "1" }, { a: null }]) {
    const r = parseFailsafeSlots(bad);
    assert.equal(r.slots, undefined, JSON.stringify(bad));
    assert.match(r.problem ?? "", /slots/, JSON.stringify(bad));
  }
});

Deno.test("FailsafeState: the replica keeps the call's slots; bad slots are left out, said why, call accepted", () => {
  const warned: string[] = [];
  const s = stateFor("pg2", {}, warned);
  const v = view();
  const replica = pgState({ walPosition: 4242 });
  assert.equal(s.call({ name: "pg1", slots: { dcs_slot_1: 5000 } }, v, SLOTS, replica).status, 200);
  assert.deepEqual(s.accepted?.slots, { dcs_slot_1: 5000 });
  assert.equal(warned.length, 0);
  assert.equal(s.call({ name: "pg1", slots: { dcs_slot_1: "x" } }, v, SLOTS, replica).status, 200);
  assert.equal(s.accepted?.slots, undefined);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /slots\.dcs_slot_1/);
  assert.equal(s.call({ name: "pg1" }, v, SLOTS, replica).status, 200);
  assert.equal(s.accepted?.slots, undefined);
});

const REPLICA = pgState({
  replayLsn: 7000,
  walPosition: 7000,
  slots: ["dcs_slot_1", "pg1", "pg3"],
  logicalSlots: ["dcs_slot_0"],
  slotPositions: { dcs_slot_1: 1000, pg1: 1000, dcs_slot_0: 1000, pg3: 1000 },
});
const PUBLISHED = { dcs_slot_1: 5000, dcs_slot_0: 6000, pg1: 9000, pg3: 4000 };

function offline(accepted: { at: number; slots?: Record<string, number> } | null, pg = REPLICA) {
  return obs(pg, null, {
    failsafe: { key: null, accepted: accepted && { leader: "pg1", ttl: 30, ...accepted } },
  });
}

Deno.test("decide(): a replica without etcd advances its slots to the positions of a fresh failsafe call", () => {
  const d = decide(
    offline({ at: 1_000_000 - 5000, slots: PUBLISHED }),
    INITIAL_MEMORY,
    ctx("pg2", {
      dynamic: SLOTS,
    }),
  );
  assert.match(d.reason, /^DCS is not accessible/);
  assert.deepEqual(d.actions, [{
    type: "sync_slots",
    slots: ["pg3"],
    permanent: ["dcs_slot_1", "pg1"],
    logical: [{ name: "dcs_slot_0", database: "postgres", plugin: "test_decoding" }],
    role: "replica",
    advance: { dcs_slot_1: 5000, pg1: 9000, dcs_slot_0: 6000 },
    memberInactive: { pg3: 4000 },
    advanceOnly: true,
  }]);
  // The call is older than ttl, or failsafe mode is off, or it carried no slots: nothing.
  const none = [
    decide(
      offline({ at: 1_000_000 - 31_000, slots: PUBLISHED }),
      INITIAL_MEMORY,
      ctx("pg2", { dynamic: SLOTS }),
    ),
    decide(
      offline({ at: 1_000_000 - 5000, slots: PUBLISHED }),
      INITIAL_MEMORY,
      ctx("pg2", {
        dynamic: { ...SLOTS, failsafeMode: false },
      }),
    ),
    decide(offline({ at: 1_000_000 - 5000 }), INITIAL_MEMORY, ctx("pg2", { dynamic: SLOTS })),
    decide(offline(null), INITIAL_MEMORY, ctx("pg2", { dynamic: SLOTS })),
  ];
  for (const n of none) assert.deepEqual(n.actions, []);
  // Every slot already there: no query.
  const there = { ...REPLICA, slotPositions: { dcs_slot_1: 5000, pg1: 7000, dcs_slot_0: 6000, pg3: 4000 } };
  assert.deepEqual(
    decide(
      offline({ at: 1_000_000 - 5000, slots: PUBLISHED }, there),
      INITIAL_MEMORY,
      ctx("pg2", {
        dynamic: SLOTS,
      }),
    ).actions,
    [],
  );
});

Deno.test("planSlotSync() with advanceOnly: advances only, never creates or drops a slot it is not told of", () => {
  const existing = [
    slot("dcs_slot_1"),
    slot("pg3"),
    slot("unknown"),
    slot("pg4", { xmin: "77" }),
    slot("dcs_slot_0", {
      type: "logical",
      database: "postgres",
      plugin: "test_decoding",
      confirmedFlush: 1000,
    }),
  ];
  const fields = {
    role: "replica" as const,
    permanent: ["dcs_slot_1", "missing"],
    logical: [{ name: "dcs_slot_0", database: "postgres", plugin: "test_decoding" }],
    advance: { dcs_slot_1: 5000, dcs_slot_0: 6000 },
    memberInactive: { pg3: 4000, pg4: 4000 },
  };
  const all = planSlotSync(existing, ["pg3", "pg4"], fields, "pg2", 7000);
  assert.ok(all.some((o) => o.op !== "advance"), "without the flag it creates and drops");
  assert.deepEqual(planSlotSync(existing, ["pg3", "pg4"], { ...fields, advanceOnly: true }, "pg2", 7000), [
    { op: "advance", name: "dcs_slot_1", lsn: 5000 },
    { op: "advance", name: "pg3", lsn: 4000 },
    { op: "advance", name: "dcs_slot_0", lsn: 6000, database: "postgres" },
  ]);
});

Deno.test("decide(): a slot named after the replica itself is not advanced from the leader's positions", () => {
  const pg = { ...REPLICA, slots: ["pg2"], slotPositions: { pg2: 1000 } };
  const d = decide(
    offline({ at: 1_000_000 - 5000, slots: { pg2: 5000 } }, pg),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: { ...SLOTS, permanentSlots: [], logicalSlots: [] } }),
  );
  assert.deepEqual(d.actions, []);
});

Deno.test("decide(): the leader kept by a failsafe round advances the inactive slots of the members that answered", () => {
  const key = { pg1: "http://a/patroni", pg2: "http://b/patroni", pg3: "http://c/patroni" };
  const primary = { ...PRIMARY, slots: ["pg2", "pg3"], slotPositions: { pg2: 1000, pg3: 8000 } };
  const round = {
    startedAt: 999_000,
    answers: [{ name: "pg2", accepted: true, lsn: 6000 }, { name: "pg3", accepted: true, lsn: 7000 }],
  };
  const d = decide(
    obs(primary, null, { failsafe: { key, accepted: null, round } }),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: SLOTS }),
  );
  assert.match(d.reason, /^continue to run as a leader/);
  // pg3's slot is already past what pg3 answered: only pg2's is advanced.
  assert.deepEqual(d.actions, [
    { type: "failsafe_keep", since: 999_000, ttl: 30 },
    { type: "sync_slots", slots: ["pg2"], memberInactive: { pg2: 6000 }, advanceOnly: true },
  ]);
});
