/**
 * A custom bootstrap method creates the data directory itself, as Patroni leaves it to the method: hactl makes only
 * its parent (Patroni's acceptance suite's script copies a backup into a directory that must not exist yet).
 *
 * @module
 */
import assert from "node:assert/strict";
import { customBootstrap } from "../../src/pg/custom_bootstrap.ts";
import { PgInstance } from "../../src/pg/instance.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

Deno.test("customBootstrap() runs the method with no data directory made for it, only its parent", async () => {
  await withTempDir("hactl-custom-boot-", async (dir) => {
    const dataDir = `${dir}/nested/data`;
    const config = makeTestConfig({ name: "pg1", dataDir, pgPort: 5432, apiPort: 8008 });
    // The method records whether the directory was there and what it found, then creates nothing.
    const script = `test -d ${dir}/nested && test ! -e ${dataDir} && touch ${dir}/ran-without-data-dir`;
    config.bootstrap = {
      ...config.bootstrap,
      method: "copy",
      methodConfig: { command: `/bin/sh -c '${script}'`, no_params: true },
    };
    const inst = new PgInstance(config, () => ({}), () => true);
    await assert.rejects(customBootstrap(inst), /left no data directory/);
    await Deno.stat(`${dir}/ran-without-data-dir`);
  });
});
