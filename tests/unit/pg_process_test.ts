/**
 * The stop's safe point classification (src/pg/process.ts): which postmaster children never run a client's SQL,
 * judged from their process titles as `/proc/<pid>/cmdline` shows them (with and without `cluster_name`); and the
 * REST API's per-request check that the postmaster named by `postmaster.pid` still runs.
 */
import assert from "node:assert/strict";
import { isNonClientProcess, postmasterAliveSync } from "../../src/pg/process.ts";

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

Deno.test("postmasterAliveSync(): a live postgres process named by postmaster.pid; not a zombie, another program or no file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-pm-alive-" });
  // A process whose name is `postgres` (a copy of sleep), as the postmaster's is.
  await Deno.copyFile("/bin/sleep", `${dir}/postgres`);
  await Deno.chmod(`${dir}/postgres`, 0o755);
  const child = new Deno.Command(`${dir}/postgres`, { args: ["60"] }).spawn();
  try {
    assert.equal(postmasterAliveSync(dir), false, "no postmaster.pid");
    await Deno.writeTextFile(`${dir}/postmaster.pid`, `${Deno.pid}\n${dir}\n`);
    assert.equal(postmasterAliveSync(dir), false, "a live process that is not postgres");
    await Deno.writeTextFile(`${dir}/postmaster.pid`, `${child.pid}\n${dir}\n`);
    assert.equal(postmasterAliveSync(dir), true);
    child.kill("SIGKILL");
    // Killed and not reaped yet (a zombie), then reaped: not alive either way.
    const deadline = Date.now() + 5000;
    while (postmasterAliveSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(postmasterAliveSync(dir), false);
    await child.status;
    assert.equal(postmasterAliveSync(dir), false);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
