/**
 * The operator's scripts (custom bootstrap and replica methods, pre_promote, before_stop) run in the agent's working
 * directory, as Patroni's inherit Patroni's: a command with a relative path (Patroni's acceptance suite runs
 * `python3 features/backup_create.py` from its source tree) resolves there. They used to run in `/`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runScript } from "../../src/pg/hooks.ts";
import { scriptCwd } from "../../src/pg/process.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

Deno.test("scripts run in the agent's working directory; a relative path in the command resolves there", async () => {
  const before = Deno.cwd();
  await withTempDir("hactl-cwd-", async (dir) => {
    await Deno.mkdir(`${dir}/features`);
    await Deno.writeTextFile(`${dir}/features/hello.sh`, "pwd\n");
    try {
      Deno.chdir(dir);
      assert.equal(scriptCwd(), Deno.realPathSync(dir));
      const r = await runScript("/bin/sh features/hello.sh", 10_000);
      assert.equal(r.code, 0, r.output);
      assert.equal(r.output.trim(), Deno.realPathSync(dir));
    } finally {
      Deno.chdir(before);
    }
  });
});
