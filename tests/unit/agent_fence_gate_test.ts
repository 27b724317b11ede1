/**
 * The agent with its fencing supervisor's channel (src/shell/observe.ts, executor.ts): a supervisor that is not
 * usable keeps a fresh member from leading and says so once in the log; one that goes away between the
 * observation and the lock action stops the plan at the lock (no promotion on it), and the next cycle gives the
 * key up.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { FenceChannel } from "../../src/core/ports.ts";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";

function member(unusable: () => string | null) {
  const { clock, etcd, dcs, pg } = fakeMember();
  const warnings: string[] = [];
  const arms: number[] = [];
  const fence: FenceChannel = { arm: (ms) => void arms.push(ms), disarm: () => {}, unusable };
  const agent = testAgent(clock, {
    dcs,
    pg,
    fence,
    log: { cycle: () => {}, warn: (m) => void warnings.push(m), error: () => {} },
  });
  return { agent, dcs, warnings, arms, step: stepAgent(agent, clock, etcd) };
}

Deno.test("Agent without a usable fencing supervisor does not bootstrap or lead, and says why once", async () => {
  const { agent, warnings, step } = member(() => "could not start hactl: No such file or directory");
  const reasons: string[] = [];
  for (let i = 0; i < 4; i++) reasons.push((await step())!.decision.reason);
  assert.equal(agent.holdsLock(), false);
  assert.match(reasons[0]!, /^not bootstrapping a new cluster because the fencing supervisor is not running/);
  assert.equal(
    warnings.filter((w) => /fencing supervisor is not running/.test(w)).length,
    1,
    warnings.join("\n"),
  );
  assert.deepEqual(agent.snapshot().fenceSupervisor, {
    state: "not running",
    usable: false,
    problem: "could not start hactl: No such file or directory",
  });
});

Deno.test("a supervisor gone between the observation and the lock action stops the plan at the lock", async () => {
  let calls = 0;
  let goneAfter = Infinity;
  const { agent, dcs, step } = member(() => (++calls > goneAfter ? "it exited with code 1" : null));
  const first = await step();
  assert.equal(first!.decision.reason, "trying to bootstrap a new cluster");
  goneAfter = calls + 1; // this cycle's observation still sees it; the executor's check after the lock does not
  const second = await step();
  assert.equal(second!.decision.reason, "initialized a new cluster");
  const failed = second!.decision.actions[second!.failedAt]?.type;
  assert.equal(failed, "acquire_leader", JSON.stringify(second));
  assert.match(second!.error ?? "", /the fencing supervisor is not running \(it exited with code 1\)/);
  const third = await step();
  assert.match(third!.decision.reason, /because the fencing supervisor is not running/);
  assert.equal(agent.holdsLock(), false);
  assert.equal((await dcs.loadCluster()).leader, null);
});
