/**
 * A switchover in maintenance mode, as Patroni does it (`pause: true`): the `failover` key naming a candidate makes
 * the paused leader stop Postgres cleanly and release the key, the candidate (and only it: nobody races in
 * pause) takes the key and promotes, and the former leader starts again as a replica of the new one. Without a
 * candidate the paused leader refuses, in Patroni's words, and clears the request.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { INITIAL_MEMORY, type JobState, type Memory } from "../../src/core/types.ts";
import { ctx, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const PAUSED = { ...DYNAMIC_DEFAULTS, pause: true };
const paused = (name: string) => ctx(name, { dynamic: PAUSED });
const REQUEST = { leader: "pg1", member: "pg2", modRevision: "40" };
const LEADING: Memory = { ...INITIAL_MEMORY, isLeader: true };

Deno.test("paused: the leader hands over to the named candidate: a clean stop, then the key goes", () => {
  const o = obs(PRIMARY, view({ failover: REQUEST }), {
    peers: [peer("pg2", 5000, { replicationState: "streaming" })],
  });
  const d = decide(o, LEADING, paused("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "start_job"]);
  assert.deepEqual(d.actions[1], { type: "start_job", job: { kind: "demote" } });
  assert.equal(d.reason, "PAUSE: switching over to 'pg2': stopping postgres and releasing the lock");
  assert.equal(d.memory.handover, true);
  // The clean stop done: the key is released.
  const stopped = pgState({ ...PRIMARY, running: false, queryable: false });
  const job: JobState = { kind: "demote", description: "demote", startedAt: 0, status: "ok" };
  const released = decide(obs(stopped, view({ failover: REQUEST }), { job }), d.memory, paused("pg1"));
  assert.deepEqual(types(released.actions), ["release_leader"]);
  assert.match(released.reason, /^PAUSE: released the leader key after a clean shutdown for the switchover/);
});

Deno.test("paused: the former leader starts again as a replica of the new leader, and only after a hand-over", () => {
  const stopped = pgState({ ...PRIMARY, running: false, queryable: false });
  const after = view({
    leader: { name: "pg2", createRevision: "50", modRevision: "50", lease: "78" },
    failover: null,
  });
  const d = decide(obs(stopped, after), { ...INITIAL_MEMORY, handover: true }, paused("pg1"));
  assert.equal(d.actions.length, 1);
  const start = d.actions[0]!;
  assert.ok(start.type === "start_job" && start.job.kind === "start" && start.job.role === "replica");
  assert.equal(start.job.upstream?.name, "pg2");
  // Remembered until Postgres runs again (a pg_rewind may come first), then forgotten.
  assert.equal(d.memory.handover, true);
  const running = decide(obs(pgState(), after), d.memory, paused("pg1"));
  assert.equal(running.memory.handover, undefined);
  assert.ok(!types(running.actions).includes("start_job"));
  // Without a hand-over, a stopped Postgres stays stopped in maintenance mode.
  const idle = decide(obs(stopped, after), INITIAL_MEMORY, paused("pg1"));
  assert.deepEqual(idle.actions, []);
  assert.equal(idle.reason, "PAUSE: postgres is not running");
});

Deno.test("paused: the candidate takes the free key and promotes; the other replicas do not race", () => {
  const free = view({ leader: null, failover: REQUEST });
  const d = decide(obs(pgState(), free), INITIAL_MEMORY, paused("pg2"));
  assert.deepEqual(types(d.actions), ["acquire_leader", "write_history", "promote", "clear_failover"]);
  assert.match(d.reason, /^PAUSE: promoted self to leader by acquiring session lock: I am the candidate/);
  const other = decide(obs(pgState(), free), INITIAL_MEMORY, paused("pg3"));
  assert.ok(!types(other.actions).includes("acquire_leader"));
  // A candidate tagged nofailover refuses and clears the request.
  const tagged = decide(
    obs(pgState(), free),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: PAUSED, tags: { nofailover: true } }),
  );
  assert.deepEqual(types(tagged.actions), ["clear_failover"]);
});

Deno.test("paused: a switchover without a candidate is refused in Patroni's words and the request cleared", () => {
  const o = obs(PRIMARY, view({ failover: { leader: "pg1", modRevision: "40" } }), {
    peers: [peer("pg2", 5000)],
  });
  const d = decide(o, LEADING, paused("pg1"));
  assert.ok(!types(d.actions).includes("start_job"));
  assert.ok(types(d.actions).includes("clear_failover"));
  assert.match(d.reason, /Switchover is possible only to a specific candidate in a paused state/);
});

Deno.test("paused: a reinit asked for is carried out (as Patroni runs it in pause), and the clone started again", () => {
  const d = decide(obs(pgState(), view(), { reinitRequested: true }), INITIAL_MEMORY, paused("pg2"));
  assert.deepEqual(types(d.actions), ["demote", "start_job"]);
  assert.match(d.reason, /^PAUSE: reinitializing: removing the data directory and cloning from 'pg1'/);
  const cloned: JobState = { kind: "clone", description: "clone", startedAt: 0, status: "ok" };
  const stopped = pgState({ running: false, queryable: false });
  const next = decide(obs(stopped, view(), { job: cloned }), d.memory, paused("pg2"));
  const start = next.actions[0];
  assert.ok(start?.type === "start_job" && start.job.kind === "start" && start.job.role === "replica");
});

Deno.test("paused: the leader keeps the member slots up, as Patroni does, so a former leader can stream from it", () => {
  const d = decide(obs(PRIMARY, view()), LEADING, paused("pg1"));
  const sync = d.actions.find((a) => a.type === "sync_slots");
  assert.ok(sync && sync.type === "sync_slots", `actions: ${types(d.actions)}`);
  assert.deepEqual(sync.slots, ["pg2", "pg3"]);
  // Not with use_slots off.
  const off = decide(obs(PRIMARY, view()), LEADING, ctx("pg1", { dynamic: { ...PAUSED, useSlots: false } }));
  assert.ok(!types(off.actions).includes("sync_slots"));
});
