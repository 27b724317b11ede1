/**
 * `postgresql.bin_name` (src/pg/instance.ts, src/pg/process.ts): the adapter runs each Postgres program under the
 * name the configuration gives it, in `bin_dir`, and without `bin_dir` finds the directory by pg_ctl's configured
 * name on PATH.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PgInstance } from "../../src/pg/instance.ts";
import { resolveBinDir } from "../../src/pg/process.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function instance(dir: string, binName: Record<string, string>): PgInstance {
  const config = makeTestConfig({ name: "pg1", dataDir: `${dir}/data`, pgPort: 5432, apiPort: 8008 });
  config.postgresql = { ...config.postgresql, binDir: `${dir}/bin`, binName };
  return new PgInstance(config, () => ({}), () => true);
}

Deno.test("the adapter runs pg_controldata under the name postgresql.bin_name gives it", async () => {
  await withTempDir("hactl-binname-", async (dir) => {
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(
      `${dir}/bin/controldata.wrapper`,
      "#!/bin/sh\necho 'Database system identifier:           7400000000000000042'\n",
      { mode: 0o755 },
    );
    const inst = instance(dir, { pg_controldata: "controldata.wrapper" });
    assert.equal(await inst.bin("pg_controldata"), `${dir}/bin/controldata.wrapper`);
    assert.equal(await inst.bin("initdb"), `${dir}/bin/initdb`, "a program it does not name keeps its name");
    assert.equal(await inst.systemIdentifier(), "7400000000000000042");
  });
});

Deno.test("without bin_dir, the directory is the one on PATH holding pg_ctl under its configured name", async () => {
  await withTempDir("hactl-binname-", async (dir) => {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.writeTextFile(`${dir}/a/pg_ctl`, "", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/b/pg_ctl.wrapper`, "", { mode: 0o755 });
    const path = `${dir}/a:${dir}/b`;
    assert.equal(await resolveBinDir("", path), `${dir}/a`);
    assert.equal(await resolveBinDir("", path, "pg_ctl.wrapper"), `${dir}/b`);
  });
});
