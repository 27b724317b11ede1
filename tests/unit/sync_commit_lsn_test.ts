/**
 * Which position of a standby the leader weighs in synchronous mode (src/core/sync.ts): as Patroni does, the one
 * `synchronous_commit` makes commits wait for: `replay_lsn` with `remote_apply`, `write_lsn` with
 * `remote_write`, `flush_lsn` otherwise. A standby whose replay is stuck under `remote_apply` is replaced once
 * it lags more than `maximum_lag_on_syncnode`, although it flushed everything.
 *
 * @module
 */
import assert from "node:assert/strict";
import { syncCandidates } from "../../src/core/sync.ts";
import type { SyncConfig } from "../../src/core/sync_types.ts";
import { formatLsn, type ReplicationRow } from "../../src/core/types.ts";
import { PRIMARY, view } from "../helpers/decide_inputs.ts";

const LAG: SyncConfig = { mode: "on", strict: false, nodeCount: 1, maximumLagOnSyncnode: 4000 };

function row(name: string, at: { write: number; flush: number; replay: number }, syncState: string) {
  const r: ReplicationRow = {
    usename: "replicator",
    application_name: name,
    client_addr: null,
    state: "streaming",
    sync_state: syncState,
    sync_priority: 0,
    flush_lsn: formatLsn(at.flush),
    write_lsn: formatLsn(at.write),
    replay_lsn: formatLsn(at.replay),
  };
  return r;
}

function input(synchronousCommit: string | undefined, rows: ReplicationRow[]) {
  const pg = {
    ...PRIMARY,
    walPosition: 9000,
    replication: rows,
    synchronousStandbyNames: "pg2",
    synchronousCommit,
  };
  return { me: "pg1", cfg: LAG, view: view({}), pg, mem: {} };
}

// pg2 is the synchronous standby and has flushed everything, but replays nothing; pg3 is fully caught up.
const stuckReplay = [
  row("pg2", { write: 9000, flush: 9000, replay: 1000 }, "sync"),
  row("pg3", { write: 9000, flush: 9000, replay: 9000 }, "async"),
];
// pg2 has written everything but flushed little.
const slowFlush = [
  row("pg2", { write: 9000, flush: 1000, replay: 1000 }, "sync"),
  row("pg3", { write: 9000, flush: 9000, replay: 9000 }, "async"),
];

Deno.test("sync standby choice under remote_apply weighs replay_lsn: a standby stuck replaying is replaced", () => {
  assert.deepEqual(syncCandidates(input("remote_apply", stuckReplay), 0).active, ["pg3"]);
  // With the default (on: flush), the same standby is kept: it flushed everything.
  assert.deepEqual(syncCandidates(input("on", stuckReplay), 0).active, ["pg2"]);
  assert.deepEqual(syncCandidates(input(undefined, stuckReplay), 0).active, ["pg2"]);
});

Deno.test("sync standby choice under remote_write weighs write_lsn, otherwise flush_lsn", () => {
  assert.deepEqual(syncCandidates(input("remote_write", slowFlush), 0).active, ["pg2"]);
  assert.deepEqual(syncCandidates(input("on", slowFlush), 0).active, ["pg3"]);
  assert.deepEqual(syncCandidates(input("local", slowFlush), 0).active, ["pg3"]);
});

Deno.test("a standby that has not reported the weighed position is not a candidate", () => {
  const noReplay = [{ ...stuckReplay[0], replay_lsn: null }, stuckReplay[1]];
  assert.deepEqual(syncCandidates(input("remote_apply", noReplay), 0).active, ["pg3"]);
});
