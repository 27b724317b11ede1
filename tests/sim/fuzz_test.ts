/**
 * Seeded random fault schedules against a 3-member simulated cluster, with every invariant of `sim.ts` checked
 * after every step (a: one writable primary, b: promotion only under the lock, c: no foreign/lower upstream,
 * d: liveness once faults are healed, e: no member waits on a history that is not the leader's for long). fast-check generates and, on failure, shrinks the schedule.
 *
 * `HACTL_SIM_SCHEDULES` sets the number of schedules (default 10,000), `HACTL_SIM_SEED` the fast-check seed
 * (default fixed, so CI is reproducible), `HACTL_SIM_CHECK_HISTORIES=0` relaxes invariant c to timeline numbers
 * and system ids only. A failure prints the seed, the shrunk schedule and the trace tail.
 *
 * `edit-config` changes ttl/loop_wait/retry_timeout mid-schedule (and back when it heals), for invariant (g):
 * every fence deadline stays within the lease that holds the leader key.
 *
 * Agents frozen or dead for longer than the lease while their Postgres runs as primary are fuzzed: the fencing
 * supervisor (modelled by the simulator as a process of its own) must stop Postgres in time. Not fuzzed on
 * purpose: host crashes before the cluster is initialized (an `initialize` key left by a dead bootstrapper blocks
 * the cluster, as in Patroni).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Sim } from "./sim.ts";

const SCHEDULES = Number(Deno.env.get("HACTL_SIM_SCHEDULES") ?? "10000");
const SEED = Number(Deno.env.get("HACTL_SIM_SEED") ?? "20240917");
const CHECK_HISTORIES = Deno.env.get("HACTL_SIM_CHECK_HISTORIES") !== "0";

const FAULTS = [
  "partition",
  "partition-dcs",
  "crash-postgres",
  "restart-agent",
  "stop-agent",
  "kill-agent",
  "host-crash",
  "delay",
  "lag",
  "switchover",
  "edit-config",
] as const;
type FaultKind = typeof FAULTS[number];

interface Fault {
  /** Seconds after the start. */
  at: number;
  kind: FaultKind;
  member: number;
  /** Seconds until the fault is healed. */
  duration: number;
}

interface Schedule {
  seed: number;
  timing: 0 | 1;
  offsets: number[];
  seconds: number;
  faults: Fault[];
  writes: { at: number; bytes: number }[];
}

const TIMINGS = [
  { ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576 },
  { ttl: 20, loop_wait: 5, retry_timeout: 5, maximum_lag_on_failover: 1048576 },
];

/** What an `edit-config` fault changes the timing to (and, when it heals, back to the schedule's own). */
const EDITED_TIMINGS = [
  { ttl: 10, loop_wait: 2, retry_timeout: 4 },
  { ttl: 30, loop_wait: 10, retry_timeout: 10 },
  { ttl: 20, loop_wait: 5, retry_timeout: 5 },
  { ttl: 15, loop_wait: 3, retry_timeout: 6 },
];

const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  timing: fc.constantFrom(0 as const, 1 as const),
  offsets: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 3, maxLength: 3 }),
  seconds: fc.integer({ min: 300, max: 600 }),
  faults: fc.array(
    fc.record({
      at: fc.integer({ min: 60, max: 540 }),
      kind: fc.constantFrom(...FAULTS),
      member: fc.integer({ min: 0, max: 2 }),
      duration: fc.integer({ min: 1, max: 120 }),
    }),
    { maxLength: 8 },
  ),
  writes: fc.array(
    fc.record({ at: fc.integer({ min: 20, max: 600 }), bytes: fc.integer({ min: 1, max: 16384 }) }),
    { maxLength: 40 },
  ),
});

/** What the schedules exercised, so a fuzzer that silently stopped injecting faults is noticed. */
const stats = { schedules: 0, cycles: 0, faults: 0, promotions: 0, virtualMs: 0 };

/** Play one schedule; throws SimViolation when an invariant breaks. */
async function play(s: Schedule, checkHistories = CHECK_HISTORIES): Promise<void> {
  // pg_rewind on in one timing profile, off in the other: both rejoin paths are fuzzed.
  const dcs = { ...TIMINGS[s.timing]!, postgresql: { use_slots: true, use_pg_rewind: s.timing === 0 } };
  const sim = new Sim({
    members: 3,
    seed: s.seed,
    bootstrapDcs: dcs,
    startOffsets: s.offsets,
    checkHistories,
    onLine: (l) => void (l.kind === "cycle" ? stats.cycles++ : stats.faults++),
  });
  const { ttl } = sim.settings;
  // A stalled loop (a hung etcd call, a frozen agent) may outlast the lease: the agent's fence timer, or when the
  // whole agent is frozen or dead, the fencing supervisor, stops a primary before the lease expires.
  const maxDelay = 2 * ttl * 1000;
  let lastHeal = 0;
  for (const f of s.faults) {
    const name = `pg${f.member + 1}`;
    const at = f.at * 1000;
    const heal = (at2: number, fn: () => void) => {
      sim.at(at2, fn);
      lastHeal = Math.max(lastHeal, at2);
    };
    switch (f.kind) {
      case "partition":
        sim.at(at, () => sim.partition(name, true));
        heal(at + f.duration * 1000, () => sim.partition(name, false));
        break;
      case "partition-dcs":
        sim.at(at, () => sim.partitionDcs(name, true));
        heal(at + f.duration * 1000, () => sim.partitionDcs(name, false));
        break;
      case "crash-postgres":
        sim.at(at, () => sim.crashPostgres(name));
        break;
      case "restart-agent":
        sim.at(at, () => sim.restartAgent(name));
        break;
      case "stop-agent":
        sim.at(at, () => sim.stopAgent(name));
        heal(at + f.duration * 1000, () => sim.startAgent(name));
        break;
      case "kill-agent":
        sim.at(at, () => sim.killAgent(name));
        heal(at + f.duration * 1000, () => sim.startAgent(name));
        break;
      case "host-crash":
        sim.at(at, () => sim.hostCrash(name));
        heal(at + f.duration * 1000, () => sim.hostStart(name));
        break;
      case "delay": {
        const ms = Math.min(f.duration * 1000, maxDelay);
        sim.at(at, () => sim.delay(name, ms));
        break;
      }
      case "lag":
        sim.at(at, () => sim.lag(name, true));
        heal(at + f.duration * 1000, () => sim.lag(name, false));
        break;
      case "switchover":
        // A request as `hactl switchover` writes it: from the current leader, to this member (odd durations: to
        // anyone), or with no leader key a failover to this member.
        sim.at(at, () => {
          const leader = sim.leaderKey();
          const candidate = f.duration % 2 === 0 ? { member: name } : {};
          sim.requestFailover(leader ? { leader, ...candidate } : { member: name });
        });
        break;
      case "edit-config": {
        // `hactl edit-config` changes ttl/loop_wait/retry_timeout while the cluster runs, then changes them back.
        const { ttl, loop_wait, retry_timeout } = TIMINGS[s.timing]!;
        sim.at(at, () => sim.editConfig(EDITED_TIMINGS[f.duration % EDITED_TIMINGS.length]!));
        heal(at + f.duration * 1000, () => sim.editConfig({ ttl, loop_wait, retry_timeout }));
        break;
      }
    }
  }
  for (const w of s.writes) sim.at(w.at * 1000, () => sim.write(w.bytes));
  const end = Math.max(s.seconds * 1000, lastHeal + sim.livenessWindow() + 10_000);
  await sim.runUntil(end);
  sim.check();
  stats.schedules++;
  stats.promotions += sim.world.promotions.length;
  stats.virtualMs += end;
}

Deno.test(`sim fuzz: ${SCHEDULES} random fault schedules keep every invariant (seed ${SEED})`, async () => {
  try {
    await fc.assert(fc.asyncProperty(scheduleArb, (s) => play(s)), { numRuns: SCHEDULES, seed: SEED });
  } catch (err) {
    // deno-lint-ignore no-console
    console.error(
      `simulation fuzz failed; reproduce with HACTL_SIM_SEED=${SEED} HACTL_SIM_SCHEDULES=${SCHEDULES}`,
    );
    throw err;
  }
  // The schedules must really fail over now and then, else the invariants were never put to the test.
  assert.ok(stats.promotions >= SCHEDULES / 10, `too few failovers exercised: ${JSON.stringify(stats)}`);
  assert.ok(stats.cycles >= SCHEDULES * 50, `too few cycles: ${JSON.stringify(stats)}`);
  if (Deno.env.get("HACTL_SIM_STATS") === "1") {
    // deno-lint-ignore no-console
    console.error(`sim fuzz stats: ${JSON.stringify(stats)}`);
  }
});
