/**
 * `primary_race_backoff` as Patroni applies it: with no leader key, a streaming replica whose WAL position moved
 * since its previous cycle (the primary is still writing: its agent, not its Postgres, stopped answering) waits
 * up to `primary_race_backoff` seconds before it races ("My (pg2) wal position moved since last heart beat loop,
 * N seconds until leader race"); it races once the position stands still or the backoff is spent, and not at all
 * during the first loop_wait of it. Off by default (0), never in maintenance mode or for a named candidate.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS, normalizeDynamic } from "../../src/config/dynamic.ts";
import { INITIAL_MEMORY, type Memory } from "../../src/core/types.ts";
import { ctx, obs, peer, pgState, types, view } from "../helpers/decide_inputs.ts";

const dynamic = { ...DYNAMIC_DEFAULTS, loopWait: 3, primaryRaceBackoff: 6 };
const me = ctx("pg2", { dynamic });
const noLeader = view({ leader: null });
const at = (now: number, wal: number) =>
  obs(pgState({ walPosition: wal }), noLeader, { now, peers: [peer("pg3", 0)] });

Deno.test("primary_race_backoff: a replica still receiving WAL waits, then races once the backoff is spent", () => {
  // The previous cycle (leader still there) saw position 5000.
  const led = decide(obs(pgState({ walPosition: 5000 }), view(), { now: 1_000_000 }), INITIAL_MEMORY, me);
  let mem: Memory = led.memory;
  const first = decide(at(1_001_000, 6000), mem, me);
  assert.deepEqual(first.actions, []);
  assert.equal(
    first.reason,
    "My (pg2) wal position moved since last heart beat loop, 6 seconds until leader race",
  );
  mem = first.memory;
  // Still moving 4 s later: still waiting.
  const later = decide(at(1_005_000, 7000), mem, me);
  assert.match(later.reason, /^My \(pg2\) wal position moved since last heart beat loop, 2 seconds until/);
  // Backoff spent: it races although the position still moves.
  const spent = decide(at(1_007_500, 8000), later.memory, me);
  assert.deepEqual(types(spent.actions), ["acquire_leader", "write_history", "promote"]);
});

Deno.test("primary_race_backoff: a position that stands still races after the first loop_wait", () => {
  const led = decide(obs(pgState({ walPosition: 5000 }), view(), { now: 1_000_000 }), INITIAL_MEMORY, me);
  const first = decide(at(1_001_000, 5000), led.memory, me);
  assert.match(first.reason, /6 seconds until leader race/, "within the first loop_wait it always waits");
  const still = decide(at(1_004_500, 5000), first.memory, me);
  assert.deepEqual(types(still.actions), ["acquire_leader", "write_history", "promote"]);
});

Deno.test("primary_race_backoff: off by default, not for a named candidate, reset once a leader is back", () => {
  const led = decide(
    obs(pgState({ walPosition: 5000 }), view(), { now: 1_000_000 }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  const off = decide(at(1_001_000, 6000), led.memory, ctx("pg2"));
  assert.deepEqual(types(off.actions), ["acquire_leader", "write_history", "promote"]);
  const led2 = decide(obs(pgState({ walPosition: 5000 }), view(), { now: 1_000_000 }), INITIAL_MEMORY, me);
  const asked = view({ leader: null, failover: { member: "pg2", modRevision: "40" } });
  const cand = decide(obs(pgState({ walPosition: 6000 }), asked, { now: 1_001_000 }), led2.memory, me);
  assert.ok(types(cand.actions).includes("acquire_leader"));
  // A leader back in between: the next race starts a new backoff.
  const first = decide(at(1_001_000, 6000), led2.memory, me);
  const back = decide(obs(pgState({ walPosition: 6500 }), view(), { now: 1_020_000 }), first.memory, me);
  const again = decide(at(1_021_000, 7000), back.memory, me);
  assert.match(again.reason, /6 seconds until leader race/);
});

Deno.test("primary_race_backoff is read from the dynamic configuration (seconds, at least 0)", () => {
  assert.equal(normalizeDynamic({ primary_race_backoff: 6 }).settings.primaryRaceBackoff, 6);
  assert.equal(normalizeDynamic({}).settings.primaryRaceBackoff, undefined);
});
