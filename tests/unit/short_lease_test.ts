/**
 * The short lease (ttl 5 / loop_wait 1 / retry_timeout 2): every timing the adjustment of `src/config/dynamic.ts`
 * accepts leaves the agent's fence deadline (`renewal start + ttl - margin`, src/core/fence.ts) at least one HA
 * cycle's room after the next renewal starts, so a leader that renews every `loop_wait` never fences itself.
 */
import assert from "node:assert/strict";
import { fenceDeadline } from "../../src/core/fence.ts";
import { adjustTiming, MIN_TTL, normalizeDynamic } from "../../src/config/dynamic.ts";

/** One HA cycle's room (ms) under load: measured cycle p99 + timer lateness, about 3 times over. */
const CYCLE_ROOM_MS = 1000;

Deno.test("every adjusted timing starts the next renewal at least a cycle's room before the fence deadline", () => {
  for (let ttl = 1; ttl <= 60; ttl++) {
    for (let loopWait = 1; loopWait <= 60; loopWait++) {
      for (let retryTimeout = 1; retryTimeout <= 30; retryTimeout++) {
        const { timing } = adjustTiming({ ttl, loopWait, retryTimeout });
        const room = fenceDeadline(0, timing.ttl) - timing.loopWait * 1000;
        assert.ok(
          room >= CYCLE_ROOM_MS,
          `${ttl}/${loopWait}/${retryTimeout} -> ${
            JSON.stringify(timing)
          }: the fence deadline lies ${room} ms ` +
            "after the next renewal starts",
        );
      }
    }
  }
});

Deno.test("ttl 5 / loop_wait 1 / retry_timeout 2 is accepted as it is, without a warning", () => {
  assert.equal(MIN_TTL, 5);
  const { settings, warnings } = normalizeDynamic({ ttl: 5, loop_wait: 1, retry_timeout: 2 });
  assert.deepEqual([settings.ttl, settings.loopWait, settings.retryTimeout], [5, 1, 2]);
  assert.deepEqual(warnings, []);
});

Deno.test("a ttl below 5 is raised to 5 with a warning naming the key, as Patroni raises one below its minimum", () => {
  const { settings, warnings } = normalizeDynamic({ ttl: 4, loop_wait: 1, retry_timeout: 2 });
  assert.equal(settings.ttl, 5);
  assert.deepEqual(warnings, ["ttl: 4 is below the minimum 5; using 5"]);
});

Deno.test("a loop_wait that leaves the fence no room for a cycle is lowered with a warning naming the key", () => {
  // ttl 20 / loop_wait 16 / retry_timeout 2 keeps loop_wait + 2 * retry_timeout <= ttl, but the fence deadline is
  // 15 s after a renewal starts: the next one, 16 s later, would come after the fence stopped Postgres.
  const { timing, warnings } = adjustTiming({ ttl: 20, loopWait: 16, retryTimeout: 2 });
  assert.deepEqual(timing, { ttl: 20, loopWait: 14, retryTimeout: 2 });
  assert.deepEqual(warnings, [
    "loop_wait 16 leaves less than 1 s between the next renewal and the fence deadline (ttl 20 - 5 s margin): " +
    "adjusting loop_wait from 16 to 14",
  ]);
});
