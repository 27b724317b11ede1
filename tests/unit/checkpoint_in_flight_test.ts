/**
 * The CHECKPOINT after a promotion runs beside the HA loop (src/shell/checkpoint_runner.ts), as Patroni runs it in a
 * thread of its own: while it runs the loop keeps deciding (here: turning synchronous mode on), a second request is
 * skipped, a shutdown does not wait for it, and its failure under a stop of Postgres is logged at INFO.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { AgentLog, PostgresPort } from "../../src/core/ports.ts";
import type { PgObservation } from "../../src/core/types.ts";
import { CheckpointAfterPromote } from "../../src/shell/checkpoint_runner.ts";
import { KEYS } from "../../src/dcs/codec.ts";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";

/** A CHECKPOINT the test ends by hand. */
interface Pending {
  calls: number;
  finish: () => void;
  fail: (why: string) => void;
}

function pendingCheckpoint(): Pending & { checkpoint: () => Promise<void> } {
  const p: Pending & { checkpoint: () => Promise<void> } = {
    calls: 0,
    finish: () => {},
    fail: () => {},
    checkpoint: () => {
      p.calls++;
      return new Promise<void>((resolve, reject) => {
        p.finish = resolve;
        p.fail = (why) => reject(new Error(why));
      });
    },
  };
  return p;
}

function recordingLog(): AgentLog & { lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (m: string, f?: Record<string, unknown>) =>
    void lines.push(`${level} ${m} ${JSON.stringify(f ?? {})}`);
  return { lines, cycle: () => {}, info: put("INFO"), warn: put("WARN"), error: put("ERROR") };
}

/** pg1 leading a one-member cluster; from `promoted()` on its pg_control shows the timeline before its own. */
async function leaderAfterPromotion() {
  const { clock, etcd, dcs, pg } = fakeMember();
  const cp = pendingCheckpoint();
  let promoted = false;
  const observe = pg.observe.bind(pg);
  pg.observe = async (): Promise<PgObservation> => {
    const o = await observe();
    const old = promoted && o.role === "primary" && typeof o.timeline === "number";
    return old ? { ...o, checkpointTimeline: o.timeline! - 1 } : o;
  };
  pg.checkpoint = cp.checkpoint;
  const log = recordingLog();
  const agent = testAgent(clock, { dcs, pg: pg as PostgresPort, log });
  const step = stepAgent(agent, clock, etcd);
  for (let i = 0; i < 6 && !agent.holdsLock(); i++) await step();
  assert.ok(agent.holdsLock());
  /** One cycle without waiting for anything it started in the background (the CHECKPOINT never ends by itself). */
  const cycle = async () => {
    const r = await agent.runCycle();
    clock.now += 1000;
    etcd.advance();
    return r!;
  };
  const setConfig = async (change: Record<string, unknown>) => {
    const view = await dcs.loadCluster();
    assert.ok(await dcs.setConfig({ ...view.config!.value, ...change }, view.config!.modRevision));
  };
  /** Another member's agent takes the leader key. */
  const steal = () => etcd.put("pg2", dcs.prefix + KEYS.leader, "pg2", etcd.grant("pg2", 30));
  return {
    agent,
    pg,
    cp,
    log,
    cycle,
    setConfig,
    steal,
    promoted: () => void (promoted = true),
    done: () => (promoted = false),
  };
}

Deno.test("while the CHECKPOINT after a promotion runs, the loop keeps deciding: synchronous mode is turned on", async () => {
  const m = await leaderAfterPromotion();
  m.promoted();
  const first = await m.cycle();
  assert.equal(first.decision.actions[0]?.type, "renew_leader");
  assert.equal(m.cp.calls, 1, JSON.stringify(first.decision.actions));
  await m.setConfig({ synchronous_mode: true });
  const next = await m.cycle();
  const types = next.decision.actions.map((a) => a.type);
  assert.ok(types.includes("write_sync"), `${next.decision.reason}: ${JSON.stringify(types)}`);
  assert.equal(next.failedAt, -1, next.error ?? "");
  // Asked again while it runs: skipped, one CHECKPOINT in flight.
  assert.ok(types.includes("checkpoint_after_promote"), JSON.stringify(types));
  assert.equal(m.cp.calls, 1);
  m.cp.finish();
  m.done();
  const after = await m.cycle();
  assert.ok(!after.decision.actions.some((a) => a.type === "checkpoint_after_promote"));
  assert.equal(m.cp.calls, 1);
  assert.ok(!m.log.lines.some((l) => /^(WARN|ERROR)/.test(l)), m.log.lines.join("\n"));
});

Deno.test("a shutdown does not wait for the CHECKPOINT after a promotion; its end by the stop is logged at INFO", async () => {
  const m = await leaderAfterPromotion();
  m.promoted();
  await m.cycle();
  assert.equal(m.cp.calls, 1);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<string>((r) => timer = setTimeout(() => r("still waiting after 5 s"), 5000));
  const outcome = await Promise.race([m.agent.shutdown().then((ok) => `stopped: ${ok}`), deadline]);
  clearTimeout(timer);
  assert.equal(outcome, "stopped: true");
  m.cp.fail("terminating connection due to administrator command");
  await new Promise((r) => setTimeout(r, 0));
  const line = m.log.lines.find((l) => l.includes("CHECKPOINT after promotion ended by the stop"));
  assert.match(line ?? m.log.lines.join("\n"), /^INFO .*\(shutdown\)/);
  assert.ok(!m.log.lines.some((l) => /^(WARN|ERROR)/.test(l)), m.log.lines.join("\n"));
});

Deno.test("a leader that lost its key demotes while the CHECKPOINT after a promotion runs, without waiting for it", async () => {
  const m = await leaderAfterPromotion();
  m.promoted();
  await m.cycle();
  assert.equal(m.cp.calls, 1);
  m.steal();
  const plans: string[] = [];
  for (let i = 0; i < 3 && (await m.pg.observe()).running; i++) {
    const r = await m.cycle();
    plans.push(`${r.decision.reason}: ${JSON.stringify(r.decision.actions.map((a) => a.type))}`);
  }
  assert.equal((await m.pg.observe()).running, false, plans.join("\n"));
  assert.ok(plans.some((p) => p.includes('"demote"')), plans.join("\n"));
  assert.equal(m.cp.calls, 1);
  m.cp.fail("terminating connection due to administrator command");
  await new Promise((r) => setTimeout(r, 0));
  const line = m.log.lines.find((l) => l.includes("CHECKPOINT after promotion ended by the stop"));
  assert.match(line ?? m.log.lines.join("\n"), /^INFO .*\(demoting \((immediate|fast)\)\)/);
  assert.ok(!m.log.lines.some((l) => /CHECKPOINT.*did not complete/.test(l)), m.log.lines.join("\n"));
});

Deno.test("CheckpointAfterPromote: one in flight at most, a failure warned, one under a stop at INFO, done wakes", async () => {
  const cp = pendingCheckpoint();
  const log = recordingLog();
  let wakes = 0;
  const runner = new CheckpointAfterPromote(cp, log, () => void wakes++);
  assert.equal(runner.request(), true);
  assert.equal(runner.request(), false, "a second request while one runs is skipped");
  assert.equal(cp.calls, 1);
  assert.ok(runner.inFlight);
  cp.fail("connection refused");
  await runner.settle();
  assert.equal(runner.inFlight, false);
  assert.match(log.lines.at(-1)!, /^WARN CHECKPOINT after promotion did not complete.*connection refused/);
  assert.equal(runner.request(), true, "asked again after a failure");
  runner.stopping("demoting (immediate)");
  cp.fail("terminating connection due to administrator command");
  await runner.settle();
  assert.match(
    log.lines.at(-1)!,
    /^INFO CHECKPOINT after promotion ended by the stop of postgres \(demoting/,
  );
  assert.equal(wakes, 0);
  runner.stopping("a stop with nothing in flight is not remembered");
  assert.equal(runner.request(), true);
  cp.finish();
  await runner.settle();
  assert.equal(wakes, 1);
  assert.equal(cp.calls, 3);
  assert.ok(!log.lines.some((l) => /^ERROR/.test(l)), log.lines.join("\n"));
});
