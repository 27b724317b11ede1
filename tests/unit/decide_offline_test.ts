/**
 * decide() as a specification, with etcd out of reach (src/core/decide_offline.ts): a Postgres that may be
 * writable stops (fast when replicas stream, else immediate), a replica is left alone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, obs, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

Deno.test("decide() demotes a primary when etcd cannot be reached: fast with streaming replicas, else immediate", () => {
  // Fast, as Patroni's 'offline' demotion: the shutdown checkpoint reaches every streaming replica, so a replica
  // promoted later holds every acknowledged write. An immediate stop lost the last one (chaos suite, cut-etcd);
  // a fast stop that hangs on an unreachable replica accepts no writes meanwhile, and the fence deadline ends it.
  const streaming = {
    usename: "replicator",
    application_name: "pg2",
    client_addr: "10.0.0.2",
    state: "streaming",
    sync_state: "async",
    sync_priority: 0,
  };
  const withReplica = decide(obs({ ...PRIMARY, replication: [streaming] }, null), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(withReplica.actions, [{ type: "demote", mode: "fast" }]);
  // No replica to send a shutdown checkpoint to: it would only diverge this server's history.
  const d = decide(obs({ ...PRIMARY, replication: [] }, null), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.equal(d.reason, "demoting self because DCS is not accessible and I was a leader");
});

Deno.test("decide() leaves a replica alone when etcd cannot be reached", () => {
  const d = decide(obs(pgState(), null), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /^DCS is not accessible/);
});

Deno.test("decide() demotes a possibly-writable silent Postgres when etcd cannot be reached", () => {
  const silent = pgState({ queryable: false, role: null, standbySignal: false, replicationState: null });
  assert.deepEqual(decide(obs(silent, null), INITIAL_MEMORY, ctx("pg1")).actions, [{
    type: "demote",
    mode: "immediate",
  }]);
});

Deno.test("decide() drops the lease of a member that was the leader when etcd cannot be reached", () => {
  // Regression (simulator, invariant e): the leader's release of the key could not get through, and the lease
  // renewal every cycle starts with (for the member key) kept the leader key alive on the same lease long after
  // the member had stopped its Postgres. The lease is dropped first (no call), so the key expires within its TTL.
  const leader = { ...INITIAL_MEMORY, isLeader: true };
  const d = decide(obs({ ...PRIMARY, replication: [] }, null), leader, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "drop_lease" }, { type: "demote", mode: "immediate" }]);
  assert.equal(d.memory.isLeader, false);
  // Already stopped (its fence or a previous cycle stopped it): the lease is dropped all the same.
  const stopped = decide(
    obs(pgState({ running: false, queryable: false, role: null }), null),
    leader,
    ctx("pg1"),
  );
  assert.deepEqual(stopped.actions, [{ type: "drop_lease" }]);
  // Once given up, it is not dropped again at every cycle (a replica's lease holds only its member key).
  assert.deepEqual(decide(obs(pgState(), null), stopped.memory, ctx("pg1")).actions, []);
});

Deno.test("decide() starts a primary it demoted because etcd was out of reach again as a read-only replica, once", () => {
  // As Patroni's offline demotion ends (follow with nobody to follow): reads keep being served and the server's own
  // WAL is replayed; Patroni's dcs_failsafe_mode scenario queries the demoted member as a replica.
  const demoted = decide(obs({ ...PRIMARY, replication: [] }, null), INITIAL_MEMORY, ctx("pg1"));
  assert.equal(demoted.memory.offlineDemoted, true);
  const stopped = pgState({ running: false, queryable: false, role: null });
  const next = decide(obs(stopped, null), demoted.memory, ctx("pg1"));
  assert.deepEqual(next.actions, [{
    type: "start_job",
    job: { kind: "start", role: "replica", upstream: null },
  }]);
  assert.equal(next.reason, "starting as a read-only replica after the demotion (DCS is not accessible)");
  assert.equal(next.memory.offlineDemoted, undefined);
  // Stopped for any other reason, it stays stopped while etcd is out of reach, as in Patroni.
  assert.deepEqual(decide(obs(stopped, null), INITIAL_MEMORY, ctx("pg1")).actions, []);
  // etcd back before the start: the ordinary rules decide, and a later outage starts nothing.
  const back = decide(obs(stopped, view()), demoted.memory, ctx("pg1"));
  assert.equal(back.memory.offlineDemoted, undefined);
});
