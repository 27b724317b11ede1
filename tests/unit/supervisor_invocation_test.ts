/**
 * How the agent starts its fencing supervisor under `deno run`: from the supervisor's own module with no
 * deno.json, not through main.ts (whose start-up would have Deno read and analyse the agent's whole module graph
 * and the npm lockfile first, several MB resident in a process that uses none of it), and still named
 * `fence-supervisor` on its command line, which is how a supervisor recognises the one it retires.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startFenceSupervisor, supervisorInvocation } from "../../src/host/fence_client.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const quiet = { info: () => {}, error: () => {} };

Deno.test("under deno run the supervisor runs its own module with no deno.json, named fence-supervisor", async () => {
  await withTempDir("hactl-fence-invocation-", async (dir) => {
    const supervisor = startFenceSupervisor({ dataDir: `${dir}/data`, log: quiet });
    try {
      assert.equal(await supervisor.ready(60_000), true, "the supervisor said it is ready");
      const pid = supervisor.status().pid!;
      const argv = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").filter((a) => a !== "");
      assert.ok(argv.includes(`${REPO}cli/fence_supervisor.ts`), argv.join(" "));
      assert.ok(!argv.some((a) => a.endsWith("main.ts")), `started through main.ts: ${argv.join(" ")}`);
      assert.ok(argv.includes("--no-config"), argv.join(" "));
      assert.deepEqual(argv.slice(-3), ["fence-supervisor", "--data-dir", `${dir}/data`]);
      supervisor.channel.arm(60_000);
      supervisor.channel.disarm();
      const end = Date.now() + 10_000;
      while (supervisor.status().unanswered > 0 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(supervisor.status().unanswered, 0, "arm and disarm acknowledged");
    } finally {
      await supervisor.close();
    }
  });
});

Deno.test("the supervisor's module graph is local files reached by relative path: it needs no deno.json", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", `${REPO}cli/fence_supervisor.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; kind: string; error?: string }[];
  };
  const files = info.modules.map((m) =>
    `${m.kind} ${m.specifier.replace(`file://${REPO}`, "")}${m.error ?? ""}`
  );
  assert.deepEqual(files.sort(), [
    "esm cli/fence_supervisor.ts",
    "esm cli/lib/io.ts",
    "esm src/host/fence_supervisor.ts",
  ]);
  assert.equal(supervisorInvocation().includes("--no-config"), !Deno.build.standalone);
});
