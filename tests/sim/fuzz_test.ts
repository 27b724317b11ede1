/**
 * Seeded random fault schedules against a 3-member simulated cluster, with every invariant checked after every step
 * (invariants.ts: a: one writable primary, b: promotion only under the lock, c: no foreign/lower upstream,
 * d: liveness once faults are healed, e: no key holder with an unusable supervisor, f: no new holder while the
 * config promises what hactl cannot keep, g: every fence deadline of the key holder within the lease that holds the
 * key, h: a primary running without etcd has every failsafe member's confirmation within ttl; and the rules of its
 * registry: acknowledged writes kept within the documented bounds, convergence of every
 * member that is up). fast-check
 * generates the schedules (and with `HACTL_SIM_SHRINK=1` shrinks a failing one).
 *
 * A schedule: a timing profile (30/10/10 with pg_rewind, 20/5/5 and 5/1/2 without, two `maximum_lag_on_failover`
 * bounds), random start
 * offsets per member, random job durations, a required watchdog on every host or none, failsafe mode on or off,
 * synchronous_mode off, on or quorum (each strict or not), a
 * random order among
 * members due at the same instant, port calls that take random virtual time (per-member start and promotion
 * durations among them), up to 8 faults from the registry (fuzz_faults.ts: partitions, one-way cuts, a stopped
 * WAL receiver, crashes, SIGTERM/SIGKILL/SIGSTOP of agents and fencing supervisors, flaky calls, Postgres operation
 * failures, edit-config of ttl/loop_wait/retry_timeout or failsafe_mode, etcd outages, clock steps, a
 * whole-cluster restart, switchovers) and
 * client writes.
 *
 * `HACTL_SIM_SCHEDULES` sets the number of schedules (default 1,000: about a minute on a loaded 2-core machine),
 * `HACTL_SIM_SEED` the fast-check seed (default: a new one per run, always printed with the command that
 * reproduces it), `HACTL_SIM_CHECK_HISTORIES=0` relaxes invariant c to timeline numbers and system ids only,
 * `HACTL_SIM_FINDINGS=1` (or a list of finding ids) also runs the fault kinds and rules that find known bugs not
 * fixed yet, `HACTL_SIM_SHRINK=1` shrinks a failing schedule (slow: the default stops at the first failure, whose
 * schedule and `path` fast-check prints), `HACTL_SIM_PATH=<path>` replays only that schedule and
 * `HACTL_SIM_TRACE=1` prints every cycle and event. The run prints a coverage table (coverage.ts).
 *
 * Not fuzzed on purpose: host crashes before the cluster is initialized (an `initialize` key left by a dead
 * bootstrapper blocks the cluster, as in Patroni).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Sim } from "./sim.ts";
import { evaluations, findingEnabled, RULES } from "./invariants.ts";
import { Coverage, type Role } from "./coverage.ts";
import { type Fault, FAULT_KINDS, leavesUnfenced } from "./fuzz_faults.ts";
import { seededRandom } from "../fakes/memory_pg.ts";
import type { CallPlan } from "./process.ts";
import { formatTraceLine } from "./trace.ts";

const SCHEDULES = Number(Deno.env.get("HACTL_SIM_SCHEDULES") ?? "1000");
const SEED = Number(Deno.env.get("HACTL_SIM_SEED") ?? crypto.getRandomValues(new Uint32Array(1))[0]! >>> 1);
const CHECK_HISTORIES = Deno.env.get("HACTL_SIM_CHECK_HISTORIES") !== "0";
const FINDINGS_ENV = Deno.env.get("HACTL_SIM_FINDINGS");
const SHRINK = Deno.env.get("HACTL_SIM_SHRINK") === "1";
/** fast-check's `path` of one schedule (printed with a failure): replay only that one. */
const PATH = Deno.env.get("HACTL_SIM_PATH");
const TRACE = Deno.env.get("HACTL_SIM_TRACE") === "1";
const REPRODUCE = `HACTL_SIM_SEED=${SEED} HACTL_SIM_SCHEDULES=${SCHEDULES}` +
  (FINDINGS_ENV ? ` HACTL_SIM_FINDINGS=${FINDINGS_ENV}` : "") + " bash scripts/test.sh sim --filter fuzz";

/** The fault kinds drawn in this run (known findings only when enabled). */
const KINDS = Object.entries(FAULT_KINDS).filter(([, k]) => findingEnabled(k.finding)).map(([kind]) => kind);

interface Schedule {
  seed: number;
  timing: 0 | 1 | 2;
  offsets: number[];
  durations: { bootstrap: number; createReplica: number; rewind: number; start: number };
  /** Per member: extra ms of `pg_ctl start` and of a promotion. */
  slow: { start: number; promote: number }[];
  /** Largest latency of one port call (ms); 0: every call answers at once. */
  latency: number;
  /** Every agent has a required watchdog (simulated device that resets the host). */
  watchdog: boolean;
  /** The cluster runs in failsafe mode (`failsafe_mode: true` in bootstrap.dcs). */
  failsafe?: boolean;
  /** synchronous_mode: 0 off, 1 on, 2 on and strict, 3 quorum, 4 quorum and strict. */
  sync: 0 | 1 | 2 | 3 | 4;
  seconds: number;
  faults: Fault[];
  writes: { at: number; bytes: number }[];
}

const TIMINGS = [
  { ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576 },
  { ttl: 20, loop_wait: 5, retry_timeout: 5, maximum_lag_on_failover: 16384 },
  // The short lease, hactl's floor.
  { ttl: 5, loop_wait: 1, retry_timeout: 2, maximum_lag_on_failover: 16384 },
];

const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  timing: fc.constantFrom(0 as const, 1 as const, 2 as const),
  offsets: fc.array(fc.integer({ min: 0, max: 15000 }), { minLength: 3, maxLength: 3 }),
  durations: fc.record({
    bootstrap: fc.integer({ min: 500, max: 4000 }),
    createReplica: fc.integer({ min: 500, max: 6000 }),
    rewind: fc.integer({ min: 200, max: 3000 }),
    start: fc.integer({ min: 200, max: 3000 }),
  }),
  slow: fc.array(
    fc.record({ start: fc.integer({ min: 0, max: 3000 }), promote: fc.integer({ min: 0, max: 3000 }) }),
    { minLength: 3, maxLength: 3 },
  ),
  latency: fc.constantFrom(0, 50, 300),
  watchdog: fc.boolean(),
  failsafe: fc.boolean(),
  sync: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const, 4 as const),
  seconds: fc.integer({ min: 300, max: 600 }),
  faults: fc.array(
    fc.record({
      at: fc.integer({ min: 60, max: 540 }),
      kind: fc.constantFrom(...KINDS),
      member: fc.integer({ min: 0, max: 2 }),
      other: fc.integer({ min: 1, max: 2 }),
      duration: fc.integer({ min: 1, max: 120 }),
    }),
    { maxLength: 8 },
  ),
  writes: fc.array(
    fc.record({ at: fc.integer({ min: 20, max: 600 }), bytes: fc.integer({ min: 1, max: 16384 }) }),
    { maxLength: 40 },
  ),
});

const coverage = new Coverage();
/** How many schedules had run when the first one failed (before shrinking), or null. */
let firstFailure: number | null = null;

/** The port-call plan of a schedule: random latency, the members' start and promotion durations, faults. */
function callPlan(s: Schedule): (member: string, port: "dcs" | "pg", method: string) => CallPlan {
  const random = seededRandom(s.seed ^ 0xca11);
  return (member, port, method) => {
    const slow = s.slow[Number(member.slice(2)) - 1]!;
    let latencyMs = Math.floor(random() * (s.latency + 1));
    if (port === "pg" && method === "start") latencyMs += slow.start;
    if (port === "pg" && method === "promote") latencyMs += slow.promote;
    // The outcome counts only while the member is flaky (a fault): one call in four hangs or loses its reply.
    const r = random();
    return { latencyMs, outcome: r < 0.125 ? "hang" : r < 0.25 ? "lost" : "ok" };
  };
}

/** Play one schedule; throws SimViolation when an invariant breaks. */
async function play(s: Schedule, checkHistories = CHECK_HISTORIES): Promise<void> {
  // pg_rewind on in one timing profile, off in the other: both rejoin paths are fuzzed.
  const dcs = {
    ...TIMINGS[s.timing]!,
    postgresql: { use_slots: true, use_pg_rewind: s.timing === 0 },
    // The other profile keeps a history key of one entry (max_timelines_history): promotions must still be unique.
    ...(s.timing === 0 ? {} : { max_timelines_history: 1 }),
    ...(s.failsafe ? { failsafe_mode: true } : {}),
    ...(s.sync > 0
      ? { synchronous_mode: s.sync > 2 ? "quorum" : true, synchronous_mode_strict: s.sync % 2 === 0 }
      : {}),
  };
  const sim = new Sim({
    members: 3,
    seed: s.seed,
    bootstrapDcs: dcs,
    durations: s.durations,
    startOffsets: s.offsets,
    checkHistories,
    shuffleTies: true,
    // At ttl 5 Patroni's default safety_margin leaves the watchdog no timeout: the margin an operator sets there.
    watchdog: s.watchdog && s.timing === 2 ? -1 : s.watchdog,
    callPlan: callPlan(s),
    onLine: (l) => {
      // deno-lint-ignore no-console
      if (TRACE) console.error(formatTraceLine(l));
      if (l.kind === "cycle") (coverage.cycles++, coverage.reason(l.text));
      else coverage.event(l.text);
    },
  });
  // Liveness counts from the last member's start (up to 15 s in): at ttl 5 its window is shorter than that.
  sim.lastFaultChange = Math.max(...s.offsets);
  // A stalled loop (a hung etcd call, a frozen agent) may outlast the lease: the agent's fence timer, or when the
  // whole agent is frozen or dead, the fencing supervisor, stops a primary before the lease expires.
  const maxDelayMs = 2 * sim.settings.ttl * 1000;
  let lastHeal = 0;
  for (const f of s.faults) {
    const name = `pg${f.member + 1}`;
    const other = `pg${((f.member + f.other) % 3) + 1}`;
    const at = f.at * 1000;
    const healAt = at + f.duration * 1000;
    const role = (): Role => {
      const m = sim.member(name);
      if (sim.leaderKey() === name) return "leader";
      return m.state === "running" && m.pg.initialized ? "replica" : "none";
    };
    FAULT_KINDS[f.kind]!.schedule({
      sim,
      name,
      other,
      at,
      healAt,
      maxDelayMs,
      timing: TIMINGS[s.timing]!,
      strike: (fn) => {
        const go = () => {
          // The window the fencing design leaves to a watchdog (docs/fencing.md): an agent fault waits until the
          // cycle its supervisor's client woke has ended, a supervisor fault while its agent is stopped (no watchdog).
          const unfenced = leavesUnfenced(sim, name, f.kind);
          if (unfenced) {
            if (sim.now < at + 60_000) sim.at(sim.now + 500, go);
            return;
          }
          coverage.hit(f.kind, role());
          fn();
        };
        sim.at(at, go);
      },
      heal: (fn) => (sim.at(healAt, fn), lastHeal = Math.max(lastHeal, healAt)),
    }, f);
    lastHeal = Math.max(lastHeal, at + 60_000); // a whole-cluster restart starts members up to 60 s later
  }
  for (const w of s.writes) sim.at(w.at * 1000, () => sim.write(w.bytes));
  const end = Math.max(s.seconds * 1000, lastHeal + sim.convergenceWindow() + 10_000);
  try {
    await sim.runUntil(end);
    sim.check();
  } catch (err) {
    firstFailure ??= coverage.schedules + 1;
    throw err;
  }
  coverage.schedules++;
  coverage.promotions += sim.world.promotions.length;
  coverage.virtualMs += end;
}

Deno.test(`sim fuzz: ${SCHEDULES} random fault schedules keep every invariant (seed ${SEED})`, async () => {
  // deno-lint-ignore no-console
  console.error(`sim fuzz: seed ${SEED}, ${SCHEDULES} schedules; reproduce with: ${REPRODUCE}`);
  try {
    await fc.assert(fc.asyncProperty(scheduleArb, (s) => play(s)), {
      numRuns: SCHEDULES,
      seed: SEED,
      endOnFailure: !SHRINK,
      // Shrinking is bounded too: after 5 minutes fast-check reports the smallest failing schedule found so far.
      ...(SHRINK ? { interruptAfterTimeLimit: 300_000, markInterruptAsFailure: true } : {}),
      ...(PATH ? { path: PATH } : {}),
    });
  } catch (err) {
    // deno-lint-ignore no-console
    console.error(
      `simulation fuzz failed at schedule ${firstFailure}; reproduce with: ${REPRODUCE}`,
    );
    throw err;
  } finally {
    // deno-lint-ignore no-console
    console.error(coverage.table().join("\n"));
  }
  // The schedules must really fail over now and then, else the invariants were never put to the test.
  assert.ok(coverage.promotions >= SCHEDULES / 10, `too few failovers exercised: ${coverage.table()[0]}`);
  assert.ok(coverage.cycles >= SCHEDULES * 50, `too few cycles: ${coverage.table()[0]}`);
  // Every fault kind and every rule in force must have been exercised (a run of a few hundred schedules does).
  if (SCHEDULES >= 500) {
    const idle = [
      ...KINDS.filter((k) => !coverage.faults.has(k)).map((k) => `fault ${k}`),
      ...Object.entries(RULES)
        .filter(([rule, r]) => findingEnabled(r.finding) && !evaluations.get(rule))
        .map(([rule]) => `rule ${rule}`),
    ];
    assert.deepEqual(idle, [], "never exercised in this run");
  }
});
