/**
 * The pure parts of `hactl edit-config`: Patroni's `patch_config` merge, `-s`/`-p` dotted paths, and the
 * unified diff, checked against output produced by Python's `difflib.unified_diff` (the expected lines below
 * were printed by CPython 3 for the same inputs).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  applyKeyValues,
  EditError,
  jsonEqual,
  patchConfigDoc,
  pyStr,
  unifiedDiff,
} from "../../src/config/edit.ts";

Deno.test("patchConfigDoc(): null deletes, objects merge, other values replace when their str() differs", () => {
  const config: Record<string, unknown> = {
    ttl: 30,
    loop_wait: "10",
    postgresql: { parameters: { max_connections: 100, work_mem: "4MB" }, use_slots: true },
    tags: "x",
  };
  const changed = patchConfigDoc(config, {
    ttl: null,
    loop_wait: 10, // str(10) == str("10"): kept as it was
    postgresql: { parameters: { work_mem: "8MB", wal_level: "logical" } },
    tags: { a: 1 }, // an object replaces a non-object
    pause: true,
  });
  assert.equal(changed, true);
  assert.deepEqual(config, {
    loop_wait: "10",
    postgresql: {
      parameters: { max_connections: 100, work_mem: "8MB", wal_level: "logical" },
      use_slots: true,
    },
    tags: { a: 1 },
    pause: true,
  });
  assert.equal(patchConfigDoc(config, { loop_wait: 10, missing: null }), false);
});

Deno.test("pyStr() writes values as Python's str() does", () => {
  assert.equal(pyStr(true), "True");
  assert.equal(pyStr(null), "None");
  assert.equal(pyStr([1, "a", false]), "[1, 'a', False]");
  assert.equal(pyStr({ a: "b" }), "{'a': 'b'}");
});

Deno.test("applyKeyValues(): dotted paths, YAML values, null removes and empty parents go, GUCs keep their dots", () => {
  const base = { loop_wait: 10, postgresql: { parameters: { work_mem: "4MB" }, use_pg_rewind: true } };
  const out = applyKeyValues(base, [
    "loop_wait=5",
    "synchronous_mode=on", // YAML 1.1, as PyYAML: on is true
    "postgresql.parameters.auto_explain.log_min_duration=250ms",
    "postgresql.parameters.work_mem=null",
    "standby_cluster.host=10.0.0.9",
    "standby_cluster.port=5433",
    "postgresql.use_pg_rewind=",
  ]);
  assert.deepEqual(out, {
    loop_wait: 5,
    synchronous_mode: true,
    postgresql: { parameters: { "auto_explain.log_min_duration": "250ms" } },
    standby_cluster: { host: "10.0.0.9", port: 5433 },
  });
  assert.deepEqual(base.postgresql.parameters, { work_mem: "4MB" }, "the input is not modified");
  assert.deepEqual(applyKeyValues({ a: { b: 1 } }, ["a.b=null"]), {});
  assert.throws(
    () => applyKeyValues({}, ["loop_wait"]),
    (e) => e instanceof EditError && /Invalid parameter setting loop_wait/.test(e.message),
  );
});

Deno.test("jsonEqual() ignores key order and compares deeply", () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(!jsonEqual({ a: 1 }, { a: "1" }));
  assert.ok(!jsonEqual([1], [1, 2]));
});

const DIFF_CASES: [string, string, string[]][] = [
  ["a\nb\nc\n", "a\nB\nc\n", ["--- ", "+++ ", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]],
  [
    "loop_wait: 10\nmaximum_lag_on_failover: 1048576\npostgresql:\n  parameters:\n    max_connections: 50\n    shared_buffers: 32MB\n  use_pg_rewind: true\n  use_slots: true\nretry_timeout: 10\nttl: 30\n",
    "loop_wait: 5\nmaximum_lag_on_failover: 1048576\npostgresql:\n  parameters:\n    max_connections: 50\n    shared_buffers: 32MB\n    work_mem: 8MB\n  use_pg_rewind: true\n  use_slots: true\nretry_timeout: 10\nttl: 30\n",
    [
      "--- ",
      "+++ ",
      "@@ -1,9 +1,10 @@",
      "-loop_wait: 10",
      "+loop_wait: 5",
      " maximum_lag_on_failover: 1048576",
      " postgresql:",
      "   parameters:",
      "     max_connections: 50",
      "     shared_buffers: 32MB",
      "+    work_mem: 8MB",
      "   use_pg_rewind: true",
      "   use_slots: true",
      " retry_timeout: 10",
    ],
  ],
  [
    Array.from({ length: 30 }, (_, i) => String(i)).join("\n"),
    Array.from({ length: 30 }, (_, i) => String(i)).filter((x) => x !== "3" && x !== "20").join("\n") + "\nx",
    [
      "--- ",
      "+++ ",
      "@@ -1,7 +1,6 @@",
      " 0",
      " 1",
      " 2",
      "-3",
      " 4",
      " 5",
      " 6",
      "@@ -18,7 +17,6 @@",
      " 17",
      " 18",
      " 19",
      "-20",
      " 21",
      " 22",
      " 23",
      "@@ -28,3 +26,4 @@",
      " 27",
      " 28",
      " 29",
      "+x",
    ],
  ],
  ["{}\n", "ttl: 30\n", ["--- ", "+++ ", "@@ -1 +1 @@", "-{}", "+ttl: 30"]],
  ["a\nb\na\nb\na\n", "b\na\nb\n", ["--- ", "+++ ", "@@ -1,5 +1,3 @@", "-a", " b", " a", " b", "-a"]],
];

Deno.test("unifiedDiff() prints what Python's difflib.unified_diff prints", () => {
  for (const [before, after, expected] of DIFF_CASES) assert.deepEqual(unifiedDiff(before, after), expected);
  assert.deepEqual(unifiedDiff("a\n", "a\n"), []);
});
