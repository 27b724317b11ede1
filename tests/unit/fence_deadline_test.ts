/**
 * The fence deadline's arithmetic (src/core/fence.ts): the agent's timer fires a margin before the lease can expire,
 * the fencing supervisor half a margin later, and a renewal since the timer was armed holds it back.
 */
import assert from "node:assert/strict";
import {
  fenceDeadline,
  fenceFires,
  leaseExpiresAt,
  renewalStale,
  renewedSince,
  supervisorDelayMs,
} from "../../src/core/fence.ts";
import { fenceMarginMs } from "../../src/core/settings.ts";

Deno.test("fenceMarginMs(): 5 s, or a quarter of a short ttl", () => {
  assert.equal(fenceMarginMs({ ttl: 30 }), 5000);
  assert.equal(fenceMarginMs({ ttl: 20 }), 5000);
  assert.equal(fenceMarginMs({ ttl: 8 }), 2000);
  assert.equal(fenceMarginMs({ ttl: 1 }), 250);
});

Deno.test("the lease, the fence and the supervisor count from the renewal's start, in that order before expiry", () => {
  assert.equal(leaseExpiresAt(1000, 30), 31_000);
  assert.equal(fenceDeadline(1000, 30), 26_000, "renewal start + ttl - margin");
  // Armed at 1500 (the renewal's answer came 500 ms after its start): half a margin after the agent's deadline.
  assert.equal(supervisorDelayMs(26_000, 30, 1500), 27_000);
  assert.equal(supervisorDelayMs(1000, 8, 5000), 0, "never negative");
  assert.equal(supervisorDelayMs(10.4, 1, 0), 135, "whole milliseconds");
});

Deno.test("fenceFires(): unless a renewal came since, the loop stopped, or the cluster is paused", () => {
  const deadline = fenceDeadline(1000, 30);
  const base = { deadline, lastRenewal: 1000, ttlSeconds: 30, paused: false, stopped: false };
  assert.equal(fenceFires(base), true, "the renewal that armed it is not a newer one");
  assert.equal(fenceFires({ ...base, lastRenewal: null }), true);
  assert.equal(fenceFires({ ...base, lastRenewal: 1001 }), false);
  assert.equal(fenceFires({ ...base, stopped: true }), false);
  assert.equal(fenceFires({ ...base, paused: true }), false);
  // A renewal's deadline counts with the ttl that renewal armed the fence with (LeaseFence passes it, never the
  // configured ttl read since): one armed with a longer ttl pushes the deadline out.
  assert.equal(renewedSince(1000, 40, deadline), true);
  assert.equal(renewedSince(1000, 30, deadline), false);
});

Deno.test("renewalStale(): a renewal answered later than ttl - watchdog timeout after its start pings no watchdog", () => {
  // ttl 30, timeout 25: fresh while answered within 5 s of its start.
  assert.equal(renewalStale(1000, 6000, 30, 25), false);
  assert.equal(renewalStale(1000, 6001, 30, 25), true);
  assert.equal(renewalStale(1000, 60_000, 30, null), false, "no watchdog is pinged");
});
