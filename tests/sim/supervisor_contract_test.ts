/**
 * Contract: the simulator's fencing supervisor model (supervisor.ts) speaks the real protocol. The real client
 * (src/host/fence_client.ts, started with a recorder in place of `hactl fence-supervisor`) and the simulated client
 * are given the same `arm(ms, from)` / `disarm()` calls on the same clock: they write the same lines, and the
 * simulated supervisor holds the deadline the real state machine (src/host/fence_supervisor.ts) derives from the
 * real client's lines, fires at once on a line read past its deadline (a thaw), and reports a frozen supervisor to
 * the agent (its loop wakes) within the real client's answer timeout and polling.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FENCE_ACK_TIMEOUT_MS, PING_EVERY_MS, startFenceSupervisor } from "../../src/host/fence_client.ts";
import { FenceSupervisor, parseFenceCommand } from "../../src/host/fence_supervisor.ts";
import { SimFenceClient, SimSupervisor } from "./supervisor.ts";

/** The calls both clients get, with the agent's clock reading at each. */
const CALLS: { now: number; call: (c: { arm(ms: number, from?: number): void; disarm(): void }) => void }[] =
  [
    { now: 1000, call: (c) => c.arm(8750, 1000) },
    { now: 2500.5, call: (c) => c.arm(8750) },
    { now: 3000, call: (c) => c.disarm() },
    { now: 4000, call: (c) => c.arm(3000.9, 4000.7) },
  ];

/** A stand-in supervisor that says it is ready, answers every line and records it. */
const RECORDER = `
const out = Deno.args[0];
const enc = new TextEncoder();
await Deno.stdout.write(enc.encode("ready 1\\n"));
let buf = "";
for await (const chunk of Deno.stdin.readable) {
  buf += new TextDecoder().decode(chunk);
  let nl;
  while ((nl = buf.indexOf("\\n")) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    await Deno.writeTextFile(out, line + "\\n", { append: true });
    await Deno.stdout.write(enc.encode("ok " + line + "\\n"));
  }
}`;

/** The lines the real client writes for CALLS (its idle pings left out), with the uptime clock = its clock. */
async function realLines(): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "hactl-fence-contract-" });
  try {
    await Deno.writeTextFile(`${dir}/recorder.ts`, RECORDER);
    let now = 0;
    const client = startFenceSupervisor({
      dataDir: `${dir}/data`,
      log: { info: () => {}, error: () => {} },
      command: [Deno.execPath(), "run", "--quiet", "--allow-all", `${dir}/recorder.ts`, `${dir}/lines`],
      now: () => now,
      uptimeMs: () => now,
    });
    try {
      assert.equal(await client.ready(30_000), true, "the recorder said it is ready");
      for (const c of CALLS) {
        now = c.now;
        c.call(client.channel);
      }
      const until = Date.now() + 10_000;
      for (;;) {
        const text = await Deno.readTextFile(`${dir}/lines`).catch(() => "");
        const lines = text.split("\n").filter((l) => l !== "" && l !== "ping");
        if (lines.length >= CALLS.length) return lines;
        if (Date.now() > until) throw new Error(`the recorder got ${JSON.stringify(lines)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await client.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A simulated supervisor and client on a hand-driven clock; timers of both run when `advance` passes them. */
function simulated() {
  let now = 0;
  const timers: { at: number; fn: () => void | Promise<void> }[] = [];
  const events: string[] = [];
  let stopped = 0;
  const sup = new SimSupervisor({
    now: () => now,
    at: (at, fn) => void timers.push({ at, fn }),
    stopPostgres: () => Promise.resolve(++stopped > 0),
    event: (t) => void events.push(t),
    changed: () => {},
  });
  const client = new SimFenceClient(sup, {
    now: () => now,
    after: (ms, fn) => void timers.push({ at: now + ms, fn }),
  });
  return {
    sup,
    client,
    events,
    stopped: () => stopped,
    set: (t: number) => void (now = t),
    async advance(to: number) {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > to) break;
        timers.shift();
        now = Math.max(now, next.at);
        await next.fn();
      }
      now = to;
    },
  };
}

Deno.test("contract: the simulated fencing client writes the real client's lines, and the supervisor holds their deadline", async () => {
  const real = await realLines();
  const sim = simulated();
  for (const c of CALLS) {
    sim.set(c.now);
    c.call(sim.client.channel);
  }
  assert.deepEqual(sim.sup.lines, real);
  assert.deepEqual(real, ["arm-until 9750", "arm-until 11250", "disarm", "arm-until 7001"]);
  // The deadline the real state machine derives from the real lines is the one the model holds.
  const machine = new FenceSupervisor({
    uptimeMs: () => 4000,
    readState: () => null,
    writeState: () => {},
    stopPostgres: () => Promise.resolve(""),
    log: () => {},
    alive: () => false,
    retire: () => {},
  }, 1);
  for (const line of real) machine.apply(parseFenceCommand(line)!);
  assert.equal(sim.sup.deadline, machine.deadline);
  assert.equal(sim.sup.requested, machine.deadline);
});

Deno.test("contract: a simulated supervisor thawed past an arm-until it read late fires at once; a frozen one wakes the agent in time", async () => {
  const sim = simulated();
  let woken: { at: number; why: string } | null = null;
  let clock = 0;
  sim.client.whenUnusable((why) => void (woken ??= { at: clock, why }));
  const tick = async (to: number) => {
    await sim.advance(to);
    clock = to;
  };
  await tick(1000);
  sim.sup.freeze();
  sim.client.channel.arm(3000, 1000); // the deadline 4000, sent while it is frozen
  await tick(5000);
  assert.equal(sim.stopped(), 0, "a frozen supervisor does not act");
  assert.ok(woken !== null, "the agent was told before the thaw");
  const noticed = woken as { at: number; why: string };
  assert.match(noticed.why, /has not answered for/);
  // The real client polls every quarter ping interval: it notices within that after the answer timeout.
  assert.ok(noticed.at <= 1000 + FENCE_ACK_TIMEOUT_MS + PING_EVERY_MS / 4 + 1, `noticed at ${noticed.at}`);
  sim.sup.thaw();
  await tick(5000);
  assert.equal(sim.stopped(), 1, "the deadline read at the thaw had passed: it fired at once");
  assert.match(sim.events.join("\n"), /deadline passed without a renewal/);
});
