/**
 * The durations derived from the dynamic settings (src/core/settings.ts) and the one set of timing rules shared by
 * the strict check of `bootstrap.dcs` and the run-time reader `normalizeDynamic` (src/config/dynamic.ts).
 */
import assert from "node:assert/strict";
import {
  fenceMarginMs,
  isolationFenceTimeoutMs,
  leaseMs,
  livenessGraceMs,
  loopWaitMs,
  memberSlotsTtlMs,
  MS_PER_SECOND,
  primaryStartTimeoutMs,
  restartWaitMs,
  retryTimeoutMs,
  secondsToMs,
  staleAfterMs,
  switchoverRequestTimeoutMs,
  switchoverWaitMs,
  switchoverWaitSeconds,
} from "../../src/core/settings.ts";
import {
  DYNAMIC_DEFAULTS,
  DYNAMIC_MINIMUMS,
  fitTiming,
  MIN_TTL,
  normalizeDynamic,
  TIMING_KEYS,
  timingFits,
} from "../../src/config/dynamic.ts";
import { checkBootstrapDcs, Reader } from "../../src/config/read.ts";

Deno.test("secondsToMs() and the per-key helpers convert Patroni's seconds to milliseconds", () => {
  assert.equal(MS_PER_SECOND, 1000);
  assert.equal(secondsToMs(1.5), 1500);
  const d = { ...DYNAMIC_DEFAULTS, ttl: 20, loopWait: 2, retryTimeout: 4 };
  assert.equal(loopWaitMs(d), 2000);
  assert.equal(leaseMs(d), 20_000);
  assert.equal(retryTimeoutMs(d), 4000);
  assert.equal(primaryStartTimeoutMs(d), 300_000);
  assert.equal(memberSlotsTtlMs(d), 1_800_000);
  assert.equal(isolationFenceTimeoutMs(d), 3000);
});

Deno.test("staleAfterMs() is 1.5 * loop_wait: a request found later than that is dropped", () => {
  assert.equal(staleAfterMs({ loopWait: 10 }), 15_000);
  assert.equal(staleAfterMs({ loopWait: 1 }), 1500);
  assert.equal(staleAfterMs({ loopWait: 3 }), 4500);
});

Deno.test("switchoverWaitSeconds() is 2 * max(10, loop_wait); switchoverWaitMs() the same in ms", () => {
  assert.equal(switchoverWaitSeconds({ loopWait: 1 }), 20);
  assert.equal(switchoverWaitSeconds({ loopWait: 10 }), 20);
  assert.equal(switchoverWaitSeconds({ loopWait: 30 }), 60);
  assert.equal(switchoverWaitMs({ loopWait: 30 }), 60_000);
});

Deno.test("fenceMarginMs() is 5 s, or a quarter of a short ttl", () => {
  assert.equal(fenceMarginMs({ ttl: 30 }), 5000);
  assert.equal(fenceMarginMs({ ttl: 20 }), 5000);
  assert.equal(fenceMarginMs({ ttl: 10 }), 2500);
});

Deno.test("livenessGraceMs() is one ttl for a running primary, two otherwise", () => {
  assert.equal(livenessGraceMs({ ttl: 30 }, true), 30_000);
  assert.equal(livenessGraceMs({ ttl: 30 }, false), 60_000);
});

Deno.test("timingFits() is loop_wait + 2 * retry_timeout <= ttl; fitTiming() repairs what does not fit", () => {
  assert.equal(timingFits({ ttl: 30, loopWait: 10, retryTimeout: 10 }), true);
  assert.equal(timingFits({ ttl: 29, loopWait: 10, retryTimeout: 10 }), false);
  assert.deepEqual(fitTiming({ ttl: 30, loopWait: 10, retryTimeout: 10 }), {
    ttl: 30,
    loopWait: 10,
    retryTimeout: 10,
  });
  assert.deepEqual(fitTiming({ ttl: 30, loopWait: 15, retryTimeout: 10 }), {
    ttl: 30,
    loopWait: 10,
    retryTimeout: 10,
  });
  assert.deepEqual(fitTiming({ ttl: 20, loopWait: 10, retryTimeout: 10 }), {
    ttl: 20,
    loopWait: 1,
    retryTimeout: 9,
  });
  for (let ttl = MIN_TTL; ttl <= 40; ttl++) {
    for (let loopWait = 1; loopWait <= 20; loopWait++) {
      for (let retryTimeout = 3; retryTimeout <= 20; retryTimeout++) {
        const fitted = fitTiming({ ttl, loopWait, retryTimeout });
        assert.ok(timingFits(fitted), `${ttl}/${loopWait}/${retryTimeout} -> ${JSON.stringify(fitted)}`);
        assert.ok(fitted.loopWait >= 1 && fitted.loopWait <= loopWait && fitted.retryTimeout <= retryTimeout);
      }
    }
  }
});

function bootstrapCheck(dcs: Record<string, unknown>): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  checkBootstrapDcs(new Reader("hactl.yml", problems), dcs, warnings);
  return { problems, warnings };
}

Deno.test("bootstrap.dcs and normalizeDynamic() apply the same minimums: a timing is raised, the others refused", () => {
  for (const [key, field] of TIMING_KEYS) {
    const min = DYNAMIC_MINIMUMS[key];
    const below = { ttl: 40, loop_wait: 1, retry_timeout: 2, [key]: min - 1 };
    assert.deepEqual(bootstrapCheck(below), {
      problems: [],
      warnings: [`bootstrap.dcs.${key}: ${min - 1} is below the minimum ${min}; using ${min}`],
    });
    const { settings, warnings } = normalizeDynamic(below);
    assert.equal(settings[field], min);
    assert.equal(warnings[0], `${key}: ${min - 1} is below the minimum ${min}; using ${min}`);
    assert.deepEqual(bootstrapCheck({ ...below, [key]: min }), { problems: [], warnings: [] });
  }
  for (const key of ["primary_start_timeout", "isolation_fence_timeout"] as const) {
    assert.deepEqual(bootstrapCheck({ [key]: -1 }).problems, [
      `hactl.yml: bootstrap.dcs.${key}: must be >= 0 (found -1)`,
    ]);
    assert.equal(normalizeDynamic({ [key]: -1 }).warnings[0], `${key}: -1 is below the minimum 0; using 0`);
  }
});

Deno.test("bootstrap.dcs timings that normalizeDynamic() would repair are repaired alike, with a warning", () => {
  assert.deepEqual(bootstrapCheck({ ttl: 25, loop_wait: 10, retry_timeout: 10 }), {
    problems: [],
    warnings: [
      "bootstrap.dcs: loop_wait + 2 * retry_timeout <= ttl is violated (10 + 2 * 10 > 25): " +
      "adjusting loop_wait from 10 to 5",
    ],
  });
  const runtime = normalizeDynamic({ ttl: 25, loop_wait: 10, retry_timeout: 10 });
  assert.deepEqual(runtime.warnings, [
    "loop_wait + 2 * retry_timeout <= ttl is violated (10 + 2 * 10 > 25): adjusting loop_wait from 10 to 5",
  ]);
  assert.deepEqual([runtime.settings.loopWait, runtime.settings.retryTimeout], [5, 10]);
  // The defaults fit each other.
  assert.deepEqual(bootstrapCheck({}), { problems: [], warnings: [] });
  assert.ok(timingFits(DYNAMIC_DEFAULTS));
});

Deno.test("restartWaitMs(): a stop and a start bounded by pg_ctl_timeout, two cycles and 10 s", () => {
  assert.equal(restartWaitMs({ loopWait: 10 }, 60), 150_000);
  assert.equal(restartWaitMs({ loopWait: 2 }, 30), 74_000);
});

Deno.test("switchoverRequestTimeoutMs(): at least 120 s, always past the agent's own wait", () => {
  assert.equal(switchoverRequestTimeoutMs({ loopWait: 10 }), 120_000);
  assert.equal(switchoverRequestTimeoutMs({ loopWait: 60 }), 130_000);
});
