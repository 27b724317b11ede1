/**
 * Specification of `src/host/fence_client.ts`: the agent starts `hactl fence-supervisor` for its data directory
 * (under `deno run`, the repository's main.ts) and arms and disarms it through its stdin.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startFenceSupervisor } from "../../src/host/fence_client.ts";

Deno.test("startFenceSupervisor() runs the supervisor for the data directory; arm and disarm reach it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-fence-client-" });
  try {
    const dataDir = `${dir}/data`;
    const warnings: string[] = [];
    const supervisor = startFenceSupervisor(dataDir, (m) => warnings.push(m));
    supervisor.channel.arm(60_000);
    supervisor.channel.disarm();
    // Closing stdin lets a disarmed supervisor exit; the deadline file shows it read both lines.
    await supervisor.close();
    assert.deepEqual(warnings, []);
    const state = JSON.parse(await Deno.readTextFile(`${dataDir}.hactl-fence`));
    assert.equal(typeof state.pid, "number");
    assert.equal(state.deadlineUptimeMs, null, `disarmed: ${JSON.stringify(state)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
