/**
 * A lease renewal whose answer came late (the agent was stopped between the call and its answer, SIGSTOP then
 * SIGCONT, or etcd answered slowly): the lease was renewed no later than the call's start, so a watchdog ping on
 * its answer would set the hardware deadline past the lease's expiry. Such a renewal neither pings the watchdog
 * nor arms any fence later than the renewal's start allows, and the plan stops there (the next cycle runs at
 * once).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { WatchdogPort } from "../../src/core/ports.ts";
import { MemoryDcs } from "../fakes/memory_dcs.ts";
import { fakeMember, stepAgent, testAgent, type TestClock } from "../helpers/agent_fixture.ts";

/** pg1's DCS, whose lock actions take `slowMs` of virtual time after the call started. */
class SlowDcs extends MemoryDcs {
  clock: TestClock | null = null;
  slowMs = 0;
  callStartedAt: number | null = null;
  override updateLeader(): Promise<boolean> {
    this.callStartedAt = this.clock!.now;
    const answer = super.updateLeader(); // the lease is renewed as the call starts
    this.clock!.now += this.slowMs; // the answer is read this much later
    return answer;
  }
  /** Renewals here go through `updateLeader` (a slow refresh is tests/unit/cycle_renewal_test.ts's). */
  override lockReadSinceRenewal(): boolean {
    return false;
  }
}

/** A watchdog that records when it would fire: `ping + (ttl - 5 s)` (safety_margin 5, the default). */
function recordingWatchdog(clock: TestClock) {
  const box = { deadline: null as number | null, pings: 0 };
  const port: WatchdogPort = {
    unusable: () => null,
    keepalive: (ttl) => {
      box.pings++;
      box.deadline = clock.now + (ttl - 5) * 1000;
      return true;
    },
    disable: () => void (box.deadline = null),
    get running() {
      return box.deadline !== null;
    },
  };
  return { port, box };
}

Deno.test("watchdog-stale: a renewal answered too late does not ping the watchdog past the lease's expiry", async () => {
  const { clock, etcd, dcs, pg } = fakeMember({ makeDcs: (e, id) => new SlowDcs(e, id) });
  dcs.clock = clock;
  const wd = recordingWatchdog(clock);
  const agent = testAgent(clock, {
    dcs,
    pg,
    watchdog: wd.port,
    log: { cycle: () => {}, warn: () => {}, error: () => {} },
  });
  const step = stepAgent(agent, clock, etcd);
  for (let i = 0; i < 10 && !(agent.holdsLock() && wd.box.deadline !== null); i++) await step();
  assert.equal(agent.holdsLock(), true, "pg1 leads");
  await step(); // one ordinary renewal
  assert.equal(dcs.callStartedAt !== null, true, "it renewed");
  const pingsBefore = wd.box.pings;
  dcs.slowMs = 8000; // ttl 30, watchdog timeout 25: a ping 8 s after the renewal fires 3 s after the lease expires
  const r = await agent.runCycle();
  const leaseExpiry = dcs.callStartedAt! + 30_000;
  assert.ok(
    wd.box.deadline === null || wd.box.deadline <= leaseExpiry,
    `watchdog fires at ${wd.box.deadline}, after the lease renewed at ${dcs.callStartedAt} expires (${leaseExpiry})`,
  );
  assert.equal(wd.box.pings, pingsBefore, "no ping for a stale renewal");
  assert.ok((agent.fenceDeadline ?? 0) <= leaseExpiry, `agent timer at ${agent.fenceDeadline}`);
  assert.equal(r?.decision.actions[r.failedAt]?.type, "renew_leader", JSON.stringify(r));
  assert.match(r?.error ?? "", /stale renewal/);
});
