/**
 * The operator's scripts (custom bootstrap and replica methods, pre_promote, before_stop) run in the agent's working
 * directory, as Patroni's inherit Patroni's: a command with a relative path (Patroni's acceptance suite runs
 * `python3 features/backup_create.py` from its source tree) resolves there. They used to run in `/`.
 *
 * The working directory is the process's own, so the code under test runs in a child process (`deno eval`) started
 * in a directory of the test's: changing the test runner's directory would leak into every test sharing it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withTempDir } from "../helpers/temp_dir.ts";

/** What `scriptCwd()` returns and what `runScript(command)` gives, in a process whose working directory is `cwd`. */
async function scriptInDir(
  cwd: string,
  command: string,
): Promise<{ scriptCwd: string; code: number | null; output: string }> {
  const mod = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const code = `import { runScript } from ${mod("../../src/pg/hooks.ts")};
import { scriptCwd } from ${mod("../../src/pg/process.ts")};
const r = await runScript(${JSON.stringify(command)}, 10_000);
console.log(JSON.stringify({ scriptCwd: scriptCwd(), code: r.code, output: r.output }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../../deno.json", import.meta.url).pathname, code],
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout));
}

Deno.test("scripts run in the agent's working directory; a relative path in the command resolves there", async () => {
  await withTempDir("hactl-cwd-", async (dir) => {
    await Deno.mkdir(`${dir}/features`);
    await Deno.writeTextFile(`${dir}/features/hello.sh`, "pwd\n");
    const r = await scriptInDir(dir, "/bin/sh features/hello.sh");
    assert.equal(r.scriptCwd, Deno.realPathSync(dir));
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output.trim(), Deno.realPathSync(dir));
  });
});
