/**
 * hot_standby_feedback enforced as Patroni does: on a replica with logical slot copies and on every member such a
 * replica streams from (src/core/hot_standby_feedback.ts; the Postgres adapter asks it when it writes
 * postgresql.conf).
 *
 * @module
 */
import assert from "node:assert/strict";
import { enforcesHotStandbyFeedback } from "../../src/core/hot_standby_feedback.ts";
import { member, view } from "../helpers/decide_inputs.ts";

const CDC = { name: "cdc", database: "postgres", plugin: "test_decoding" };
const SETTINGS = { useSlots: true, logicalSlots: [CDC] };

/** pg1 leads; pg2 (nofailover: it keeps no logical copies) streams from it; pg3 streams from pg2. */
const CHAIN = view({
  members: [
    member("pg1", { role: "primary" }),
    member("pg2", { tags: { nofailover: true } }),
    member("pg3", { tags: { replicatefrom: "pg2" } }),
  ],
});

Deno.test("enforcesHotStandbyFeedback(): a middle member that a replica with logical copies streams from", () => {
  assert.equal(enforcesHotStandbyFeedback(CHAIN, "pg3", {}, SETTINGS), true, "pg3 keeps copies");
  assert.equal(
    enforcesHotStandbyFeedback(CHAIN, "pg2", { nofailover: true }, SETTINGS),
    true,
    "pg2 keeps none, but pg3's feedback goes through it",
  );
  const direct = view({
    members: [member("pg1", { role: "primary" }), member("pg2", { tags: { nofailover: true } })],
  });
  assert.equal(
    enforcesHotStandbyFeedback(direct, "pg2", { nofailover: true }, SETTINGS),
    false,
    "no cascade",
  );
  assert.equal(
    enforcesHotStandbyFeedback(CHAIN, "pg2", { nofailover: true }, { useSlots: true }),
    false,
    "no slots",
  );
  assert.equal(enforcesHotStandbyFeedback(CHAIN, "pg3", {}, { ...SETTINGS, useSlots: false }), false);
  assert.equal(enforcesHotStandbyFeedback(CHAIN, "pg3", {}, { ...SETTINGS, standbyCluster: {} }), false);
  // Through a nostream member no feedback reaches the primary: neither it nor its cascade enforces it.
  const nostream = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2", { tags: { nostream: true } }),
      member("pg3", { tags: { replicatefrom: "pg2" } }),
    ],
  });
  assert.equal(enforcesHotStandbyFeedback(nostream, "pg2", { nostream: true }, SETTINGS), false);
  assert.equal(enforcesHotStandbyFeedback(nostream, "pg3", { replicatefrom: "pg2" }, SETTINGS), false);
  // A replicatefrom loop ends.
  const loop = view({
    members: [
      member("pg1", { role: "primary" }),
      member("pg2", { tags: { nofailover: true, replicatefrom: "pg3" } }),
      member("pg3", { tags: { nofailover: true, replicatefrom: "pg2" } }),
    ],
  });
  assert.equal(
    enforcesHotStandbyFeedback(loop, "pg2", { nofailover: true, replicatefrom: "pg3" }, SETTINGS),
    false,
  );
});

Deno.test("enforcesHotStandbyFeedback(): before etcd is read only the member's own logical copies count", () => {
  assert.equal(enforcesHotStandbyFeedback(null, "pg3", {}, SETTINGS), true);
  assert.equal(enforcesHotStandbyFeedback(null, "pg2", { nofailover: true }, SETTINGS), false);
  assert.equal(enforcesHotStandbyFeedback(null, "pg2", { nostream: true }, SETTINGS), false);
});
