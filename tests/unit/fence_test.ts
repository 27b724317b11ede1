/**
 * The fencing supervisor's rules with the world faked: it fires once at the deadline, a newer `arm` pushes the
 * deadline, `disarm` stands it down, and a new supervisor adopts an older one's pending deadline.
 */
import assert from "node:assert/strict";
import {
  type FenceIo,
  type FenceState,
  FenceSupervisor,
  parseFenceCommand,
} from "../../src/host/fence_supervisor.ts";

function world(start: FenceState | null = null) {
  let now = 1_000_000;
  let state = start;
  const stops: number[] = [];
  const retired: number[] = [];
  const logs: string[] = [];
  const io: FenceIo = {
    uptimeMs: () => now,
    readState: () => state,
    writeState: (s) => void (state = s),
    stopPostgres: () => {
      stops.push(now);
      return Promise.resolve("stopped postgres (immediate, pid 42)");
    },
    log: (m) => void logs.push(m),
    alive: (pid) => pid === 7,
    retire: (pid) => void retired.push(pid),
  };
  return { io, stops, retired, logs, state: () => state, advance: (ms: number) => void (now += ms) };
}

Deno.test("parseFenceCommand() reads arm/disarm lines and ignores anything else", () => {
  assert.deepEqual(parseFenceCommand("arm 1500"), { kind: "arm", inMs: 1500 });
  assert.deepEqual(parseFenceCommand(" disarm \n"), { kind: "disarm" });
  for (const junk of ["", "arm", "arm -1", "arm 1.5", "arm 1 2", "fire", "disarm now"]) {
    assert.equal(parseFenceCommand(junk), null, junk);
  }
});

Deno.test("FenceSupervisor stops Postgres once when the deadline passes without a newer arm", async () => {
  const w = world();
  const s = new FenceSupervisor(w.io, 100);
  s.apply({ kind: "arm", inMs: 5000 });
  w.advance(4000);
  assert.equal(await s.tick(), false);
  s.apply({ kind: "arm", inMs: 5000 }); // renewed: the deadline moves
  w.advance(4000);
  assert.equal(await s.tick(), false);
  w.advance(1500);
  assert.equal(await s.tick(), true);
  assert.equal(await s.tick(), false, "fires once");
  assert.deepEqual(w.stops.length, 1);
  assert.match(w.logs.at(-1)!, /fence deadline passed 500 ms ago .*stopped postgres/);
  assert.deepEqual(w.state(), { pid: 100, deadlineUptimeMs: null });
});

Deno.test("FenceSupervisor does nothing once disarmed", async () => {
  const w = world();
  const s = new FenceSupervisor(w.io, 100);
  s.apply({ kind: "arm", inMs: 1000 });
  s.apply({ kind: "disarm" });
  w.advance(60_000);
  assert.equal(await s.tick(), false);
  assert.deepEqual(w.stops, []);
});

Deno.test("a new supervisor adopts the pending deadline of an older one and retires it", async () => {
  const w = world({ pid: 7, deadlineUptimeMs: 1_003_000 });
  const s = new FenceSupervisor(w.io, 100);
  assert.deepEqual(w.retired, [7]);
  assert.equal(s.deadline, 1_003_000);
  w.advance(3500);
  assert.equal(await s.tick(), true, "the adopted deadline fires when the new agent never renews");
  // ...but a renewal of the new agent (an agent restart that keeps the lock) moves it in time.
  const v = world({ pid: 7, deadlineUptimeMs: 1_003_000 });
  const t = new FenceSupervisor(v.io, 101);
  v.advance(1000);
  t.apply({ kind: "arm", inMs: 25_000 });
  v.advance(3000);
  assert.equal(await t.tick(), false);
  assert.deepEqual(v.stops, []);
});

Deno.test("arm-until sets an absolute deadline on the uptime clock; one already passed is due at once", async () => {
  assert.deepEqual(parseFenceCommand("arm-until 1234567"), { kind: "arm-until", uptimeMs: 1234567 });
  for (const junk of ["arm-until", "arm-until -5", "arm-until 1.5", "arm-until 1 2"]) {
    assert.equal(parseFenceCommand(junk), null, junk);
  }
  const w = world();
  const s = new FenceSupervisor(w.io, 100);
  assert.equal(s.apply({ kind: "arm-until", uptimeMs: 1_006_000 }), "ok arm-until 1006000");
  w.advance(5000);
  assert.equal(s.due(), false, "1 s before the deadline the agent sent");
  // Read late (the supervisor was stopped while the line waited): the deadline is the one the agent meant.
  w.advance(10_000);
  assert.equal(s.apply({ kind: "arm-until", uptimeMs: 1_008_000 }), "ok arm-until 1008000");
  assert.equal(s.due(), true);
  assert.equal(await s.tick(), true);
  assert.match(w.logs.at(-1)!, /fence deadline passed 7000 ms ago/);
});

/** A world whose state file cannot be written while `failing` holds (its parent directory is missing). */
function unwritableWorld() {
  const w = world();
  let failing = true;
  const io: FenceIo = {
    ...w.io,
    writeState: (s) => {
      if (failing) return "cannot write /srv/pg/data.hactl-fence: No such file or directory (os error 2)";
      w.io.writeState(s);
      return null;
    },
  };
  return { ...w, io, fix: () => void (failing = false) };
}

Deno.test("fence-persist: an arm the supervisor cannot keep in its state file is acknowledged as unpersisted", () => {
  const w = unwritableWorld();
  const s = new FenceSupervisor(w.io, 100);
  // Nothing armed yet: nothing is lost, and the log says so.
  assert.equal(
    s.apply({ kind: "ping" }),
    "ok ping none unpersisted cannot write /srv/pg/data.hactl-fence: " +
      "No such file or directory (os error 2)",
  );
  assert.match(w.logs[0]!, /cannot write .*: no deadline is held yet, so none is lost/);
  // An arm is held in memory (it still fires) but the agent is told it is not on disk.
  const armed = s.apply({ kind: "arm-until", uptimeMs: 1_005_000 });
  assert.match(armed, /^ok arm-until 1005000 unpersisted cannot write /);
  assert.equal(s.deadline, 1_005_000);
  assert.match(
    w.logs.at(-1)!,
    /cannot write .*: a supervisor started after this one could not adopt the deadline/,
  );
  // A ping writes again; once the file can be written, the acknowledgement is plain again.
  w.fix();
  assert.equal(s.apply({ kind: "ping" }), "ok ping 1005000");
  assert.deepEqual(w.state(), { pid: 100, deadlineUptimeMs: 1_005_000 });
  assert.equal(s.apply({ kind: "arm-until", uptimeMs: 1_006_000 }), "ok arm-until 1006000");
});
