/**
 * The loop shell's own rules, on the in-memory fakes: the executor's promote guard, what a DCS failure does to
 * the cycle, and when the loop looks again at once.
 */
import assert from "node:assert/strict";
import { type CycleResult, rerunAtOnce } from "../../src/shell/agent.ts";
import type { AgentLog } from "../../src/core/ports.ts";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";
import type { PostgresPort } from "../../src/core/ports.ts";
import type { CallbackRunner } from "../../src/pg/callbacks.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";

const quietLog: AgentLog = { cycle: () => {}, warn: () => {}, error: () => {} };

function result(over: Partial<CycleResult>): CycleResult {
  return {
    observation: {} as CycleResult["observation"],
    decision: { actions: [], memory: INITIAL_MEMORY, reason: "" },
    failedAt: -1,
    dcsFailed: false,
    ...over,
  };
}

Deno.test("rerunAtOnce(): after a failed lock action, an etcd failure or a promotion, not after a quiet cycle", () => {
  const renew = { type: "renew_leader" as const };
  const plan = (actions: CycleResult["decision"]["actions"]) => ({
    actions,
    memory: INITIAL_MEMORY,
    reason: "",
  });
  assert.equal(rerunAtOnce(result({ decision: plan([renew]), failedAt: 0 })), true);
  const move = { type: "move_lease" as const, ttl: 30, leader: true };
  assert.equal(
    rerunAtOnce(result({ decision: plan([renew, move]), failedAt: 1 })),
    true,
    "a refused key move",
  );
  assert.equal(
    rerunAtOnce(
      result({ decision: plan([renew, { type: "write_status", optime: 1 }]), failedAt: 1, dcsFailed: true }),
    ),
    true,
  );
  assert.equal(
    rerunAtOnce(result({ decision: plan([{ type: "acquire_leader" }, { type: "promote" }]) })),
    true,
  );
  assert.equal(rerunAtOnce(result({ decision: plan([renew, { type: "write_status", optime: 1 }]) })), false);
});

function oneMember(
  wrap: (pg: PostgresPort) => PostgresPort = (pg) => pg,
  log: AgentLog = quietLog,
  callbacks?: CallbackRunner,
) {
  const { clock, etcd, dcs, pg } = fakeMember();
  const agent = testAgent(clock, { dcs, pg: wrap(pg), log, ...(callbacks ? { callbacks } : {}) });
  const step = stepAgent(agent, clock, etcd);
  return { agent, dcs, step };
}

Deno.test("Agent bootstraps a one-member cluster on the fakes and holds the lock", async () => {
  const { agent, dcs, step } = oneMember();
  const reasons: string[] = [];
  for (let i = 0; i < 6 && !agent.holdsLock(); i++) reasons.push((await step())!.decision.reason);
  assert.ok(agent.holdsLock(), reasons.join(" | "));
  assert.deepEqual(reasons.slice(0, 2), ["trying to bootstrap a new cluster", "initialized a new cluster"]);
  const view = await dcs.loadCluster();
  assert.equal(view.leader?.name, "pg1");
  assert.match(view.initialize ?? "", /^[0-9]{10,}$/);
});

Deno.test("Agent survives an unexpected error in a cycle and carries on with the next one", async () => {
  let failNext = false;
  const errors: string[] = [];
  const log: AgentLog = { ...quietLog, error: (m) => void errors.push(m) };
  const { agent, step } = oneMember((pg) => ({
    observe: () => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("spawn pg_controldata: Resource temporarily unavailable"));
      }
      return pg.observe();
    },
    bootstrap: () => pg.bootstrap(),
    createReplica: (u) => pg.createReplica(u),
    rewind: (u) => pg.rewind(u),
    start: (r, u) => pg.start(r, u),
    stop: (m) => pg.stop(m),
    promote: (h) => pg.promote(h),
    checkpoint: () => pg.checkpoint(),
    follow: (u) => pg.follow(u),
    syncSlots: (n) => pg.syncSlots(n),
    setSyncStandbyNames: (v) => pg.setSyncStandbyNames(v),
    reload: (r, u, f) => pg.reload(r, u, f),
    leaderTimeline: (l) => pg.leaderTimeline(l),
    close: () => pg.close(),
  }), log);
  for (let i = 0; i < 6 && !agent.holdsLock(); i++) await step();
  assert.ok(agent.holdsLock());
  failNext = true;
  assert.equal(await step(), null, "the failed cycle reports nothing");
  assert.match(errors.join("\n"), /failed unexpectedly/);
  const next = await step();
  assert.equal(next!.decision.reason, "no action. I am (pg1), the leader with the lock");
});

Deno.test("Agent.restartNow restarts the leader's Postgres in place: the key stays ours and the call answers restarted", async () => {
  const { agent, dcs, step } = oneMember();
  for (let i = 0; i < 4 && !agent.holdsLock(); i++) await step();
  await step();
  assert.ok(agent.holdsLock(), "bootstrapped and leading");
  const startedBefore = agent.snapshot().pg.postmasterStartTime;
  const answer = agent.restartNow({}, 60_000);
  const first = await step();
  assert.deepEqual(first!.decision.actions.map((a) => a.type), ["renew_leader", "write_status", "start_job"]);
  await step();
  assert.deepEqual(await answer, { kind: "restarted" });
  assert.ok(agent.holdsLock(), "the leader kept its key through the restart");
  assert.equal((await dcs.loadCluster()).leader?.name, "pg1");
  await agent.refreshPostgresStatus();
  assert.notEqual(agent.snapshot().pg.postmasterStartTime, startedBefore, "a new postmaster");
  // Conditions that do not hold: refused (503 on the API) and nothing restarts.
  assert.deepEqual(await agent.restartNow({ role: "replica" }, 60_000), {
    kind: "conditions_unmet",
    condition: "role is primary, not replica",
  });
});

Deno.test("Agent keeps one scheduled restart, publishes it in its member key, and forgets it on DELETE", async () => {
  const { agent, dcs, step } = oneMember();
  for (let i = 0; i < 5; i++) await step();
  const at = 1_800_000_000_000 + 3600_000;
  assert.deepEqual(agent.scheduleRestart({ role: "primary" }, "2027-01-15T09:00:00+00:00", at), {
    kind: "scheduled",
  });
  assert.deepEqual(agent.scheduleRestart({}, "2027-01-15T10:00:00+00:00", at), { kind: "already_scheduled" });
  await step();
  const me = (await dcs.loadCluster()).members.find((m) => m.name === "pg1")!;
  assert.equal((me.data.scheduled_restart as Record<string, unknown>).schedule, "2027-01-15T09:00:00+00:00");
  assert.equal((me.data.scheduled_restart as Record<string, unknown>).role, "primary");
  assert.equal(agent.snapshot().scheduledRestart?.schedule, "2027-01-15T09:00:00+00:00");
  // An immediate restart goes first and leaves the scheduled one in place.
  const now = agent.restartNow({}, 60_000);
  await step();
  await step();
  assert.deepEqual(await now, { kind: "restarted" });
  assert.equal(agent.scheduledRestart?.schedule, "2027-01-15T09:00:00+00:00");
  assert.deepEqual(agent.deleteScheduledRestart(), { kind: "deleted" });
  assert.deepEqual(agent.deleteScheduledRestart(), { kind: "none_scheduled" });
  await step();
  const after = (await dcs.loadCluster()).members.find((m) => m.name === "pg1")!;
  assert.equal(after.data.scheduled_restart, undefined);
});

Deno.test("Agent runs on_restart after a restart and on_reload after Postgres reloaded", async () => {
  const fired: string[] = [];
  const { agent, step } = oneMember((pg) => pg, quietLog, {
    fire: (action, role) => void fired.push(`${action} ${role}`),
  });
  for (let i = 0; i < 5; i++) await step();
  const answer = agent.restartNow({}, 60_000);
  await step();
  await step();
  assert.deepEqual(await answer, { kind: "restarted" });
  assert.ok(fired.includes("on_restart primary"), fired.join());
  agent.requestReload("forced");
  const r = await step();
  assert.equal(r!.decision.actions.at(-1)?.type, "reload");
  assert.equal(fired.at(-1), "on_reload primary");
});
