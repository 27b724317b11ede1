/**
 * What the early isolation fence is fed (src/core/isolation_input.ts): a primary's replication sample with the
 * furthest position any replica confirmed, and the other members that could take over.
 */
import assert from "node:assert/strict";
import { isolationInput, type IsolationReadings, replicationSample } from "../../src/core/isolation_input.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { ClusterView, PgObservation, ReplicationRow } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const primary: PgObservation = {
  ...emptyPgObservation(),
  running: true,
  queryable: true,
  role: "primary",
  timeline: 2,
  walPosition: 0x3000,
};
const row = (flush: string | null) => ({ flush_lsn: flush } as unknown as ReplicationRow);

Deno.test("replicationSample(): the highest readable flush position of the WAL senders; none for a non-primary", () => {
  assert.deepEqual(
    replicationSample(
      { ...primary, replication: [row("0/1000"), row("0/2000"), row(null), row("garbage")] },
      7,
    ),
    { at: 7, primaryLsn: 0x3000, confirmedLsn: 0x2000, timeline: 2 },
  );
  assert.deepEqual(replicationSample(primary, 7), {
    at: 7,
    primaryLsn: 0x3000,
    confirmedLsn: null,
    timeline: 2,
  });
  assert.equal(replicationSample({ ...primary, role: "replica" }, 7), null);
  assert.equal(replicationSample({ ...primary, queryable: false }, 7), null);
  assert.equal(replicationSample({ ...primary, walPosition: null }, 7), null);
});

function readings(view: ClusterView | null): IsolationReadings {
  return {
    now: 9000,
    me: "pg1",
    dynamic: { ...DYNAMIC_DEFAULTS, isolationFenceTimeout: 3 },
    pg: primary,
    view,
    unconfirmedSince: 5000,
    dcsLastSuccess: 4000,
    dcsUnansweredSince: 4500,
  };
}

Deno.test("isolationInput(): failover candidates are the other members that are not nofailover", () => {
  const member = (name: string, tags: Record<string, unknown> = {}) => ({
    name,
    data: { conn_url: "", api_url: "", state: "running", role: "replica", version: "0.1.0", tags },
    modRevision: "1",
    lease: "1",
  });
  const view = {
    members: [member("pg1"), member("pg2"), member("pg3", { nofailover: true })],
  } as unknown as ClusterView;
  assert.deepEqual(isolationInput(readings(view)), {
    now: 9000,
    timeoutMs: 3000,
    pause: false,
    writablePrimary: true,
    failoverCandidates: 1,
    unconfirmedSince: 5000,
    dcsLastSuccess: 4000,
    dcsUnansweredSince: 4500,
  });
  assert.equal(isolationInput(readings(null)).failoverCandidates, 0, "no view yet: nobody could take over");
});
