/**
 * Permanent logical slots (src/core/logical_slots.ts, src/core/slot_rules.ts) as Patroni handles them on
 * PostgreSQL 11 to 16: reading an entry, which members keep copies, what the primary creates and drops, how a
 * replica advances its copies (never past its replay position) and which ones it copies, what the leader publishes
 * in `status`, and how decide() asks for it (a copy is installed by a restart of the replica).
 *
 * @module
 */
import { enforcesHotStandbyFeedback } from "../../src/core/hot_standby_feedback.ts";
import assert from "node:assert/strict";
import {
  logicalSlotsFor,
  logicalSlotSpec,
  logicalSlotsToCopy,
  planLogicalSlots,
} from "../../src/core/logical_slots.ts";
import { type ExistingSlot, planSlotSync, slotSyncFields, statusSlots } from "../../src/core/slot_rules.ts";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS, normalizeDynamic } from "../../src/config/config.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, member, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

const CDC = { name: "cdc", database: "app", plugin: "test_decoding" };

function logical(name: string, over: Partial<ExistingSlot> = {}): ExistingSlot {
  return {
    name,
    type: "logical",
    active: false,
    restartLsn: 900,
    xmin: null,
    database: "app",
    plugin: "test_decoding",
    walStatus: "reserved",
    failover: false,
    confirmedFlush: 1000,
    ...over,
  };
}

Deno.test("logicalSlotSpec(): a logical entry needs both database and plugin, as Patroni reads it", () => {
  assert.deepEqual(logicalSlotSpec("cdc", { database: "app", plugin: "pgoutput" }), {
    name: "cdc",
    database: "app",
    plugin: "pgoutput",
  });
  assert.match(logicalSlotSpec("cdc", { type: "logical", database: "app" }) as string, /needs both/);
  assert.match(logicalSlotSpec("cdc", "x") as string, /bad value/);
  const read = normalizeDynamic({
    slots: { keep: null, cdc: { type: "logical", database: "app", plugin: "p" }, half: { type: "logical" } },
  });
  assert.deepEqual(read.settings.permanentSlots, ["keep"]);
  assert.deepEqual(read.settings.logicalSlots, [{ name: "cdc", database: "app", plugin: "p" }]);
  assert.ok(read.warnings.some((w) => /slots: half: a logical slot needs both/.test(w)));
});

Deno.test("logicalSlotsFor(): none for a nofailover or nostream member, none of a member slot's name", () => {
  const specs = [CDC, { ...CDC, name: "pg2" }];
  assert.deepEqual(logicalSlotsFor(specs, {}, ["pg2"]), [CDC]);
  assert.deepEqual(logicalSlotsFor(specs, { nofailover: true }, []), []);
  assert.deepEqual(logicalSlotsFor(specs, { nostream: true }, []), []);
  // Its own copies alone decide hot_standby_feedback before the cluster is read (src/core/hot_standby_feedback.ts).
  const own = (useSlots: boolean, logicalSlots: typeof specs, tags: Record<string, unknown>) =>
    enforcesHotStandbyFeedback(null, "pg2", tags, { useSlots, logicalSlots });
  assert.equal(own(true, [CDC], {}), true);
  assert.equal(own(false, [CDC], {}), false, "use_slots off: no slots at all");
  assert.equal(own(true, [CDC], { nofailover: true }), false);
  assert.equal(own(true, [], {}), false);
});

Deno.test("planLogicalSlots() on the primary: a missing slot is created, a changed one dropped and re-created", () => {
  assert.deepEqual(planLogicalSlots([], [CDC], false, {}, null), [
    { op: "create_logical", name: "cdc", database: "app", plugin: "test_decoding" },
  ]);
  assert.deepEqual(planLogicalSlots([logical("cdc")], [CDC], false, {}, null), [], "as wanted: left alone");
  const other = planLogicalSlots([logical("cdc", { plugin: "pgoutput" })], [CDC], false, {}, null);
  assert.deepEqual(other.map((o) => o.op), ["drop", "create_logical"]);
  const physical = planLogicalSlots(
    [logical("cdc", { type: "physical", database: null })],
    [CDC],
    false,
    {},
    null,
  );
  assert.deepEqual(physical.map((o) => o.op), ["drop", "create_logical"]);
  const lost = planLogicalSlots([logical("cdc", { walStatus: "lost" })], [CDC], false, {}, null);
  assert.deepEqual(lost.map((o) => o.op), ["drop", "create_logical"]);
  assert.deepEqual(
    planLogicalSlots([logical("cdc", { active: true, plugin: "pgoutput" })], [CDC], false, {}, null),
    [],
    "an active slot is never dropped (Postgres refuses; tried again next cycle)",
  );
});

Deno.test("planLogicalSlots() on a replica: a copy is advanced to the published position, never past replay", () => {
  assert.deepEqual(planLogicalSlots([logical("cdc")], [CDC], true, { cdc: 3000 }, 5000), [
    { op: "advance", name: "cdc", lsn: 3000, database: "app" },
  ]);
  assert.deepEqual(planLogicalSlots([logical("cdc")], [CDC], true, { cdc: 3000 }, 2000), [
    { op: "advance", name: "cdc", lsn: 2000, database: "app" },
  ], "a standby cannot decode past what it replayed");
  assert.deepEqual(planLogicalSlots([logical("cdc")], [CDC], true, { cdc: 800 }, 5000), [], "already ahead");
  assert.deepEqual(planLogicalSlots([logical("cdc")], [CDC], true, {}, 5000), [], "nothing published");
  assert.deepEqual(planLogicalSlots([], [CDC], true, { cdc: 3000 }, 5000), [], "a replica never creates one");
  const changed = planLogicalSlots([logical("cdc", { database: "other" })], [CDC], true, { cdc: 3000 }, 5000);
  assert.deepEqual(changed.map((o) => o.op), ["drop"], "dropped, to be copied again");
});

Deno.test("logicalSlotsToCopy(): the kept slots a replica lacks that the leader publishes a position for", () => {
  const specs = [CDC, { ...CDC, name: "other" }, { ...CDC, name: "new" }];
  assert.deepEqual(logicalSlotsToCopy(specs, ["other"], { cdc: 10, other: 10 }), ["cdc"]);
  assert.deepEqual(logicalSlotsToCopy(specs, [], {}), [], "not created on the primary yet");
});

Deno.test("planSlotSync(): a permanent logical slot is not dropped as unknown, on the primary or a replica", () => {
  const existing = [logical("cdc"), logical("stray")];
  const primary = planSlotSync(existing, ["pg2"], { logical: [CDC] }, "pg1");
  assert.deepEqual(primary, [
    { op: "drop", name: "stray", why: "unknown replication slot" },
    { op: "create", name: "pg2" },
  ]);
  const replica = planSlotSync(
    existing,
    ["pg1"],
    { logical: [CDC], role: "replica", advance: { cdc: 4000 } },
    "pg2",
    6000,
  );
  assert.deepEqual(replica, [
    { op: "drop", name: "stray", why: "unknown replication slot" },
    { op: "advance", name: "cdc", lsn: 4000, database: "app" },
  ]);
  assert.deepEqual(
    planSlotSync([logical("cdc")], [], { logical: [CDC], ignore: [{ name: "cdc" }] }, "pg1"),
    [],
    "an ignored slot is never touched",
  );
});

Deno.test("statusSlots() and slotSyncFields(): the leader publishes confirmed_flush_lsn; a replica advances to it", () => {
  assert.deepEqual(statusSlots([], { cdc: 3000, pg2: 10 }, "pg1", 5000, ["cdc"]), { cdc: 3000, pg1: 5000 });
  const s = { logicalSlots: [CDC] };
  assert.deepEqual(slotSyncFields(s, "replica", false, { cdc: 3000 }), {
    logical: [CDC],
    role: "replica",
    advance: { cdc: 3000 },
  });
  assert.deepEqual(slotSyncFields(s, "replica", false, { cdc: 3000 }, true), { role: "replica" }, "nostream");
  assert.deepEqual(slotSyncFields(s, "primary", false, {}, false, ["cdc"]), {}, "a member slot's name wins");
});

Deno.test("decide(): the leader creates and publishes a logical slot; a replica copies it with a restart", () => {
  const dynamic = { ...DYNAMIC_DEFAULTS, logicalSlots: [CDC] };
  // pg2's and pg3's slots exist already (their positions are not the point here).
  const primary = { ...PRIMARY, slots: ["pg2", "pg3"], slotPositions: { cdc: 3000 }, logicalSlots: ["cdc"] };
  const lead = decide(obs(primary, view()), INITIAL_MEMORY, ctx("pg1", { dynamic }));
  assert.deepEqual(lead.actions.find((a) => a.type === "sync_slots"), {
    type: "sync_slots",
    slots: ["pg2", "pg3"],
    logical: [CDC],
  });
  assert.deepEqual(lead.actions.find((a) => a.type === "write_status"), {
    type: "write_status",
    optime: 5000,
    slots: { cdc: 3000, pg1: 5000 },
    retainSlots: ["pg1"],
  });
  const published = view({ status: { optime: 5000, slots: { cdc: 3000, pg1: 5000 }, retainSlots: [] } });
  const copy = decide(obs(pgState(), published), INITIAL_MEMORY, ctx("pg2", { dynamic }));
  assert.match(copy.reason, /^Copying logical slots cdc from the primary/);
  const sync = copy.actions.find((a) => a.type === "sync_slots");
  assert.ok(sync && sync.type === "sync_slots");
  assert.deepEqual(sync.copy, ["cdc"]);
  assert.equal(sync.copyFrom?.name, "pg1");
  assert.deepEqual(copy.actions.at(-1), {
    type: "start_job",
    job: {
      kind: "restart",
      role: "replica",
      upstream: { name: "pg1", connUrl: member("pg1").data.conn_url },
    },
  }, "the copy is installed while Postgres is stopped: the restart comes after it in the same plan");
  const has = decide(
    obs(pgState({ logicalSlots: ["cdc"] }), published),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic }),
  );
  assert.equal(
    has.actions.some((a) => a.type === "start_job"),
    false,
    "a replica with the copy only advances it",
  );
  assert.deepEqual(has.actions.find((a) => a.type === "sync_slots"), {
    type: "sync_slots",
    slots: ["pg1", "pg3"],
    logical: [CDC],
    role: "replica",
    advance: { cdc: 3000 },
    memberCreate: ["pg1", "pg3"],
    memberInactive: { pg1: 5000, pg3: 0 },
  });
  const noFail = decide(
    obs(pgState(), published),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic, tags: { nofailover: true } }),
  );
  assert.equal(
    noFail.actions.some((a) => a.type === "start_job"),
    false,
    "a nofailover member keeps no copy",
  );
});
