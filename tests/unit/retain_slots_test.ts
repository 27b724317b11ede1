/**
 * The slot fields of the `status` key (src/core/retain_slots.ts) as Patroni 4 writes them: `slots` with every
 * managed slot's position while `member_slots_ttl` is above 0 (only the permanent ones at 0), `retain_slots` with
 * the member slots kept for `member_slots_ttl`; a member that takes the leader key keeps the slots the former
 * leader retained; and the encoding of the key.
 *
 * @module
 */
import assert from "node:assert/strict";
import { retainedOnLeadership, statusSlotFields, type StatusSlotInput } from "../../src/core/retain_slots.ts";
import { decide } from "../../src/core/decide.ts";
import { encodeStatus } from "../../src/dcs/codec.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, member, obs, PRIMARY, view } from "../helpers/decide_inputs.ts";

function input(over: Partial<StatusSlotInput> = {}): StatusSlotInput {
  return {
    view: view(),
    me: "pg1",
    seen: {},
    memberSlotsTtl: 1800,
    useSlots: true,
    permanent: [],
    logical: [],
    positions: { pg2: 4000, pg3: 4100 },
    walPosition: 5000,
    ...over,
  };
}

Deno.test("statusSlotFields(): member slots' positions and retain_slots while member_slots_ttl is above 0", () => {
  assert.deepEqual(statusSlotFields(input()), {
    slots: { pg1: 5000, pg2: 4000, pg3: 4100 },
    retainSlots: ["pg1", "pg2", "pg3"],
  });
  const gone = statusSlotFields(
    input({ view: view({ members: [member("pg1"), member("pg2")] }), seen: { pg3: 1 } }),
  );
  assert.deepEqual(gone.retainSlots, ["pg1", "pg2", "pg3"], "a member seen less than member_slots_ttl ago");
  const nostream = view({
    members: [member("pg1"), member("pg2"), member("pg3", { tags: { nostream: true } })],
  });
  assert.deepEqual(
    statusSlotFields(input({ view: nostream })).retainSlots,
    ["pg1", "pg2"],
    "nostream: no slot",
  );
  const permanent = statusSlotFields(input({ permanent: ["pg3"] }));
  assert.deepEqual(permanent.retainSlots, ["pg1", "pg2"], "a permanent slot is not a retained member slot");
  assert.deepEqual(
    statusSlotFields(input({ positions: { pg2: 4000 } })).retainSlots,
    ["pg1", "pg2"],
    "a slot that does not exist on the leader is not retained",
  );
});

Deno.test("statusSlotFields(): with member_slots_ttl 0 only permanent slots and no retain_slots; none without slots", () => {
  assert.deepEqual(statusSlotFields(input({ memberSlotsTtl: 0 })), {});
  assert.deepEqual(
    statusSlotFields(input({ memberSlotsTtl: 0, permanent: ["keep"], positions: { keep: 10 } })),
    {
      slots: { keep: 10, pg1: 5000 },
    },
  );
  assert.deepEqual(statusSlotFields(input({ useSlots: false })), {});
});

Deno.test("retainedOnLeadership(): the former leader's retained slots count as seen now, never the own one", () => {
  assert.deepEqual(retainedOnLeadership({ "PG-2": 5 }, ["pg_2", "old", "pg1"], 100, "pg1"), {
    "PG-2": 100,
    old: 100,
  });
});

Deno.test("decide(): a member that takes the key keeps the slots of members the former leader retained", () => {
  const dynamic = { ...DYNAMIC_DEFAULTS, memberSlotsTtl: 1800 };
  const v = view({
    leader: { name: "pg2", createRevision: "30", modRevision: "30", lease: "78" },
    status: { optime: 5000, slots: {}, retainSlots: ["gone", "pg1", "pg2"] },
  });
  const took = decide(obs(PRIMARY, v), { ...INITIAL_MEMORY, isLeader: false }, ctx("pg2", { dynamic }));
  const sync = took.actions.find((a) => a.type === "sync_slots");
  assert.ok(sync && sync.type === "sync_slots");
  assert.deepEqual(sync.slots, ["gone", "pg1", "pg3"], "`gone` had left before this member could see it");
  const later = decide(obs(PRIMARY, v, { now: 2_800_001 }), took.memory, ctx("pg2", { dynamic }));
  const after = later.actions.find((a) => a.type === "sync_slots");
  assert.ok(after && after.type === "sync_slots");
  assert.deepEqual(after.slots, ["pg1", "pg3"], "kept for member_slots_ttl, then let go");
  const noTtl = decide(
    obs(PRIMARY, v),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: { ...dynamic, memberSlotsTtl: 0 } }),
  );
  const none = noTtl.actions.find((a) => a.type === "sync_slots");
  assert.ok(none && none.type === "sync_slots");
  assert.deepEqual(none.slots, ["pg1", "pg3"]);
});

Deno.test("statusSlotFields(): a member slot created in this cycle is published at once, at the leader's WAL position", () => {
  // Found by Patroni's nostream_node scenario: a member that streams within a second of joining was missing from
  // `slots` until the leader's next cycle, because the leader published only the slots it had seen on Postgres.
  const fresh = statusSlotFields(input({ positions: { pg2: 4000 }, existing: ["pg2"] }));
  assert.deepEqual(fresh, { slots: { pg1: 5000, pg2: 4000, pg3: 5000 }, retainSlots: ["pg1", "pg2", "pg3"] });
  const nostream = view({
    members: [member("pg1"), member("pg2"), member("pg3", { tags: { nostream: true } })],
  });
  assert.deepEqual(
    statusSlotFields(input({ view: nostream, positions: { pg2: 4000 }, existing: ["pg2"] })).slots,
    { pg1: 5000, pg2: 4000 },
    "no slot is created for a nostream member",
  );
  assert.deepEqual(
    statusSlotFields(input({ positions: { pg2: 4000 }, existing: ["pg2", "pg3"] })).slots,
    { pg1: 5000, pg2: 4000 },
    "a slot present without a position is not given one",
  );
  assert.deepEqual(
    statusSlotFields(input({ positions: {}, existing: [], walPosition: null })),
    { retainSlots: ["pg1"] },
    "without a WAL position nothing is published for new slots",
  );
});

Deno.test("decide(): the leader's status names the slot of a member that joined in this cycle", () => {
  const dynamic = { ...DYNAMIC_DEFAULTS, memberSlotsTtl: 1800 };
  const pg = { ...PRIMARY, slots: ["pg2"], slotPositions: { pg2: 4000 } };
  const d = decide(obs(pg, view()), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1", { dynamic }));
  const status = d.actions.find((a) => a.type === "write_status");
  assert.ok(status && status.type === "write_status");
  assert.deepEqual(status.slots, { pg1: 5000, pg2: 4000, pg3: 5000 });
  const sync = d.actions.find((a) => a.type === "sync_slots");
  assert.ok(sync && sync.type === "sync_slots" && sync.slots.includes("pg3"), "and creates it");
});

Deno.test("encodeStatus() writes retain_slots after slots, as Patroni does, and leaves it out when empty", () => {
  assert.equal(
    encodeStatus(5, { a: 1 }, ["a", "b"]),
    '{"optime":5,"slots":{"a":1},"retain_slots":["a","b"]}',
  );
  assert.equal(encodeStatus(5, {}, []), '{"optime":5}');
});
