/**
 * Safety gaps the simulator found, each a minimal, deterministic reproduction (shrunk by fast-check from fuzz
 * counterexamples), kept as regression tests now that they pass. A new finding starts here as a failing test
 * (`ignore: !runFindings` with `HACTL_SIM_FINDINGS=1` to run it) until its fix lands.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SimViolation } from "./invariants.ts";
import { Sim } from "./sim.ts";

const FAST = { ttl: 20, loop_wait: 5, retry_timeout: 5, maximum_lag_on_failover: 1048576 };
const DEFAULT = { ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576 };

/** Run the scenario; fail with the simulator's own report when an invariant breaks. */
async function expectNoViolation(sim: Sim, until: number): Promise<void> {
  try {
    await sim.runUntil(until);
  } catch (err) {
    if (err instanceof SimViolation) assert.fail(err.message);
    throw err;
  }
}

Deno.test({
  name: "sim: a demoted primary does not stream another member's timeline that reuses its timeline number",
  // Regression, fixed by publishing `history` and seeding it before promotion: pg2 is promoted to timeline 2 and
  // cut off before anyone receives its end-of-recovery record; pg3 used to be promoted from timeline 1 to *another*
  // timeline 2 at the same switch point, and pg2 then streamed from pg3 mixing two histories. Now the leader
  // publishes its switch in `history`, and a promotion first makes every timeline in the key known to Postgres, so
  // pg3 lands on timeline 3, which pg2's timeline 2 cannot follow without a rewind.
  fn: async () => {
    const sim = new Sim({ members: 3, bootstrapDcs: FAST, startOffsets: [0, 0, 0] });
    sim.at(20_000, () => sim.write(1));
    sim.at(60_000, () => sim.partition("pg3", true));
    sim.at(60_000, () => sim.partition("pg1", true));
    sim.at(76_000, () => sim.partition("pg3", false));
    sim.at(78_000, () => sim.partition("pg1", false));
    sim.at(78_000, () => sim.partition("pg2", true));
    sim.at(94_000, () => sim.partition("pg2", false));
    await expectNoViolation(sim, 200_000);
  },
});

Deno.test({
  name: "sim: the leader race does not prefer a replica stuck on an older, diverged timeline",
  // Regression, fixed in healthiestVerdict: pg3, the leader on timeline 1, takes 41 bytes of writes in the instant
  // it is cut off; pg1 is promoted to timeline 2; pg3 comes back, cannot stream (its WAL is past the switch point:
  // it needs pg_rewind) and sits in archive recovery on timeline 1. When pg1 is cut off too, bare LSNs made pg3's
  // timeline-1 position look 1 byte ahead of pg2's timeline-2 position, so pg3 won and promoted to a second
  // "timeline 2". Now a peer on a newer timeline vetoes, and one on an older timeline never does.
  fn: async () => {
    const sim = new Sim({ members: 3, bootstrapDcs: DEFAULT, startOffsets: [894, 894, 0] });
    sim.at(20_000, () => sim.write(1));
    sim.at(289_000, () => sim.partition("pg3", true));
    sim.at(289_000, () => sim.write(41));
    sim.at(310_000, () => sim.partition("pg3", false));
    sim.at(313_000, () => sim.partition("pg1", true));
    sim.at(334_000, () => sim.partition("pg1", false));
    await expectNoViolation(sim, 450_000);
  },
});

Deno.test({
  name:
    "sim: a leader whose agent dies while Postgres keeps running stops being writable before another promotes",
  // Regression, fixed by the fencing supervisor: pg1's agent is killed and never restarted; its Postgres keeps
  // running as primary; the supervisor (a process of its own) stops it before the lease expires and pg2 is
  // promoted only then.
  fn: async () => {
    const sim = new Sim({ members: 3 });
    sim.at(60_000, () => sim.killAgent("pg1"));
    await expectNoViolation(sim, 200_000);
  },
});

Deno.test({
  name: "sim: a leader whose fencing supervisor dies gives the key up before its agent can die unguarded",
  // Regression (fail-closed fencing): pg1's supervisor exits at 60 s and stays dead; at 90 s its agent is killed
  // while Postgres runs. Without the gate pg1 kept the key with nothing outside the agent to fence it: once the
  // lease ran out another member promoted beside pg1's writable primary (invariant a), and pg1 held the key with a
  // dead supervisor for good (invariant e). Now pg1 demotes and releases the key as soon as it sees the supervisor
  // gone, and the kill finds a stopped Postgres.
  fn: async () => {
    const sim = new Sim({ members: 3, seed: 1 });
    sim.at(60_000, () => sim.supervisorFault("pg1", "dead"));
    sim.at(90_000, () => sim.killAgent("pg1"));
    await expectNoViolation(sim, 250_000);
  },
});

Deno.test({
  name:
    "sim: a member whose supervisor could not start or froze never holds the key; back, it may lead again",
  // pg1 starts without a supervisor (missing), pg2's freezes before the cluster forms: pg3 must lead (liveness
  // is checked once both are back), pg1 and pg2 never take the key meanwhile (invariant e).
  fn: async () => {
    const sim = new Sim({ members: 3, seed: 7 });
    sim.supervisorFault("pg1", "missing");
    sim.supervisorFault("pg2", "frozen");
    const leaders = new Set<string>();
    sim.at(120_000, () => void leaders.add(sim.leaderKey() ?? "none"));
    sim.at(150_000, () => sim.supervisorFault("pg3", "frozen"));
    sim.at(150_000, () => sim.supervisorFault("pg1", "ok"));
    sim.at(300_000, () => void leaders.add(`later:${sim.leaderKey() ?? "none"}`));
    sim.at(310_000, () => sim.supervisorFault("pg2", "ok"));
    sim.at(310_000, () => sim.supervisorFault("pg3", "ok"));
    await expectNoViolation(sim, 500_000);
    assert.deepEqual([...leaders], ["pg3", "later:pg1"]);
  },
});
