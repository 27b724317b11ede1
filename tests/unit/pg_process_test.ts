/**
 * The stop's safe point classification (src/pg/process.ts): which postmaster children never run a client's SQL,
 * judged from their process titles as `/proc/<pid>/cmdline` shows them (with and without `cluster_name`).
 */
import assert from "node:assert/strict";
import { isNonClientProcess } from "../../src/pg/process.ts";

Deno.test("isNonClientProcess: auxiliary processes and walsenders, not client backends or workers", () => {
  for (
    const title of [
      "postgres: checkpointer ",
      "postgres: background writer \0",
      "postgres: walwriter ",
      "postgres: walsender replicator 127.0.0.1(40512) streaming 0/3000148",
      "postgres: main: checkpointer ",
      "postgres: archiver last was 000000010000000000000002",
      "postgres: autovacuum launcher ",
      "postgres: startup recovering 000000010000000000000003",
    ]
  ) assert.ok(isNonClientProcess(title), title);
  for (
    const title of [
      "postgres: postgres postgres [local] idle",
      "postgres: app appdb 10.0.0.5(51234) INSERT",
      "postgres: main: app appdb 10.0.0.5(51234) idle in transaction",
      "postgres: logical replication launcher ",
      "postgres: autovacuum worker appdb",
      "postgres: checkpointerx db [local] idle",
    ]
  ) assert.ok(!isNonClientProcess(title), title);
});
