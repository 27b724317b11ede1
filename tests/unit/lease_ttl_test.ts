/**
 * One TTL for the lease that holds the leader key and every fence (src/core/lease_ttl.ts), and the agent's fence
 * timer armed with it (src/shell/fence.ts `LeaseFence`).
 */
import assert from "node:assert/strict";
import { fencesWithin, fenceTtl, leaseMustMove, withLeaseMove } from "../../src/core/lease_ttl.ts";
import type { Action, Decision, Observation } from "../../src/core/types.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import type { AgentDeps } from "../../src/shell/deps.ts";
import { LeaseFence } from "../../src/shell/fence.ts";

const okObs = (
  lease: Observation["lease"],
): Observation => ({ dcs: { kind: "ok", cluster: {} }, lease } as unknown as Observation);
const plan = (...actions: Action[]): Decision => ({ actions, memory: INITIAL_MEMORY, reason: "r" });
const types = (d: Decision) =>
  d.actions.map((a) => a.type === "move_lease" ? `move_lease(${a.ttl},${a.leader})` : a.type);

Deno.test("leaseMustMove(): only when the lease held was asked for another ttl than the configured one", () => {
  assert.equal(leaseMustMove(null, 30), false);
  assert.equal(leaseMustMove({ requestedTtl: 30, ttl: 30 }, 30), false);
  assert.equal(
    leaseMustMove({ requestedTtl: 30, ttl: 32 }, 30),
    false,
    "etcd raised it: asked right, no move",
  );
  assert.equal(leaseMustMove({ requestedTtl: 10, ttl: 10 }, 30), true);
  assert.equal(leaseMustMove({ requestedTtl: 30, ttl: 30 }, 10), true);
});

Deno.test("fenceTtl(): the granted ttl of the key's lease, never more than the configured one", () => {
  assert.equal(fenceTtl({ requestedTtl: 10, ttl: 10 }, 30), 10, "an increase: not before the key moved");
  assert.equal(fenceTtl({ requestedTtl: 30, ttl: 30 }, 10), 10, "a decrease: at once");
  assert.equal(fenceTtl({ requestedTtl: 30, ttl: 30 }, 30), 30);
  assert.equal(fenceTtl({ requestedTtl: 1, ttl: 2 }, 2), 2);
});

Deno.test("withLeaseMove(): the key moves right after the first lock action, else the member key at the end", () => {
  const obs = okObs({ requestedTtl: 10, ttl: 10 });
  const renew: Action = { type: "renew_leader" };
  assert.deepEqual(types(withLeaseMove(plan(renew, { type: "write_status", optime: 1 }), obs, 30)), [
    "renew_leader",
    "move_lease(30,true)",
    "write_status",
  ]);
  assert.deepEqual(types(withLeaseMove(plan({ type: "acquire_leader" }, { type: "promote" }), obs, 30)), [
    "acquire_leader",
    "move_lease(30,true)",
    "promote",
  ]);
  assert.deepEqual(
    types(withLeaseMove(plan(renew, { type: "demote", mode: "fast" }, { type: "release_leader" }), obs, 30)),
    ["renew_leader", "demote", "release_leader", "move_lease(30,false)"],
    "a plan that gives the key up moves only the member key",
  );
  assert.deepEqual(types(withLeaseMove(plan(), obs, 30)), ["move_lease(30,false)"]);
  assert.deepEqual(types(withLeaseMove(plan(renew), okObs({ requestedTtl: 30, ttl: 30 }), 30)), [
    "renew_leader",
  ]);
  const offline = { ...obs, dcs: { kind: "unreachable", since: 0, error: "x" } } as Observation;
  assert.deepEqual(types(withLeaseMove(plan(), offline, 30)), [], "nothing without etcd");
});

Deno.test("fencesWithin(): fences armed with no longer a ttl, and every line acknowledged by the supervisor", () => {
  assert.equal(fencesWithin(undefined, 10), true, "an observation without the fences");
  assert.equal(fencesWithin({ ttl: 10, acknowledged: true }, 10), true);
  assert.equal(fencesWithin({ ttl: 0, acknowledged: true }, 10), true, "never armed");
  assert.equal(fencesWithin({ ttl: 30, acknowledged: true }, 10), false, "armed for the longer lease");
  assert.equal(
    fencesWithin({ ttl: 10, acknowledged: false }, 10),
    false,
    "the supervisor may hold an older one",
  );
});

Deno.test("withLeaseMove(): the key moves onto a shorter lease only once every fence holds a deadline within it", () => {
  const renew: Action = { type: "renew_leader" };
  const held = { requestedTtl: 30, ttl: 30 };
  const at = (fences: Observation["fences"]) => ({ ...okObs(held), fences }) as Observation;
  // The cycle after the edit: the fences were armed for 30 s; this renewal shortens them, the key stays.
  assert.deepEqual(types(withLeaseMove(plan(renew), at({ ttl: 30, acknowledged: true }), 10)), [
    "renew_leader",
  ]);
  // The next cycle, the supervisor has not acknowledged the shortened deadline (stopped): the key stays.
  assert.deepEqual(types(withLeaseMove(plan(renew), at({ ttl: 10, acknowledged: false }), 10)), [
    "renew_leader",
  ]);
  assert.deepEqual(types(withLeaseMove(plan(renew), at({ ttl: 10, acknowledged: true }), 10)), [
    "renew_leader",
    "move_lease(10,true)",
  ]);
  // An increase needs no wait (the fences armed for the shorter lease lie within the longer one); a plan that
  // gives the key up moves the member key anyway.
  const longer = {
    ...okObs({ requestedTtl: 10, ttl: 10 }),
    fences: { ttl: 10, acknowledged: false },
  } as Observation;
  assert.deepEqual(types(withLeaseMove(plan(renew), longer, 30)), ["renew_leader", "move_lease(30,true)"]);
  const release: Action = { type: "release_leader" };
  assert.deepEqual(types(withLeaseMove(plan(renew, release), at({ ttl: 30, acknowledged: false }), 10)), [
    "renew_leader",
    "release_leader",
    "move_lease(10,false)",
  ]);
});

/** A LeaseFence on a manual clock; `stops` counts Postgres stops. */
function fenceRig() {
  let now = 0;
  const timers: { at: number; fn: () => void; alive: boolean }[] = [];
  const stops: number[] = [];
  const armed: number[] = [];
  const deps = {
    clock: {
      now: () => now,
      wallNow: () => now,
      after: (ms: number, fn: () => void) => {
        const t = { at: now + ms, fn, alive: true };
        timers.push(t);
        return () => void (t.alive = false);
      },
    },
    pg: { stop: () => (stops.push(now), Promise.resolve()) },
    log: { cycle: () => {}, warn: () => {}, error: () => {} },
    fence: { arm: (ms: number) => void armed.push(now + ms), disarm: () => {} },
  } as unknown as AgentDeps;
  // The configured ttl the loop last read (older code armed from it and judged the deadline by it).
  const loop = {
    configured: 10,
    ttl: () => loop.configured,
    paused: () => false,
    stopped: () => false,
    wake() {},
    jobs: { cancel: () => Promise.resolve(false) },
  };
  const fence = new LeaseFence(deps, loop);
  const advance = async (to: number) => {
    now = to;
    for (const t of timers.filter((x) => x.alive && x.at <= now)) {
      t.alive = false;
      t.fn();
    }
    for (let i = 0; i < 10; i++) await null;
  };
  return { fence, stops, armed, advance, loop };
}

Deno.test("LeaseFence arms every deadline with the ttl it is given, and fires after a later ttl increase", async () => {
  const { fence, stops, armed, advance, loop } = fenceRig();
  fence.renewed(1000, 10);
  assert.equal(fence.deadline, 1000 + 10_000 - 2500);
  assert.deepEqual(armed, [1000 + 10_000 - 2500 + 1250], "the supervisor: half a margin later");
  assert.equal(fence.lockedUntil, 11_000);
  // The configured ttl rose to 30 since, but no renewal came: the deadline armed with 10 s still fires.
  loop.configured = 30;
  await advance(8500);
  assert.deepEqual(stops, [8500]);
  assert.equal(fence.holdsLock(), false);
});

Deno.test("LeaseFence: a renewal armed with a longer ttl pushes the deadline out", async () => {
  const { fence, stops, advance } = fenceRig();
  fence.renewed(1000, 10);
  await advance(5000);
  fence.renewed(5000, 30);
  assert.equal(fence.deadline, 5000 + 25_000);
  await advance(8500);
  assert.deepEqual(stops, [], "the first deadline passed after a renewal pushed it out");
  await advance(30_000);
  assert.deepEqual(stops, [30_000]);
});
