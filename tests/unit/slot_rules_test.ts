/**
 * Permanent replication slots and `ignore_slots` (src/core/slot_rules.ts) as Patroni handles them: reading the
 * `slots` key, matching `ignore_slots`, what the primary and a replica create, drop and advance, what the leader
 * publishes in `status`, and how decide() asks for it; and the key check that accepts physical and logical
 * permanent slots.
 *
 * @module
 */
import { slot } from "../helpers/existing_slot.ts";
import assert from "node:assert/strict";
import {
  isIgnoredSlot,
  planSlotSync,
  readIgnoreSlots,
  readPermanentSlots,
  slotSyncFields,
  statusSlots,
} from "../../src/core/slot_rules.ts";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS, normalizeDynamic } from "../../src/config/config.ts";
import { checkDynamicKeys } from "../../src/config/key_check.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

Deno.test("readPermanentSlots(): no value or type physical is physical; database + plugin is logical", () => {
  const p = readPermanentSlots({
    slots: {
      a: null,
      b: { type: "physical" },
      c: { database: "db", plugin: "pgoutput" },
      "Bad-Name": null,
      d: 5,
      e: 0,
    },
  });
  assert.deepEqual(
    p.physical,
    ["a", "b", "e"],
    "0 is an empty value, as in Patroni's own acceptance scenario",
  );
  assert.deepEqual(p.logical, [{ name: "c", database: "db", plugin: "pgoutput" }]);
  assert.equal(p.invalid.length, 2);
  // Patroni's order of the older names: permanent_replication_slots, permanent_slots, slots.
  assert.deepEqual(readPermanentSlots({ permanent_slots: { x: null }, slots: { y: null } }).physical, ["x"]);
});

Deno.test("isIgnoredSlot(): every field given must match, absent fields match anything", () => {
  const { matchers } = readIgnoreSlots([{ name: "keep" }, { type: "logical", database: "app" }]);
  assert.equal(isIgnoredSlot(slot("keep"), matchers), true);
  assert.equal(isIgnoredSlot(slot("other"), matchers), false);
  assert.equal(isIgnoredSlot(slot("cdc", { type: "logical", database: "app", plugin: "x" }), matchers), true);
  assert.equal(
    isIgnoredSlot(slot("cdc", { type: "logical", database: "other", plugin: "x" }), matchers),
    false,
  );
});

Deno.test("planSlotSync() on the primary: a permanent slot is created and kept, not dropped for being inactive", () => {
  // The bug: an external consumer's physical slot, inactive for a moment, was dropped; as a permanent slot it stays.
  const existing = [slot("pg2", { active: true }), slot("backup_tool")];
  assert.deepEqual(planSlotSync(existing, ["pg2", "pg3"], { permanent: ["backup_tool"] }, "pg1"), [
    { op: "create", name: "pg3" },
  ]);
  assert.deepEqual(planSlotSync([], [], { permanent: ["backup_tool", "pg1"] }, "pg1"), [
    { op: "create", name: "backup_tool" },
  ], "never a permanent slot named after the member itself");
});

Deno.test("planSlotSync() on the primary: unknown inactive slots are dropped, ignored and active ones are not", () => {
  const existing = [
    slot("stray"),
    slot("busy", { active: true }),
    slot("ignored_one"),
    slot("cdc", { type: "logical", database: "app", plugin: "pgoutput", restartLsn: 10 }),
    slot("pg17_failover", { type: "logical", failover: true }),
  ];
  const ops = planSlotSync(existing, [], { ignore: [{ name: "ignored_one" }] }, "pg1");
  assert.deepEqual(ops, [
    { op: "drop", name: "stray", why: "unknown replication slot" },
    { op: "drop", name: "cdc", why: "unknown replication slot" },
  ]);
});

Deno.test("planSlotSync(): a wanted slot whose WAL is lost, or that is logical, is dropped and created again", () => {
  const ops = planSlotSync([slot("keep", { walStatus: "lost" }), slot("pg2", { type: "logical" })], ["pg2"], {
    permanent: ["keep"],
  }, "pg1");
  assert.deepEqual(ops.map((o) => `${o.op} ${o.name}`), [
    "drop keep",
    "drop pg2",
    "create keep",
    "create pg2",
  ]);
});

Deno.test("planSlotSync() on a replica: permanent slots created and advanced, member slots kept, unknown dropped", () => {
  const fields = { role: "replica" as const, permanent: ["keep", "old"], advance: { keep: 5000, old: 500 } };
  const existing = [
    slot("keep", { restartLsn: 1000 }),
    slot("old", { restartLsn: 1000 }),
    slot("pg1"),
    slot("x"),
  ];
  assert.deepEqual(planSlotSync(existing, ["pg1", "pg3"], fields, "pg2"), [
    { op: "drop", name: "x", why: "unknown replication slot" },
    { op: "advance", name: "keep", lsn: 5000 },
  ], "pg1 kept as it is, pg3 not created, old not moved back");
  // Not advanced: active, with xmin feedback; created when missing; dropped (to be re-created) without restart_lsn.
  assert.deepEqual(planSlotSync([slot("keep", { active: true })], [], fields, "pg2"), [{
    op: "create",
    name: "old",
  }]);
  assert.deepEqual(planSlotSync([slot("keep", { xmin: "77" }), slot("old")], [], fields, "pg2"), []);
  assert.deepEqual(planSlotSync([slot("keep", { restartLsn: null }), slot("old")], [], fields, "pg2"), [
    { op: "drop", name: "keep", why: "no restart_lsn, so it cannot be advanced" },
    { op: "create", name: "keep" },
  ]);
  const ignored = { role: "replica" as const, ignore: [{ name: "ext" }] };
  assert.deepEqual(planSlotSync([slot("ext", { type: "logical" })], [], ignored, "pg2"), []);
});

Deno.test("statusSlots(): permanent slots' positions and the leader's own slot name at its WAL position", () => {
  assert.deepEqual(statusSlots(["keep", "gone"], { keep: 300, pg2: 400 }, "pg1", 900), {
    keep: 300,
    pg1: 900,
  });
  assert.deepEqual(statusSlots([], { keep: 300 }, "pg1", 900), {}, "nothing without permanent slots");
});

Deno.test("slotSyncFields(): a nofailover member keeps no permanent slot; a replica advances to the published ones", () => {
  const s = { permanentSlots: ["keep"], ignoreSlots: [{ name: "x" }] };
  assert.deepEqual(slotSyncFields(s, "replica", false, { keep: 7, pg1: 9 }), {
    permanent: ["keep"],
    ignore: [{ name: "x" }],
    role: "replica",
    advance: { keep: 7 },
  });
  assert.deepEqual(slotSyncFields(s, "primary", true, {}), { ignore: [{ name: "x" }] });
});

Deno.test("decide(): the leader keeps permanent slots and publishes their positions; a replica keeps them too", () => {
  const dynamic = { ...DYNAMIC_DEFAULTS, permanentSlots: ["keep"], ignoreSlots: [{ name: "ext" }] };
  // pg3's slot exists without a position (a new slot is published at once: retain_slots_test.ts).
  const primary = { ...PRIMARY, slots: ["keep", "pg2", "pg3"], slotPositions: { keep: 3000, pg2: 4000 } };
  const lead = decide(obs(primary, view()), INITIAL_MEMORY, ctx("pg1", { dynamic }));
  assert.deepEqual(lead.actions.find((a) => a.type === "sync_slots"), {
    type: "sync_slots",
    slots: ["pg2", "pg3"],
    permanent: ["keep"],
    ignore: [{ name: "ext" }],
  });
  assert.deepEqual(lead.actions.find((a) => a.type === "write_status"), {
    type: "write_status",
    optime: 5000,
    slots: { keep: 3000, pg1: 5000, pg2: 4000 },
    retainSlots: ["pg1", "pg2"],
  }, "with member_slots_ttl above 0 the member slots' positions too, as Patroni 4 writes them");
  const published = view({ status: { optime: 5000, slots: { keep: 3000, pg1: 5000 }, retainSlots: [] } });
  const rep = decide(obs(pgState(), published), INITIAL_MEMORY, ctx("pg2", { dynamic }));
  assert.deepEqual(
    rep.actions.find((a) => a.type === "sync_slots"),
    {
      type: "sync_slots",
      slots: ["pg1", "pg3"],
      permanent: ["keep"],
      ignore: [{ name: "ext" }],
      role: "replica",
      advance: { keep: 3000 },
      memberCreate: ["pg1", "pg3"],
      memberInactive: { pg1: 5000, pg3: 0 },
    },
    "a slot for every other member (as Patroni 4 with member_slots_ttl above 0), not in use there: advanced",
  );
  const plain = decide(
    obs(pgState({ slots: ["pg1", "pg3"], slotPositions: { pg1: 5000, pg3: 1000 } }), published),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.equal(
    plain.actions.some((a) => a.type === "sync_slots"),
    false,
    "nothing to create or advance and no unknown slot",
  );
  const stray = decide(
    obs(pgState({ slots: ["pg1"], logicalSlots: ["cdc"] }), published),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(stray.actions.find((a) => a.type === "sync_slots"), {
    type: "sync_slots",
    slots: ["pg1", "pg3"],
    role: "replica",
    memberCreate: ["pg1", "pg3"],
    memberInactive: { pg1: 5000, pg3: 0 },
  }, "an unknown (logical) slot on a replica is dropped there, as Patroni does");
});

Deno.test("the key check accepts physical and logical permanent slots under every name", () => {
  assert.deepEqual(checkDynamicKeys({ slots: { keep: null, b: { type: "physical" } } }).refused, []);
  for (const key of ["slots", "permanent_slots", "permanent_replication_slots"]) {
    const doc = { [key]: { keep: null, cdc: { database: "app", plugin: "pgoutput" } } };
    assert.deepEqual(checkDynamicKeys(doc).refused, [], key);
  }
  assert.deepEqual(checkDynamicKeys({ ignore_slots: [{ name: "x" }] }).refused, []);
  const read = normalizeDynamic({
    slots: { keep: null, cdc: { type: "logical", database: "a", plugin: "p" } },
  });
  assert.deepEqual(read.settings.permanentSlots, ["keep"]);
  assert.deepEqual(read.settings.logicalSlots, [{ name: "cdc", database: "a", plugin: "p" }]);
  assert.deepEqual(read.warnings, []);
});
