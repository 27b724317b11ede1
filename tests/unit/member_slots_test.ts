/**
 * Cascading slots: which member holds a `replicatefrom` member's slot, and how the slots a member does not use are
 * advanced (src/core/member_slots.ts, through decide() and planSlotSync()).
 *
 * @module
 */
import { slot } from "../helpers/existing_slot.ts";
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { memberSlotPlan, slotNameOnPrimary } from "../../src/core/member_slots.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { planSlotSync } from "../../src/core/slot_rules.ts";
import { type Action, INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, member, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

/** pg1 leads; pg2 streams from it; pg3 streams from pg2 (`replicatefrom`) and reports position 9000. */
const CASCADE = view({
  members: [
    member("pg1", { role: "primary" }),
    member("pg2", { xlog_location: 9500 }),
    member("pg3", { tags: { replicatefrom: "pg2" }, xlog_location: 9000 }),
  ],
  status: { optime: 10000, slots: { pg1: 10000, pg2: 9500, pg3: 2000 }, retainSlots: [] },
});

function syncSlots(actions: Action[]): Extract<Action, { type: "sync_slots" }> {
  const a = actions.find((x) => x.type === "sync_slots");
  assert.ok(a && a.type === "sync_slots", `no sync_slots in ${JSON.stringify(actions)}`);
  return a;
}

Deno.test("decide(): the leader advances the slot of a member that streams from another member (it holds no WAL for nothing)", () => {
  const lead = decide(obs(PRIMARY, CASCADE), INITIAL_MEMORY, ctx("pg1"));
  const action = syncSlots(lead.actions);
  assert.deepEqual(
    action.slots,
    ["pg2", "pg3"],
    "with member_slots_ttl above 0 the leader keeps pg3's slot too",
  );
  // pg3's slot on the leader is not in use (pg3 streams from pg2): left at its creation point, it would keep every
  // WAL segment since then on the primary.
  const ops = planSlotSync([slot("pg2", { active: true }), slot("pg3")], action.slots, action, "pg1");
  assert.deepEqual(ops, [{ op: "advance", name: "pg3", lsn: 9000 }]);
});

Deno.test("decide(): a replica that may become primary creates a slot for every other member, the leader's too", () => {
  const rep = decide(obs(pgState({ slots: [] }), CASCADE), INITIAL_MEMORY, ctx("pg2"));
  const action = syncSlots(rep.actions);
  const ops = planSlotSync([], action.slots, action, "pg2", 9500);
  assert.deepEqual(
    ops,
    [{ op: "create", name: "pg1" }, { op: "create", name: "pg3" }],
    "pg3 streams from it; pg1's is there for when pg2 is promoted, as Patroni 4 keeps it",
  );
  const again = decide(
    obs(pgState({ slots: ["pg1", "pg3"], slotPositions: { pg1: 5000, pg3: 4000 } }), CASCADE),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.equal(
    again.actions.some((a) => a.type === "sync_slots"),
    false,
    "nothing to do once they exist and pg1's is at the replay position (5000), short of the published 10000",
  );
  const behind = decide(
    obs(pgState({ slots: ["pg1", "pg3"], slotPositions: { pg1: 4000, pg3: 4000 } }), CASCADE),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  const sync = syncSlots(behind.actions);
  assert.deepEqual(
    planSlotSync(
      [slot("pg1", { restartLsn: 4000 }), slot("pg3", { active: true })],
      sync.slots,
      sync,
      "pg2",
      5000,
    ),
    [{ op: "advance", name: "pg1", lsn: 5000 }],
    "advanced towards the published 10000, never past its own replay position",
  );
});

Deno.test("decide(): a nofailover replica, or any with member_slots_ttl 0, creates only the slots streaming from it", () => {
  const noFail = decide(obs(pgState(), CASCADE), INITIAL_MEMORY, ctx("pg2", { tags: { nofailover: true } }));
  const a = syncSlots(noFail.actions);
  assert.deepEqual(planSlotSync([], a.slots, a, "pg2", 9500), [{ op: "create", name: "pg3" }]);
  const noTtl = decide(
    obs(pgState(), CASCADE),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: { ...DYNAMIC_DEFAULTS, memberSlotsTtl: 0 } }),
  );
  const b = syncSlots(noTtl.actions);
  assert.deepEqual(planSlotSync([], b.slots, b, "pg2", 9500), [{ op: "create", name: "pg3" }]);
});

Deno.test("memberSlotPlan(): the leader keeps a cascaded member's slot (advanced), or none with member_slots_ttl 0", () => {
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  assert.deepEqual(memberSlotPlan(CASCADE, "pg1", "primary", opts), {
    create: ["pg2", "pg3"],
    keep: ["pg2", "pg3"],
    inactive: { pg3: 9000 },
  });
  assert.deepEqual(memberSlotPlan(CASCADE, "pg1", "primary", { ...opts, memberSlotsTtl: 0 }), {
    create: ["pg2"],
    keep: ["pg2"],
    inactive: {},
  }, "as Patroni without member slot retention: only the members streaming from the leader");
});

Deno.test("memberSlotPlan(): a replica creates every other member's slot; those not streaming from it are unused", () => {
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  assert.deepEqual(memberSlotPlan(CASCADE, "pg2", "replica", opts), {
    create: ["pg1", "pg3"],
    keep: ["pg1", "pg3"],
    inactive: { pg1: 10000 },
  });
  assert.deepEqual(memberSlotPlan(CASCADE, "pg3", "replica", opts), {
    create: ["pg1", "pg2"],
    keep: ["pg1", "pg2"],
    inactive: { pg1: 10000, pg2: 9500 },
  });
  assert.deepEqual(
    memberSlotPlan(CASCADE, "pg2", "replica", { ...opts, memberSlotsTtl: 0 }),
    { create: ["pg3"], keep: ["pg3"], inactive: {} },
    "without member slot retention: only the slots of members streaming from it, as Patroni",
  );
  assert.deepEqual(
    memberSlotPlan(CASCADE, "pg2", "replica", { ...opts, nofailover: true }),
    { create: ["pg3"], keep: ["pg3"], inactive: {} },
    "a nofailover member never leads: it keeps only the slots of members streaming from it",
  );
});

Deno.test("memberSlotPlan(): nostream members get no slot; their cascade gets one on the nostream member", () => {
  const v = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2", { tags: { nostream: true } }),
      member("pg3", { tags: { replicatefrom: "pg2" }, xlog_location: 700 }),
    ],
  });
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  assert.deepEqual(memberSlotPlan(v, "pg1", "primary", opts), {
    create: ["pg3"],
    keep: ["pg3"],
    inactive: { pg3: 700 },
  });
  const onNostream = memberSlotPlan(v, "pg2", "replica", opts);
  assert.deepEqual(
    onNostream.create,
    ["pg1", "pg3"],
    "as Patroni: its own nostream tag does not change its slots",
  );
  assert.deepEqual(onNostream.inactive, { pg1: 0 }, "pg3 streams from it");
  assert.deepEqual(memberSlotPlan(v, "pg3", "replica", opts).create, ["pg1"], "none for the nostream member");
});

Deno.test("memberSlotPlan(): a replicatefrom naming a missing member, the leader or itself streams from the leader", () => {
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  for (const from of ["pg9", "pg1", "pg3"]) {
    const v = view({
      members: [
        member("pg1", { role: "primary" }),
        member("pg2"),
        member("pg3", { tags: { replicatefrom: from } }),
      ],
    });
    assert.deepEqual(memberSlotPlan(v, "pg1", "primary", opts).inactive, {}, `replicatefrom ${from}`);
    assert.deepEqual(Object.keys(memberSlotPlan(v, "pg2", "replica", opts).inactive), ["pg1", "pg3"], from);
    const noTtl = { ...opts, memberSlotsTtl: 0 };
    assert.deepEqual(memberSlotPlan(v, "pg2", "replica", noTtl).create, [], `replicatefrom ${from}`);
  }
});

Deno.test("memberSlotPlan(): when a cascaded member's upstream changes, the new upstream creates its slot", () => {
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  const moved = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2"),
      member("pg3", { tags: { replicatefrom: "pg4" } }),
      member("pg4"),
    ],
    status: { optime: 10000, slots: { pg3: 4000 }, retainSlots: [] },
  });
  const noTtl = { ...opts, memberSlotsTtl: 0 };
  assert.deepEqual(memberSlotPlan(moved, "pg4", "replica", noTtl).create, ["pg3"]);
  assert.equal(memberSlotPlan(moved, "pg4", "replica", opts).inactive["pg3"], undefined, "in use there");
  const old = memberSlotPlan(moved, "pg2", "replica", noTtl);
  assert.deepEqual(old.create, [], "the former upstream no longer creates it");
  assert.deepEqual(old.keep, [], "nor keeps it without member slot retention (Patroni drops it)");
  assert.equal(
    memberSlotPlan(moved, "pg2", "replica", opts).inactive["pg3"],
    4000,
    "with retention it keeps it, advanced",
  );
});

Deno.test("memberSlotPlan(): Patroni's permanent_slots topology (a nofailover member, one cascaded from it)", () => {
  const v = view({
    members: [
      member("pg0", { role: "primary" }),
      member("pg1"),
      member("pg2", { tags: { nofailover: true } }),
      member("pg3", { tags: { replicatefrom: "pg2" } }),
    ],
    leader: { ...view().leader!, name: "pg0" },
  });
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  assert.deepEqual(memberSlotPlan(v, "pg1", "replica", opts).create, ["pg0", "pg2", "pg3"]);
  assert.deepEqual(memberSlotPlan(v, "pg2", "replica", { ...opts, nofailover: true }).create, ["pg3"]);
  assert.deepEqual(memberSlotPlan(v, "pg3", "replica", opts).create, ["pg0", "pg1", "pg2"]);
});

Deno.test("memberSlotPlan(): a replica keeps the slots the leader lists in retain_slots (not its own; not nofailover)", () => {
  const v = view({
    members: [member("pg1", { role: "primary" }), member("pg2")],
    status: { optime: 5000, slots: { pg5: 3000 }, retainSlots: ["pg1", "pg2", "pg5"] },
  });
  const opts = { nofailover: false, memberSlotsTtl: 1800, seen: {} };
  assert.deepEqual(memberSlotPlan(v, "pg2", "replica", opts), {
    create: ["pg1", "pg5"],
    keep: ["pg1", "pg5"],
    inactive: { pg1: 0, pg5: 3000 },
  });
  assert.deepEqual(memberSlotPlan(v, "pg2", "replica", { ...opts, nofailover: true }).keep, []);
});

Deno.test("planSlotSync(): an unused member slot carrying an xmin is dropped (created again where wanted)", () => {
  const fields = { memberInactive: { pg3: 5000 } };
  assert.deepEqual(planSlotSync([slot("pg2"), slot("pg3", { xmin: "742" })], ["pg2", "pg3"], fields, "pg1"), [
    { op: "drop", name: "pg3", why: "xmin 742 on a slot not expected to be in use" },
    { op: "create", name: "pg3" },
  ], "on the leader it is wanted: created again at once");
  assert.deepEqual(
    planSlotSync([slot("pg3", { xmin: "742" })], ["pg3"], { ...fields, role: "replica" }, "pg2"),
    [{ op: "drop", name: "pg3", why: "xmin 742 on a slot not expected to be in use" }],
    "a replica does not create it again",
  );
  assert.deepEqual(
    planSlotSync([slot("pg3", { active: true, xmin: "742" })], ["pg3"], fields, "pg1"),
    [],
    "an active one is in use after all: left alone",
  );
  assert.deepEqual(
    planSlotSync([slot("pg3", { restartLsn: 6000 })], ["pg3"], fields, "pg1"),
    [],
    "never moved back",
  );
});

Deno.test("slotNameOnPrimary(): the slot at the head of the replicatefrom chain; none through a nostream member", () => {
  const v = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2", { tags: { nostream: true } }),
      member("pg3", { tags: { replicatefrom: "pg2" } }),
      member("pg4", { tags: { replicatefrom: "pg5" } }),
      member("pg5", { tags: { replicatefrom: "pg4" } }),
      member("pg6", { tags: { replicatefrom: "pg7" } }),
      member("pg7"),
    ],
  });
  assert.equal(slotNameOnPrimary(v, "pg7", {}), "pg7");
  assert.equal(slotNameOnPrimary(v, "pg6", { replicatefrom: "pg7" }), "pg7");
  assert.equal(slotNameOnPrimary(v, "pg8", { replicatefrom: "pg9" }), "pg8", "a missing member: the leader");
  assert.equal(slotNameOnPrimary(v, "pg2", { nostream: true }), null);
  assert.equal(slotNameOnPrimary(v, "pg3", { replicatefrom: "pg2" }), null);
  assert.equal(slotNameOnPrimary(v, "pg4", { replicatefrom: "pg5" }), null, "a loop");
});

Deno.test("decide(): a member streaming through a nostream member keeps no copies of logical slots", () => {
  const v = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2", { tags: { nostream: true } }),
      member("pg3", { tags: { replicatefrom: "pg2" } }),
    ],
    status: { optime: 5000, slots: { cdc: 3000, pg1: 5000 }, retainSlots: [] },
  });
  const dynamic = {
    ...DYNAMIC_DEFAULTS,
    logicalSlots: [{ name: "cdc", database: "app", plugin: "pgoutput" }],
  };
  const d = decide(
    obs(pgState(), v),
    INITIAL_MEMORY,
    ctx("pg3", { dynamic, tags: { replicatefrom: "pg2" } }),
  );
  assert.equal(d.actions.some((a) => a.type === "start_job"), false, "no copy, so no restart to install one");
  const sync = d.actions.find((a) => a.type === "sync_slots");
  assert.ok(!sync || (sync.type === "sync_slots" && sync.logical === undefined), JSON.stringify(sync));
});

Deno.test("decide(): in pause the leader too advances a cascaded member's unused slot", () => {
  const d = decide(
    obs(PRIMARY, CASCADE),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
  );
  const action = syncSlots(d.actions);
  assert.deepEqual(planSlotSync([slot("pg2", { active: true }), slot("pg3")], action.slots, action, "pg1"), [
    { op: "advance", name: "pg3", lsn: 9000 },
  ]);
});

Deno.test("planSlotSync(): on a replica an unused slot is advanced no further than the replay position", () => {
  const fields = { role: "replica" as const, memberCreate: ["pg1"], memberInactive: { pg1: 10000 } };
  assert.deepEqual(planSlotSync([slot("pg1", { restartLsn: 4000 })], ["pg1"], fields, "pg2", 5000), [
    { op: "advance", name: "pg1", lsn: 5000 },
  ]);
  assert.deepEqual(planSlotSync([slot("pg1", { restartLsn: 4000 })], ["pg1"], fields, "pg2", 3000), []);
  assert.deepEqual(
    planSlotSync(
      [slot("pg1", { restartLsn: 4000 })],
      ["pg1"],
      { memberInactive: { pg1: 10000 } },
      "pg1",
      3000,
    ),
    [{ op: "advance", name: "pg1", lsn: 10000 }],
    "on a primary the replay position (static since its promotion) is no limit",
  );
});

Deno.test("decide(): with member_slots_ttl 0 a replica drops the member slots not streamed from it, as Patroni does", () => {
  // pg2 was the primary (it holds pg1's and pg3's slots); now pg1 leads, pg3 streams from pg2 (replicatefrom).
  const d = decide(
    obs(pgState(), CASCADE),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: { ...DYNAMIC_DEFAULTS, memberSlotsTtl: 0 } }),
  );
  const a = syncSlots(d.actions);
  const ops = planSlotSync(
    [slot("pg1", { restartLsn: 5000 }), slot("pg3", { active: true })],
    a.slots,
    a,
    "pg2",
    9500,
  );
  assert.deepEqual(ops, [{ op: "drop", name: "pg1", why: "unknown replication slot" }]);
});
