/**
 * `postgresql.bin_name.postgres`: the postmaster runs under that program's name, and hactl still knows it for
 * its postmaster (the observation, the REST API's liveness check, the stop's safe point).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfigWithWarnings } from "../../src/config/config.ts";
import { isPostmasterName, postmasterAliveSync, postmasterPid } from "../../src/pg/process.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";

Deno.test("isPostmasterName(): postgres, postmaster, or bin_name.postgres as the kernel keeps it (15 chars)", () => {
  assert.ok(isPostmasterName("postgres"));
  assert.ok(isPostmasterName("postmaster"));
  assert.ok(!isPostmasterName("pg-custom"));
  assert.ok(isPostmasterName("pg-custom", ["pg-custom"]));
  assert.ok(isPostmasterName("postgres-wrappe", ["postgres-wrapped-15"]));
  assert.ok(!isPostmasterName("sleep", ["pg-custom"]));
});

Deno.test("postgresql.bin_name.postgres is read, not refused", () => {
  const yaml = MINIMAL + "  bin_name: {postgres: pg-custom}\n";
  const { config, warnings } = parseConfigWithWarnings(yaml, "f.yml", {});
  assert.deepEqual(warnings.filter((w) => w.includes("bin_name")), []);
  assert.equal(config.postgresql.binName?.["postgres"], "pg-custom");
});

Deno.test("a postmaster running under bin_name.postgres is known by that name only when it is configured", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-bin-name-" });
  // A process named `pg-custom` (a copy of sleep) in the data directory, named by postmaster.pid.
  await Deno.copyFile("/bin/sleep", `${dir}/pg-custom`);
  await Deno.chmod(`${dir}/pg-custom`, 0o755);
  const child = new Deno.Command(`${dir}/pg-custom`, { args: ["60"], cwd: dir }).spawn();
  try {
    await Deno.writeTextFile(`${dir}/postmaster.pid`, `${child.pid}\n${dir}\n`);
    assert.equal(postmasterAliveSync(dir), false);
    assert.equal(await postmasterPid(dir), null);
    assert.equal(postmasterAliveSync(dir, ["pg-custom"]), true);
    assert.equal(await postmasterPid(dir, ["pg-custom"]), child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
