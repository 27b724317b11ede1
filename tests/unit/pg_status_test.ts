import assert from "node:assert/strict";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";
import { fillFromStatus, parseTimelineHistory, type StatusRow } from "../../src/pg/status.ts";

function row(over: Partial<StatusRow>): StatusRow {
  return {
    in_recovery: false,
    walfile: null,
    flush_lsn: null,
    receive_lsn: null,
    replay_lsn: null,
    replay_ts: null,
    replay_paused: false,
    checkpoint_tli: 1,
    receiver: null,
    conninfo: "",
    replication: [],
    slots: [],
    version: 150020,
    start_time: "2026-01-01 00:00:00+00",
    pending_restart: false,
    ...over,
  };
}

Deno.test("fillFromStatus() takes a primary's timeline from its current WAL file, not the checkpoint", () => {
  const obs = emptyPgObservation();
  fillFromStatus(
    obs,
    row({ walfile: "000000020000000000000003", flush_lsn: "0/3000060", checkpoint_tli: 1 }),
  );
  assert.equal(obs.queryable, true);
  assert.equal(obs.role, "primary");
  assert.equal(obs.timeline, 2);
  assert.equal(obs.walPosition, 0x3000060);
  assert.equal(obs.replicationState, null);
  assert.equal(obs.upstream, null);
});

Deno.test("fillFromStatus() reports a streaming replica with its configured upstream and max(receive, replay)", () => {
  const obs = emptyPgObservation();
  fillFromStatus(
    obs,
    row({
      in_recovery: true,
      receive_lsn: "0/5000000",
      replay_lsn: "0/4000000",
      receiver: { status: "streaming", tli: 3, host: "10.0.0.9", port: 5433 },
      conninfo: "user=replicator passfile=/p host=10.0.0.1 port=5432 application_name=pg2",
    }),
  );
  assert.equal(obs.role, "replica");
  assert.equal(obs.timeline, 3);
  assert.equal(obs.walPosition, 0x5000000);
  assert.equal(obs.replicationState, "streaming");
  assert.equal(obs.upstream, "10.0.0.1:5432");
});

Deno.test("fillFromStatus() reports a replica without a WAL receiver as in archive recovery", () => {
  const obs = emptyPgObservation();
  fillFromStatus(obs, row({ in_recovery: true, replay_lsn: "0/4000000", checkpoint_tli: 4 }));
  assert.equal(obs.replicationState, "in archive recovery");
  assert.equal(obs.timeline, 4);
  assert.equal(obs.upstream, null);
  assert.equal(obs.walPosition, 0x4000000);
});

Deno.test("fillFromStatus() gives a replica whose receiver stopped the newest timeline of its WAL files", () => {
  // Streamed timeline 2 for a while, then its primary stopped: no receiver row, no restartpoint on 2 yet.
  const obs = emptyPgObservation();
  fillFromStatus(obs, row({ in_recovery: true, replay_lsn: "0/4000000", checkpoint_tli: 1, wal_tli: 2 }));
  assert.equal(obs.timeline, 2);
  // While the receiver runs, its timeline counts.
  fillFromStatus(
    obs,
    row({
      in_recovery: true,
      checkpoint_tli: 1,
      wal_tli: 2,
      receiver: { status: "streaming", tli: 3, host: null, port: null },
    }),
  );
  assert.equal(obs.timeline, 3);
  fillFromStatus(obs, row({ in_recovery: true, checkpoint_tli: 2, wal_tli: null }));
  assert.equal(obs.timeline, 2);
  fillFromStatus(obs, row({ in_recovery: true, checkpoint_tli: null, wal_tli: null }));
  assert.equal(obs.timeline, null);
});

Deno.test("fillFromStatus() gives a replica the newest timeline it holds a history file of (what it chases)", () => {
  const obs = emptyPgObservation();
  fillFromStatus(
    obs,
    row({ in_recovery: true, replay_lsn: "0/4000000", checkpoint_tli: 2, history_tlis: [3, 4] }),
  );
  assert.equal(obs.timeline, 2);
  assert.deepEqual(obs.historyTimelines, [3, 4]);
  // The minimum recovery point, when Postgres reports one.
  fillFromStatus(
    obs,
    row({ in_recovery: true, checkpoint_tli: 2, min_recovery: { lsn: "0/4030000", tli: 3 } }),
  );
  assert.deepEqual(obs.minRecoveryPoint, { inRecovery: true, timeline: 3, lsn: 0x4030000 });
});

Deno.test("parseTimelineHistory() reads Postgres's timeline history file", () => {
  const text =
    "1\t0/3000158\tno recovery target specified\n\n# comment\n2\t0/5000000\tbefore 2026-11-26\nbad line\n";
  assert.deepEqual(parseTimelineHistory(text), [
    { timeline: 1, switchLsn: 0x3000158, reason: "no recovery target specified" },
    { timeline: 2, switchLsn: 0x5000000, reason: "before 2026-11-26" },
  ]);
});

Deno.test("fillFromStatus() trusts a running WAL receiver over leftover WAL files of a higher timeline", () => {
  // pg_wal still holds a segment of timeline 3 (left from an abandoned branch); the receiver streams timeline 2.
  const obs = emptyPgObservation();
  fillFromStatus(
    obs,
    row({
      in_recovery: true,
      checkpoint_tli: 2,
      wal_tli: 3,
      receiver: { status: "streaming", tli: 2, host: "10.0.0.9", port: 5433 },
    }),
  );
  assert.equal(obs.timeline, 2);
});
