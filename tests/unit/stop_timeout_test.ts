/**
 * `primary_stop_timeout` (src/core/stop_timeout.ts): read from the dynamic configuration (or its older name
 * `master_stop_timeout`), in force only in synchronous mode and above 0 (as Patroni), and handed to the stop of a
 * switchover's demotion job; and the pre_promote refusal marked on the job state (src/shell/jobs.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { normalizeDynamic } from "../../src/config/dynamic.ts";
import type { Clock, PostgresPort, StopOptions } from "../../src/core/ports.ts";
import { PrePromoteRefusedError } from "../../src/core/pre_promote.ts";
import { demotionStopOptions, primaryStopTimeout } from "../../src/core/stop_timeout.ts";
import { JobRunner } from "../../src/shell/jobs.ts";

const CLOCK: Clock = { now: () => 0, wallNow: () => 0, after: () => () => {} };

Deno.test("primary_stop_timeout applies only in synchronous mode and above 0", () => {
  const read = (doc: Record<string, unknown>) => primaryStopTimeout(normalizeDynamic(doc).settings);
  assert.equal(read({ synchronous_mode: true, primary_stop_timeout: 30 }), 30);
  assert.equal(read({ synchronous_mode: "on", master_stop_timeout: "1min" }), 60);
  assert.equal(read({ synchronous_mode: true, primary_stop_timeout: 5, master_stop_timeout: 9 }), 5);
  assert.equal(read({ primary_stop_timeout: 30 }), null, "asynchronous: pg_ctl_timeout applies");
  assert.equal(read({ synchronous_mode: true, primary_stop_timeout: 0 }), null);
  assert.equal(read({ synchronous_mode: true }), null);
  assert.deepEqual(
    demotionStopOptions(normalizeDynamic({ synchronous_mode: true, primary_stop_timeout: 7 }).settings),
    {
      timeoutS: 7,
    },
  );
  assert.deepEqual(demotionStopOptions(normalizeDynamic({}).settings), {});
});

Deno.test("a negative primary_stop_timeout is raised to 0 with a warning naming the key", () => {
  const { settings, warnings } = normalizeDynamic({ synchronous_mode: true, primary_stop_timeout: -5 });
  assert.equal(primaryStopTimeout(settings), null);
  assert.ok(warnings.some((w) => w.startsWith("primary_stop_timeout:")), warnings.join("\n"));
});

Deno.test("the switchover's demotion job stops Postgres with the primary_stop_timeout options in force", async () => {
  const calls: [string, StopOptions | undefined][] = [];
  const pg = {
    stop: (mode: string, _safepoint?: () => void, opts?: StopOptions) => {
      calls.push([mode, opts]);
      return Promise.resolve();
    },
  } as unknown as PostgresPort;
  let options: StopOptions = { timeoutS: 4 };
  const jobs = new JobRunner(pg, CLOCK, () => {}, () => {}, () => {}, () => options);
  jobs.start({ kind: "demote" });
  await jobs.settle();
  options = {};
  jobs.start({ kind: "demote" });
  await jobs.settle();
  jobs.start({ kind: "restart", role: "primary", upstream: null });
  await jobs.settle().catch(() => {});
  assert.deepEqual(calls.slice(0, 3), [["fast", { timeoutS: 4 }], ["fast", {}], ["fast", undefined]]);
});

Deno.test("a promotion the pre_promote script refused is marked on the job's state", async () => {
  const pg = {
    promote: () => Promise.reject(new PrePromoteRefusedError("pre_promote script x exited with 1")),
  } as unknown as PostgresPort;
  const jobs = new JobRunner(pg, CLOCK, () => {}, () => {});
  jobs.start({ kind: "promote", history: [] });
  await jobs.settle();
  const state = jobs.take();
  assert.equal(state?.status, "failed");
  assert.equal(state?.prePromoteRefused, true);
  assert.equal(state?.error, "pre_promote script x exited with 1");
});
