/**
 * The member key as published (src/core/member.ts): Patroni's fields in Patroni's order, WAL positions of a running
 * server, replica-only positions, tags without false predefined booleans, and what counts as a published change.
 */
import assert from "node:assert/strict";
import { memberRecord, publishedShape, publishedTags } from "../../src/core/member.ts";
import { type Observation, PATRONI_COMPATIBLE_VERSION, type PgObservation } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const replica: PgObservation = {
  ...emptyPgObservation(),
  dataDir: "initialized",
  running: true,
  queryable: true,
  role: "replica",
  standbySignal: true,
  timeline: 3,
  walPosition: 500,
  receiveLsn: 510,
  replayLsn: 500,
  replicationState: "streaming",
};

function obs(pg: PgObservation): Observation {
  return {
    now: 0,
    wallNow: 0,
    dcs: { kind: "unreachable", since: 0, error: "cut" },
    pg,
    job: null,
    peers: null,
  };
}

const urls = { connUrl: "postgres://10.0.0.2:5432/postgres", apiUrl: "http://10.0.0.2:8008/patroni" };

Deno.test("memberRecord(): a streaming replica publishes its positions, timeline and tags, in Patroni's order", () => {
  const record = memberRecord({
    obs: obs(replica),
    pg: replica,
    holdsLock: false,
    ...urls,
    tags: { nofailover: false, clonefrom: true, zone: "b" },
    scheduledRestart: null,
    paused: false,
  });
  assert.equal(
    JSON.stringify(record),
    JSON.stringify({
      conn_url: urls.connUrl,
      api_url: urls.apiUrl,
      state: "running",
      role: "replica",
      version: PATRONI_COMPATIBLE_VERSION,
      xlog_location: 500,
      replay_lsn: 500,
      receive_lsn: 510,
      replication_state: "streaming",
      timeline: 3,
      tags: { clonefrom: true, zone: "b" },
    }),
  );
});

Deno.test("memberRecord(): pending and scheduled restarts and pause are published; a stopped server has no position", () => {
  const stopped: PgObservation = {
    ...replica,
    running: false,
    queryable: false,
    pendingRestart: true,
    pendingRestartReason: { shared_buffers: { old_value: "128MB", new_value: "1GB" } },
  };
  const record = memberRecord({
    obs: obs(stopped),
    pg: stopped,
    holdsLock: false,
    ...urls,
    tags: {},
    scheduledRestart: { schedule: "2027-01-15T09:00:00+00:00" },
    paused: true,
  });
  assert.equal(record.xlog_location, undefined);
  assert.equal(record.replay_lsn, undefined);
  assert.equal(record.tags, undefined, "no tags, no key");
  assert.deepEqual(
    [record.timeline, record.pending_restart, record.scheduled_restart, record.pause],
    [3, true, { schedule: "2027-01-15T09:00:00+00:00" }, true],
  );
  assert.deepEqual(record.pending_restart_reason, {
    shared_buffers: { old_value: "128MB", new_value: "1GB" },
  });
});

Deno.test("publishedTags(): false predefined booleans are dropped unless their priority tag is set", () => {
  assert.deepEqual(
    publishedTags({ nofailover: false, nosync: false, nostream: false, noloadbalance: true }),
    {
      noloadbalance: true,
    },
  );
  assert.deepEqual(
    publishedTags({ nofailover: false, failover_priority: 0, nosync: false, sync_priority: 1 }),
    {
      nofailover: false,
      failover_priority: 0,
      nosync: false,
      sync_priority: 1,
    },
  );
});

Deno.test("publishedShape(): role, state and timeline changes count; WAL positions do not", () => {
  assert.equal(publishedShape(replica), publishedShape({ ...replica, walPosition: 900, replayLsn: 900 }));
  assert.notEqual(publishedShape(replica), publishedShape({ ...replica, role: "primary" }));
  assert.notEqual(publishedShape(replica), publishedShape({ ...replica, timeline: 4 }));
  assert.notEqual(
    publishedShape(replica),
    publishedShape({ ...replica, replicationState: "in archive recovery" }),
  );
});

Deno.test("memberRecord(): postgresql.proxy_address is published as proxy_url, after the version (as Patroni)", () => {
  const record = memberRecord({
    obs: obs(replica),
    pg: replica,
    holdsLock: false,
    ...urls,
    proxyUrl: "postgres://10.0.0.9:6432/postgres",
    tags: {},
    scheduledRestart: null,
    paused: false,
  });
  assert.deepEqual(Object.keys(record).slice(0, 6), [
    "conn_url",
    "api_url",
    "state",
    "role",
    "version",
    "proxy_url",
  ]);
  assert.equal(record.proxy_url, "postgres://10.0.0.9:6432/postgres");
  const without = memberRecord({
    obs: obs(replica),
    pg: replica,
    holdsLock: false,
    ...urls,
    tags: {},
    scheduledRestart: null,
    paused: false,
  });
  assert.equal("proxy_url" in without, false);
});
