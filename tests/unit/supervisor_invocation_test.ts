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

Deno.test("a supervisor started as the agent starts it adopts the deadline of an older one and retires it", async () => {
  await withTempDir("hactl-fence-adopt-", async (dir) => {
    const dataDir = `${dir}/data`;
    const [exe, ...args] = supervisorInvocation();
    const old = new Deno.Command(exe!, {
      args: [...args, "--data-dir", dataDir],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = old.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const writer = old.stdin.getWriter();
    let seen = "";
    const until = async (what: string) => {
      const end = Date.now() + 30_000;
      while (!seen.includes(what)) {
        if (Date.now() > end) throw new Error(`no '${what}' from the old supervisor: ${seen}`);
        const r = await lines.read();
        if (r.done) break;
        seen += r.value;
      }
    };
    await until("ready");
    await writer.write(new TextEncoder().encode("arm 60000\n"));
    await until("ok arm");
    const supervisor = startFenceSupervisor({ dataDir, log: quiet });
    try {
      assert.equal(await supervisor.ready(60_000), true, "the new supervisor said it is ready");
      const exited = await Promise.race([
        old.status.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
      ]);
      assert.equal(exited, true, "the old supervisor was retired");
      const state = JSON.parse(await Deno.readTextFile(`${dataDir}.hactl-fence`));
      assert.equal(state.pid, supervisor.status().pid);
      assert.equal(typeof state.deadlineUptimeMs, "number", `adopted: ${JSON.stringify(state)}`);
    } finally {
      supervisor.channel.disarm();
      const end = Date.now() + 10_000;
      while (supervisor.status().unanswered > 0 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await supervisor.close();
      await writer.close().catch(() => {});
      await lines.cancel().catch(() => {});
      try {
        old.kill("SIGKILL");
      } catch { /* retired */ }
      await old.status;
    }
  });
});
