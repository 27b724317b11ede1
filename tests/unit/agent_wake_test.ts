/**
 * The loop's wait between cycles ends as soon as the agent is woken: a finished job (initdb, pg_basebackup) or
 * `stop()` is acted on at once, not when the current wait slice (up to 1 s) or loop_wait runs out. The DCS here
 * waits for a change for as long as it is asked and only returns early when the agent aborts the wait.
 */
import assert from "node:assert/strict";
import { MemoryDcs } from "../fakes/memory_dcs.ts";
import { fakeMember, testAgent } from "../helpers/agent_fixture.ts";

/** A DCS whose watch stays silent: `waitForChange` resolves only when its signal is aborted (or after a minute). */
class SilentDcs extends MemoryDcs {
  waiting = 0;
  override waitForChange(_timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    this.waiting++;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiting--;
        resolve(false);
      };
      const t = setTimeout(done, 60_000);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("Agent loop: a finished job and stop() end the wait between cycles at once", async () => {
  const { clock, world, dcs, pg } = fakeMember({
    durations: { bootstrap: 500 },
    makeDcs: (etcd, pg1) => new SilentDcs(etcd, pg1),
  });
  const reasons: string[] = [];
  const agent = testAgent(clock, {
    dcs,
    pg,
    log: { cycle: (r) => void reasons.push(r), info: () => {}, warn: () => {}, error: () => {} },
  });
  const running = agent.run();
  // First cycle: this member wins the initialize race and starts initdb as a job; the loop then waits.
  await until("the loop to wait while initdb runs", () => world.hasPendingOps("pg1") && dcs.waiting === 1);
  const cyclesBefore = reasons.length;
  // initdb finishes well inside loop_wait (virtual time stays far from the 10 s deadline).
  clock.now = 500;
  assert.deepEqual(world.fireDue(), ["pg1"]);
  await until("the next cycle after initdb finished", () => reasons.length > cyclesBefore);
  await until("the loop to wait again", () => dcs.waiting === 1);
  // stop() ends the wait too: run() returns without the watch ever firing.
  agent.stop();
  await running;
  assert.equal(dcs.waiting, 0);
  await agent.settleJobs();
});
