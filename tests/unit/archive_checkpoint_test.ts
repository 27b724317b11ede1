/** The archive command of a demote-cluster is filled and chosen as Patroni fills and chooses it. */
import assert from "node:assert/strict";
import { archiveCommandInEffect, archiverCommand } from "../../src/pg/archive_checkpoint.ts";

Deno.test("archiverCommand() fills %p, %f, %r and %%, and keeps any other %", () => {
  assert.equal(
    archiverCommand("cp %p /arch/%f && echo %r 100%% %x %", "/d/pg_wal", "000000020000000000000008"),
    "cp /d/pg_wal/000000020000000000000008 /arch/000000020000000000000008 && echo 000000010000000000000001 " +
      "100% %x %",
  );
});

Deno.test("archiveCommandInEffect() needs archive_mode on or always and a command", () => {
  assert.equal(archiveCommandInEffect({ archive_mode: "on", archive_command: "cp %p /a/%f" }), "cp %p /a/%f");
  assert.equal(archiveCommandInEffect({ archive_mode: "always", archive_command: "x" }), "x");
  assert.equal(archiveCommandInEffect({ archive_mode: "off", archive_command: "x" }), null);
  assert.equal(archiveCommandInEffect({ archive_mode: "on", archive_command: "" }), null);
  assert.equal(archiveCommandInEffect({ archive_command: "x" }), null);
});
