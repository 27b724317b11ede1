/**
 * Specification of `normalizeDynamic()` (src/config/dynamic.ts), the run-time rule for the dynamic configuration:
 * Patroni's defaults, every field read, values raised to the minimums or loop_wait and retry_timeout lowered to fit
 * the ttl with a warning, garbage replaced by defaults, and reserved Postgres parameters dropped or reset.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DYNAMIC_DEFAULTS, normalizeDynamic } from "../../src/config/config.ts";

Deno.test("normalizeDynamic() gives Patroni's defaults for an empty document", () => {
  assert.deepEqual(normalizeDynamic({}), { settings: DYNAMIC_DEFAULTS, warnings: [] });
});

Deno.test("normalizeDynamic() reads every field, including legacy master_start_timeout", () => {
  const { settings, warnings } = normalizeDynamic({
    ttl: 40,
    loop_wait: 5,
    retry_timeout: "15",
    maximum_lag_on_failover: "2MB",
    check_timeline: true,
    master_start_timeout: 100,
    pause: "on",
    isolation_fence_timeout: 5,
    postgresql: {
      use_slots: false,
      use_pg_rewind: true,
      parameters: { work_mem: "8MB", max_connections: 200 },
    },
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(settings, {
    ttl: 40,
    loopWait: 5,
    retryTimeout: 15,
    maximumLagOnFailover: 2 * 1024 * 1024,
    checkTimeline: true,
    primaryStartTimeout: 100,
    pause: true,
    useSlots: false,
    usePgRewind: true,
    memberSlotsTtl: 1800,
    isolationFenceTimeout: 5,
    parameters: { work_mem: "8MB", max_connections: 200 },
  });
});

Deno.test("normalizeDynamic() raises values below the minimums with a warning", () => {
  const { settings, warnings } = normalizeDynamic({ ttl: 4, loop_wait: 0, retry_timeout: 1 });
  assert.deepEqual([settings.ttl, settings.loopWait, settings.retryTimeout], [5, 1, 2]);
  assert.deepEqual(warnings, [
    "ttl: 4 is below the minimum 5; using 5",
    "loop_wait: 0 is below the minimum 1; using 1",
    "retry_timeout: 1 is below the minimum 2; using 2",
  ]);
});

Deno.test("normalizeDynamic() reduces loop_wait when loop_wait + 2*retry_timeout > ttl", () => {
  const { settings, warnings } = normalizeDynamic({ ttl: 30, loop_wait: 15, retry_timeout: 10 });
  assert.deepEqual([settings.ttl, settings.loopWait, settings.retryTimeout], [30, 10, 10]);
  assert.deepEqual(warnings, [
    "loop_wait + 2 * retry_timeout <= ttl is violated (15 + 2 * 10 > 30): adjusting loop_wait from 15 to 10",
  ]);
});

Deno.test("normalizeDynamic() lowers retry_timeout to (ttl-1)//2 when loop_wait is already 1", () => {
  const { settings, warnings } = normalizeDynamic({ ttl: 20, loop_wait: 1, retry_timeout: 12 });
  assert.deepEqual([settings.loopWait, settings.retryTimeout], [1, 9]);
  assert.deepEqual(warnings, [
    "loop_wait + 2 * retry_timeout <= ttl is violated (1 + 2 * 12 > 20): adjusting retry_timeout from 12 to 9",
  ]);
  const both = normalizeDynamic({ ttl: 20, loop_wait: 10, retry_timeout: 10 }).settings;
  assert.deepEqual([both.loopWait, both.retryTimeout], [1, 9]);
});

Deno.test("normalizeDynamic() falls back to defaults for garbage, with a warning naming the key", () => {
  const { settings, warnings } = normalizeDynamic({
    ttl: "soon",
    pause: "perhaps",
    maximum_lag_on_failover: { a: 1 },
    postgresql: { use_slots: [1], parameters: "x" },
  });
  assert.equal(settings.ttl, 30);
  assert.equal(settings.pause, false);
  assert.equal(settings.maximumLagOnFailover, 1048576);
  assert.equal(settings.useSlots, true);
  assert.deepEqual(settings.parameters, {});
  assert.deepEqual(warnings.map((w) => w.split(":")[0]), [
    "ttl",
    "postgresql.parameters",
    "maximum_lag_on_failover",
    "pause",
    "postgresql.use_slots",
  ]);
  assert.doesNotThrow(() => normalizeDynamic(null as unknown as Record<string, unknown>));
});

Deno.test("normalizeDynamic() drops listen_addresses/port/cluster_name and resets invalid reserved GUCs", () => {
  const { settings, warnings } = normalizeDynamic({
    postgresql: {
      parameters: {
        port: 5433,
        max_connections: 10,
        wal_level: "minimal",
        hot_standby: "off",
        max_wal_senders: "5",
      },
    },
  });
  assert.deepEqual(settings.parameters, {
    max_connections: 100,
    wal_level: "hot_standby",
    hot_standby: "on",
    max_wal_senders: 5,
  });
  assert.equal(warnings.length, 4);
  assert.match(
    warnings[1],
    /^postgresql\.parameters\.max_connections: 10 is below the minimum 25; using the default 100$/,
  );
});
