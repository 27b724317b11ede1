/**
 * Explainable failovers: the recorder's phases and candidates, the log sentence, and the metrics it feeds.
 */
import assert from "node:assert/strict";
import { describeRoleChange, RoleChangeRecorder } from "../../src/core/role_change.ts";
import { renderMetrics, versionNumber } from "../../src/api/metrics.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { NodeSnapshot } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

Deno.test("RoleChangeRecorder records a failover phase by phase, with the candidates weighed", () => {
  const r = new RoleChangeRecorder("pg2");
  r.noteView(1000, "pg1", false);
  r.noteView(5000, null, false); // leader key gone: detected
  r.noteView(5200, null, false);
  r.noteLockTaken(5230, [
    { name: "pg3", veto: false, why: "is not ahead (10 <= 20)" },
    { name: "pg1", veto: false, why: "is unreachable (not counted)" },
  ]);
  r.notePromoted(5500);
  assert.equal(r.records.length, 0, "still pending until Postgres answers as a primary");
  const record = r.noteWritable(5560, Date.UTC(2026, 10, 26, 12, 0, 0))!;
  assert.deepEqual(record, {
    at: "2026-11-26T12:00:00.000Z",
    from: "pg1",
    to: "pg2",
    kind: "failover",
    phases: [
      { phase: "leader_gone_detected", offset_ms: 0 },
      { phase: "lock_taken", offset_ms: 230 },
      { phase: "promoted", offset_ms: 500 },
      { phase: "first_writable", offset_ms: 560 },
    ],
    candidates: [
      { name: "pg3", accepted: true, why: "is not ahead (10 <= 20)" },
      { name: "pg1", accepted: true, why: "is unreachable (not counted)" },
    ],
    total_ms: 560,
  });
  assert.equal(r.noteWritable(6000, 0), null, "a record closes once");
  assert.equal(
    describeRoleChange(record),
    "failover to pg2 from pg1 in 560 ms: leader_gone_detected +0 ms, lock_taken +230 ms, promoted +500 ms, " +
      "first_writable +560 ms; candidates: pg3 did not stop me: is not ahead (10 <= 20); " +
      "pg1 did not stop me: is unreachable (not counted)",
  );
  assert.equal(r.histogram.get("first_writable")!.count, 1);
});

Deno.test("RoleChangeRecorder calls a handover with a pending failover key a switchover", () => {
  const r = new RoleChangeRecorder("pg3");
  r.noteView(0, "pg1", true);
  r.noteView(100, null, true);
  r.noteLockTaken(120, []);
  r.notePromoted(300);
  assert.equal(r.noteWritable(320, 0)!.kind, "switchover");
});

Deno.test("renderMetrics() writes Patroni's metrics with scope/name labels and the phase histogram", () => {
  const snapshot: NodeSnapshot = {
    name: "pg1",
    scope: "demo",
    state: "running",
    role: "primary",
    pg: {
      ...emptyPgObservation(),
      running: true,
      queryable: true,
      role: "primary",
      walPosition: 1234,
      timeline: 2,
    },
    pgObservedAt: 0,
    cluster: null,
    dcsLastSeen: 1700000000,
    isLeader: true,
    leaderExpiresAt: 10_000,
    dynamic: DYNAMIC_DEFAULTS,
    tags: {},
    nextRunAt: 0,
    watchdogFailed: false,
  };
  const r = new RoleChangeRecorder("pg1");
  r.noteView(0, null, false);
  r.noteLockTaken(50, []);
  r.notePromoted(200);
  r.noteWritable(300, 0);
  const text = renderMetrics(snapshot, 0, r.histogram);
  assert.ok(text.endsWith("\n"));
  assert.match(
    text,
    /^# HELP patroni_version Patroni semver without periods\.\n# TYPE patroni_version gauge\n/,
  );
  assert.match(text, /\npatroni_primary\{scope="demo",name="pg1"\} 1\n/);
  assert.match(text, /\npatroni_xlog_location\{scope="demo",name="pg1"\} 1234\n/);
  assert.match(text, /\npatroni_postgres_timeline\{scope="demo",name="pg1"\} 2\n/);
  assert.match(text, /\npatroni_postgres_state\{scope="demo",name="pg1"\} 5\n/);
  assert.match(
    text,
    /# Values: 0=initializing_new_cluster, .*14=crashed\n# TYPE patroni_postgres_state gauge/,
  );
  assert.match(text, /\npatroni_cluster_unlocked\{scope="demo",name="pg1"\} 1\n/);
  assert.match(
    text,
    /hactl_role_change_phase_seconds_bucket\{scope="demo",name="pg1",phase="first_writable",le="0.5"\} 1\n/,
  );
  assert.match(
    text,
    /hactl_role_change_phase_seconds_count\{scope="demo",name="pg1",phase="first_writable"\} 1\n/,
  );
  assert.equal(versionNumber("4.1.4"), 40104);
});
