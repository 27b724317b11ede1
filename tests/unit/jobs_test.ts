/**
 * The job runner (src/shell/jobs.ts): one long Postgres operation at a time, reported in the next observation, and
 * `settle()` waiting for the running one without a timer of its own.
 */
import assert from "node:assert/strict";
import { JobRunner } from "../../src/shell/jobs.ts";
import type { Clock, PostgresPort } from "../../src/core/ports.ts";

const CLOCK: Clock = { now: () => 0, wallNow: () => 0, after: () => () => {} };

/** A Postgres whose `stop` finishes when the test says so. */
function slowStop(): { pg: PostgresPort; finish(ok: boolean): void } {
  let finish: (ok: boolean) => void = () => {};
  const stop = () =>
    new Promise<void>((resolve, reject) => (finish = (ok) => ok ? resolve() : reject(new Error("no"))));
  return { pg: { stop } as unknown as PostgresPort, finish: (ok) => finish(ok) };
}

Deno.test("settle() resolves once the running job is finished, its state final, its callback run", async () => {
  const { pg, finish } = slowStop();
  const done: boolean[] = [];
  const jobs = new JobRunner(pg, CLOCK, () => {}, (_req, ok) => void done.push(ok));
  jobs.start({ kind: "stop", mode: "fast" });
  let settled = false;
  const settling = jobs.settle().then(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false);
  assert.equal(jobs.busy, true);
  finish(false);
  await settling;
  assert.equal(jobs.busy, false);
  assert.deepEqual(done, [false]);
  assert.equal(jobs.take()?.status, "failed");
});

Deno.test("settle() with no job running resolves at once", async () => {
  const jobs = new JobRunner(slowStop().pg, CLOCK, () => {}, () => {});
  await jobs.settle();
  assert.equal(jobs.peek(), null);
});

Deno.test("a port that throws instead of rejecting ends the job as failed (it never reads 'running' for good)", async () => {
  const pg = {
    stop: () => {
      throw new Error("pg_ctl could not be spawned");
    },
  } as unknown as PostgresPort;
  const done: boolean[] = [];
  const jobs = new JobRunner(pg, CLOCK, () => {}, (_req, ok) => void done.push(ok));
  jobs.start({ kind: "stop", mode: "fast" });
  await jobs.settle();
  assert.equal(jobs.busy, false);
  assert.deepEqual(done, [false]);
  const job = jobs.take();
  assert.equal(job?.status, "failed");
  assert.match(job?.error ?? "", /could not be spawned/);
});
