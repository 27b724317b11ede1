/**
 * The requests a running agent keeps (src/shell/requests.ts): a restart asked for now waits on the agent's own
 * clock (so the simulator's virtual clock governs it) and answers with a domain result; one restart at a time.
 */
import assert from "node:assert/strict";
import { Requests, type RequestsHost } from "../../src/shell/requests.ts";
import type { AgentDeps } from "../../src/shell/deps.ts";
import type { JobRunner } from "../../src/shell/jobs.ts";
import { primarySnapshot } from "../helpers/api_stub.ts";

function setup() {
  const timers: { at: number; fn: () => void; alive: boolean }[] = [];
  let now = 0;
  const logs: string[] = [];
  const deps = {
    clock: {
      now: () => now,
      wallNow: () => 1_800_000_000_000 + now,
      after: (ms: number, fn: () => void) => {
        const t = { at: now + ms, fn, alive: true };
        timers.push(t);
        return () => void (t.alive = false);
      },
    },
    log: { cycle: () => {}, info: (m: string) => void logs.push(m), warn: () => {}, error: () => {} },
  } as unknown as AgentDeps;
  let wakes = 0;
  const host: RequestsHost = {
    jobs: { peek: () => null } as unknown as JobRunner,
    holdsLock: () => true,
    wake: () => void wakes++,
    snapshot: () => primarySnapshot("demo", now),
    pg: () => primarySnapshot("demo", now).pg,
    refreshPostgresStatus: () => Promise.resolve(),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((t) => t.alive && t.at <= now)) (t.alive = false, t.fn());
  };
  return { requests: new Requests(deps, host), advance, timers, logs, wakes: () => wakes };
}

Deno.test("Requests.restartNow: the wait runs on the agent's clock and ends as timed_out; then a new one is taken", async () => {
  const { requests, advance, timers } = setup();
  const answer = requests.restartNow({}, 60_000);
  assert.equal(timers.length, 1, "one timer on the Clock port, none of the runtime's");
  assert.deepEqual(requests.pendingRestart?.at, null, "the cycle sees a restart asked for now");
  assert.deepEqual(await requests.restartNow({}, 60_000), { kind: "busy", what: "restart" });
  let settled = false;
  void answer.then(() => (settled = true));
  advance(59_999);
  for (let i = 0; i < 10; i++) await null;
  assert.equal(settled, false, "not before waitMs on the agent's clock");
  advance(1);
  assert.deepEqual(await answer, { kind: "timed_out" });
  assert.equal(requests.pendingRestart, null, "forgotten once the request gave up");
  const again = requests.restartNow({}, 60_000);
  requests.restartStarted();
  requests.restartDone(true);
  assert.deepEqual(await again, { kind: "restarted" });
  assert.equal(timers.at(-1)!.alive, false, "the wait's timer is cancelled when the restart is done");
});

Deno.test("Requests.restartNow: a failed restart job answers failed; unmet conditions are logged and refused", async () => {
  const { requests, logs } = setup();
  const answer = requests.restartNow({}, 60_000);
  requests.restartStarted();
  requests.restartDone(false);
  assert.deepEqual(await answer, { kind: "failed" });
  assert.deepEqual(await requests.restartNow({ role: "replica" }, 60_000), {
    kind: "conditions_unmet",
    condition: "role is primary, not replica",
  });
  assert.deepEqual(logs, ["restart conditions are not satisfied: role is primary, not replica"]);
});

Deno.test("Requests: one scheduled restart; a restart asked for now goes first and leaves it in place", () => {
  const { requests, wakes } = setup();
  assert.deepEqual(requests.scheduleRestart({}, "2027-01-15T09:00:00+00:00", 5), { kind: "scheduled" });
  assert.deepEqual(requests.scheduleRestart({}, "2027-01-15T10:00:00+00:00", 6), {
    kind: "already_scheduled",
  });
  assert.equal(requests.restartDueAt, 5);
  void requests.restartNow({}, 60_000);
  assert.equal(requests.restartDueAt, null, "nothing to wake up for while a restart now is pending");
  requests.restartStarted();
  assert.equal(requests.pendingRestart?.at, 5, "the scheduled one is still there");
  assert.deepEqual(requests.deleteScheduledRestart(), { kind: "deleted" });
  assert.deepEqual(requests.deleteScheduledRestart(), { kind: "none_scheduled" });
  assert.equal(wakes(), 3, "scheduling, the restart now and the deletion each wake the loop");
});
