/**
 * `postgresql.pg_ident` of the dynamic configuration: read by `normalizeDynamic`, written to `pg_ident.conf` when
 * the local file sets none (the local `postgresql.pg_ident` wins), as the dynamic `pg_hba` is.
 *
 * @module
 */
import assert from "node:assert/strict";
import { normalizeDynamic } from "../../src/config/config.ts";
import { writeConfig } from "../../src/pg/config_files.ts";
import { PgInstance } from "../../src/pg/instance.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const DYNAMIC = ["map1 os_alice db_alice", "map1 os_bob db_bob"];

Deno.test("normalizeDynamic() reads postgresql.pg_ident of the dynamic configuration", () => {
  assert.deepEqual(normalizeDynamic({ postgresql: { pg_ident: DYNAMIC } }).settings.pgIdent, DYNAMIC);
  assert.equal(normalizeDynamic({}).settings.pgIdent, undefined);
  const bad = normalizeDynamic({ postgresql: { pg_ident: "map1 a b" } });
  assert.equal(bad.settings.pgIdent, undefined);
  assert.match(bad.warnings.join("\n"), /postgresql\.pg_ident: .* is not a list of lines/);
});

Deno.test("pg_ident.conf holds the dynamic pg_ident lines unless the local file sets its own", async () => {
  await withTempDir("hactl-ident-", async (dir) => {
    const config = makeTestConfig({ name: "pg1", dataDir: `${dir}/data`, pgPort: 5432, apiPort: 8008 });
    await Deno.mkdir(`${dir}/data`);
    const inst = new PgInstance(config, () => ({}), () => true, () => undefined, () => DYNAMIC);
    await writeConfig(inst, "primary", null);
    const text = await Deno.readTextFile(`${dir}/data/pg_ident.conf`);
    assert.deepEqual(text.split("\n").filter((l) => l && !l.startsWith("#")), DYNAMIC);
    inst.config = { ...config, postgresql: { ...config.postgresql, pgIdent: ["map2 x y"] } };
    await writeConfig(inst, "primary", null);
    const local = await Deno.readTextFile(`${dir}/data/pg_ident.conf`);
    assert.deepEqual(local.split("\n").filter((l) => l && !l.startsWith("#")), ["map2 x y"]);
  });
});
