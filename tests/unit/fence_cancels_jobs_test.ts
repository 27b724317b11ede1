/**
 * A fence that fires cancels the job in flight (src/shell/fence.ts with src/shell/jobs.ts): a restart or start job
 * must not bring Postgres up as a primary after the fence stopped it, whatever phase the job was in.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Clock, PostgresPort } from "../../src/core/ports.ts";
import type { AgentDeps } from "../../src/shell/deps.ts";
import { LeaseFence } from "../../src/shell/fence.ts";
import { JobRunner } from "../../src/shell/jobs.ts";

/** A Postgres whose `stop(fast)` and `start` finish when the test says so; `running` is what a client would see. */
function slowPostgres() {
  const calls: string[] = [];
  let running = true;
  let finishStop: () => void = () => {};
  let finishStart: () => void = () => {};
  const pg = {
    stop: (mode: string) => {
      calls.push(`stop ${mode}`);
      if (mode === "immediate") {
        running = false;
        return Promise.resolve();
      }
      return new Promise<void>((r) => (finishStop = () => ((running = false), r())));
    },
    start: (role: string) => {
      calls.push(`start ${role}`);
      return new Promise<void>((r) => (finishStart = () => ((running = true), r())));
    },
  } as unknown as PostgresPort;
  return {
    pg,
    calls,
    running: () => running,
    finishStop: () => finishStop(),
    finishStart: () => finishStart(),
  };
}

/** A clock whose timers the test fires by hand. */
function manualClock() {
  const timers: (() => void)[] = [];
  const clock: Clock = {
    now: () => 0,
    wallNow: () => 0,
    after: (_ms, fn) => (timers.push(fn), () => {}),
  };
  return { clock, fireAll: () => timers.splice(0).forEach((fn) => fn()) };
}

function setUp() {
  const pg = slowPostgres();
  const { clock, fireAll } = manualClock();
  const jobs = new JobRunner(pg.pg, clock, () => {}, () => {});
  const errors: string[] = [];
  const deps = {
    clock,
    pg: pg.pg,
    log: { cycle: () => {}, warn: () => {}, error: (m: string) => void errors.push(m) },
  } as unknown as AgentDeps;
  const fence = new LeaseFence(deps, {
    paused: () => false,
    stopped: () => false,
    wake: () => {},
    jobs,
  });
  return { pg, jobs, fence, fireAll, errors };
}

const flush = async () => {
  for (let i = 0; i < 50; i++) await null;
};

Deno.test("a fence that fires while a restart job stops Postgres cancels it: no start as primary afterwards", async () => {
  const { pg, jobs, fence, fireAll, errors } = setUp();
  fence.renewed(0, 30);
  jobs.start({ kind: "restart", role: "primary", upstream: null });
  await flush();
  assert.deepEqual(pg.calls, ["stop fast"]);
  fireAll(); // no renewal came: the fence deadline passes while the restart's fast stop is still running
  await flush();
  pg.finishStop();
  await flush();
  pg.finishStart(); // were a start under way, let it finish
  await jobs.settle();
  await flush();
  assert.equal(pg.running(), false, `postgres must stay stopped after the fence: ${pg.calls.join(", ")}`);
  assert.ok(!pg.calls.includes("start primary"), `no start after the fence: ${pg.calls.join(", ")}`);
  const job = jobs.take();
  assert.equal(job?.status, "failed");
  assert.match(job?.error ?? "", /cancelled: the fence stopped postgres/);
  assert.match(errors.join("\n"), /fence deadline passed/);
});

Deno.test("a fence that fires while a start job brings Postgres up stops it again once the start has ended", async () => {
  const { pg, jobs, fence, fireAll } = setUp();
  fence.renewed(0, 30);
  jobs.start({ kind: "start", role: "primary", upstream: null });
  await flush();
  assert.deepEqual(pg.calls, ["start primary"]);
  fireAll(); // the fence's immediate stop runs while pg_ctl start is still waiting for the server
  await flush();
  pg.finishStart(); // the postmaster comes up after the fence's stop
  await jobs.settle();
  await flush();
  assert.equal(pg.running(), false, `postgres must not run after the fence: ${pg.calls.join(", ")}`);
  assert.deepEqual(pg.calls, ["start primary", "stop immediate", "stop immediate"]);
});
