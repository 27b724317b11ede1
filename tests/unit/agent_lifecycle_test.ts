/**
 * The loop shell's lifecycle and its watchdog, on the in-memory DCS and Postgres with the real `Watchdog` writing
 * the testing driver's protocol into a regular file: one keepalive per lease renewal, the magic close in pause
 * and at shutdown, a paused shutdown that leaves Postgres and the key alone, a required watchdog that cannot be
 * activated keeping the member from leading, and a fatal condition stopping the loop.
 */
import assert from "node:assert/strict";
import type { AgentLog, PeerClient } from "../../src/core/ports.ts";
import { TestingWatchdogDevice, Watchdog } from "../../src/host/watchdog.ts";
import { MemoryDcs } from "../fakes/memory_dcs.ts";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";

function member(
  opts: {
    mode: "automatic" | "required";
    devicePath: string;
    probe?: () => string | null;
    peers?: PeerClient;
  },
) {
  const { clock, etcd, dcs, pg } = fakeMember();
  const lines: string[] = [];
  const reasons: string[] = [];
  const log: AgentLog = {
    cycle: (r) => void reasons.push(r),
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
  };
  const watchdog = new Watchdog({
    config: { mode: opts.mode, device: opts.devicePath, safetyMargin: 5, driver: "testing" },
    device: new TestingWatchdogDevice(opts.devicePath),
    probe: opts.probe ?? (() => null),
    now: () => clock.now,
    log: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
  });
  const agent = testAgent(clock, { dcs, pg, log, watchdog, ...(opts.peers ? { peers: opts.peers } : {}) });
  const step = stepAgent(agent, clock, etcd);
  const setConfig = async (change: Record<string, unknown>) => {
    const view = await dcs.loadCluster();
    assert.ok(await dcs.setConfig({ ...view.config!.value, ...change }, view.config!.modRevision));
  };
  return { agent, dcs, etcd, pg, step, lines, reasons, watchdog, setConfig };
}

Deno.test("Agent pings the watchdog once per lease renewal, closes it in pause and reopens it on resume", async () => {
  const path = Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  try {
    const m = member({ mode: "automatic", devicePath: path });
    for (let i = 0; i < 6 && !m.agent.holdsLock(); i++) await m.step();
    assert.ok(m.agent.holdsLock(), m.reasons.join(" | "));
    assert.equal(Deno.readTextFileSync(path), "Ctimeout=25\n1", "activated with ttl 30 - 5 and pinged");
    for (let i = 0; i < 3; i++) await m.step();
    assert.equal(Deno.readTextFileSync(path), "Ctimeout=25\n1111", "one ping per renewal");
    // ttl 20 in the config key: the new timeout follows at the next keepalive.
    await m.setConfig({ ttl: 20 });
    await m.step();
    assert.equal(Deno.readTextFileSync(path), "Ctimeout=25\n11111Ctimeout=15\n");
    await m.setConfig({ pause: true });
    await m.step();
    assert.ok(Deno.readTextFileSync(path).endsWith("Ctimeout=15\nV"), "paused: magic close");
    assert.ok(!m.watchdog.running);
    await m.step();
    assert.ok(Deno.readTextFileSync(path).endsWith("V"), "no pings while paused");
    await m.setConfig({ pause: null });
    await m.step();
    assert.ok(Deno.readTextFileSync(path).endsWith("VCtimeout=15\n1"), "resumed: activated again");
    // Shutdown stops Postgres, then closes the watchdog and releases the key.
    assert.equal(await m.agent.shutdown(), true);
    assert.ok(Deno.readTextFileSync(path).endsWith("VCtimeout=15\n1V"));
    assert.equal((await m.pg.observe()).running, false);
  } finally {
    Deno.removeSync(path);
  }
});

/**
 * Wrap the fake's stop so the test sees whether the watchdog is still open while the shutdown checkpoint runs
 * (after the safe point, before the postmaster exits): with no pings meanwhile, an open watchdog would reset the
 * host during a long checkpoint.
 */
function watchStop(m: ReturnType<typeof member>): { openDuringCheckpoint: boolean[] } {
  const seen = { openDuringCheckpoint: [] as boolean[] };
  const realStop = m.pg.stop.bind(m.pg);
  m.pg.stop = (mode, onSafepoint) =>
    realStop(mode, () => {
      onSafepoint?.();
      seen.openDuringCheckpoint.push(m.watchdog.running);
    });
  return seen;
}

Deno.test("Agent shutdown closes the watchdog at the stop's safe point, before the shutdown checkpoint", async () => {
  const path = Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  try {
    const m = member({ mode: "required", devicePath: path });
    for (let i = 0; i < 6 && !m.agent.holdsLock(); i++) await m.step();
    assert.ok(m.agent.holdsLock() && m.watchdog.running);
    const seen = watchStop(m);
    assert.equal(await m.agent.shutdown(), true);
    assert.deepEqual(seen.openDuringCheckpoint, [false], "closed while the checkpoint runs");
    assert.ok(Deno.readTextFileSync(path).endsWith("1V"));
    assert.equal((await m.pg.observe()).running, false);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("Agent closes the watchdog at the safe point of a switchover's fast demote", async () => {
  const path = Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  try {
    // pg2 answers as a streaming replica on the leader's timeline, as the leader checks before it demotes.
    const peers: PeerClient = {
      fetchStatuses: (members) =>
        Promise.resolve(members.map((x) => ({
          name: x.name,
          reachable: true,
          role: "replica",
          walPosition: m.pg.wal ?? 0,
          timeline: 1,
          replicationState: "streaming",
        }))),
    };
    const m = member({ mode: "required", devicePath: path, peers });
    for (let i = 0; i < 6 && !m.agent.holdsLock(); i++) await m.step();
    assert.ok(m.agent.holdsLock() && m.watchdog.running);
    const other = new MemoryDcs(m.etcd, { namespace: "/service/", scope: "t", name: "pg2", ttl: 30 });
    await other.touchMember({
      conn_url: "postgres://127.0.0.1:5433/postgres",
      api_url: "http://127.0.0.1:8009/patroni",
      state: "running",
      role: "replica",
      version: "4.0.0",
    });
    assert.ok(await other.setFailover({ leader: "pg1", member: "pg2" }));
    const seen = watchStop(m);
    const r = await m.step();
    // The clean shutdown runs as a job (the loop keeps renewing meanwhile); the next cycle releases the key.
    assert.deepEqual(r?.decision.actions.at(-1), { type: "start_job", job: { kind: "demote" } });
    assert.deepEqual(seen.openDuringCheckpoint, [false], "closed while the checkpoint runs");
    const released = await m.step();
    assert.deepEqual(released?.decision.actions.map((a) => a.type), ["release_leader"]);
    assert.ok(!m.agent.holdsLock());
    assert.ok(!m.watchdog.running);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("Agent shutdown in pause leaves Postgres running and the leader key in place, closing the watchdog", async () => {
  const path = Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  try {
    const m = member({ mode: "automatic", devicePath: path });
    for (let i = 0; i < 6 && !m.agent.holdsLock(); i++) await m.step();
    await m.setConfig({ pause: true });
    await m.step();
    assert.equal(await m.agent.shutdown(), true);
    assert.equal((await m.pg.observe()).running, true, "postgres keeps running");
    const observer = new MemoryDcs(m.etcd, { namespace: "/service/", scope: "t", name: "observer", ttl: 30 });
    assert.equal(
      (await observer.loadCluster()).leader?.name,
      "pg1",
      "the leader key stays (until its lease ends)",
    );
    assert.ok(Deno.readTextFileSync(path).endsWith("1V"), "the watchdog was closed");
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("Agent with a required watchdog that cannot be activated gives the key back and never leads", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "hactl-wd-" });
  try {
    // The probe says the device is there, but opening it fails (as a busy or broken device would).
    const m = member({ mode: "required", devicePath: `${dir}/missing/fifo`, probe: () => null });
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await m.step());
    const reasons = m.reasons.join("\n");
    assert.match(reasons, /initialized a new cluster/);
    // The lock was taken after the bootstrap, the keepalive could not activate the device: the plan stopped there.
    const failed = results.find((r) =>
      r?.error === "the watchdog is required but is not running or not usable"
    );
    assert.ok(failed, reasons);
    assert.match(
      reasons,
      /demoting self because the watchdog is required but not usable: could not activate/,
    );
    assert.ok(!m.agent.holdsLock());
    assert.equal(m.agent.snapshot().watchdogFailed, true);
    const view = await m.dcs.loadCluster();
    assert.equal(view.leader, null, "the key was given back");
    assert.match(m.reasons.at(-1)!, /watchdog is required but not usable/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Agent stops its loop on a fatal condition: the data directory belongs to another cluster", async () => {
  const path = Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  try {
    const m = member({ mode: "automatic", devicePath: path });
    for (let i = 0; i < 6 && !m.agent.holdsLock(); i++) await m.step();
    assert.equal(m.agent.fatal, null);
    // Someone re-initialised the cluster under this member's feet.
    await m.dcs.initialize(false, "9999999999999");
    await m.step();
    assert.equal(
      m.agent.fatal,
      `system ID mismatch, node pg1 belongs to a different cluster: 9999999999999 != ${
        (await m.pg.observe()).sysid
      }`,
    );
    assert.ok(m.lines.includes(m.agent.fatal!), "logged");
    // run() returns at once: the loop was stopped.
    await m.agent.run();
  } finally {
    Deno.removeSync(path);
  }
});
