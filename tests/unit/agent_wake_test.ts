/**
 * The loop's wait between cycles ends as soon as the agent is woken: a finished job (initdb, pg_basebackup) or
 * `stop()` is acted on at once, not when the current wait slice (up to 1 s) or loop_wait runs out. The DCS here
 * waits for a change for as long as it is asked and only returns early when the agent aborts the wait.
 */
import assert from "node:assert/strict";
import { Agent } from "../../src/shell/agent.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import type { PeerClient } from "../../src/core/ports.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { FakePostgres, FakePostgresWorld } from "../fakes/memory_pg.ts";

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
  const clock = { now: 0 };
  const etcd = new MemoryEtcd({ now: () => clock.now });
  const world = new FakePostgresWorld({ seed: 1, now: () => clock.now, durations: { bootstrap: 500 } });
  const dcs = new SilentDcs(etcd, { namespace: "/service/", scope: "t", name: "pg1", ttl: 30 });
  const pg = new FakePostgres(world, { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" });
  const reasons: string[] = [];
  const noPeers: PeerClient = { fetchStatuses: () => Promise.resolve([]) };
  const agent = new Agent({
    name: "pg1",
    scope: "t",
    tags: {},
    connUrl: "postgres://127.0.0.1:5432/postgres",
    apiUrl: "http://127.0.0.1:8008/patroni",
    bootstrapDcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
    dynamicFrom: (raw) => normalizeDynamic(raw ?? {}).settings,
    dcs,
    pg,
    peers: noPeers,
    clock: { now: () => clock.now, wallNow: () => 1_800_000_000_000 + clock.now, after: () => () => {} },
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
