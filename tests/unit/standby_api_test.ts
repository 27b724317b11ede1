/**
 * The REST face of a standby cluster: `GET /standby-leader` answers 200 on the standby leader only, `GET /patroni`
 * says `standby_leader`, and the `patroni_standby_leader` metric is 1 on it (0 on a primary and on a replica); the
 * recovery settings written for the standby leader and for the members that follow it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { renderMetrics } from "../../src/api/metrics.ts";
import { primarySlotFor, standbyRecoverySettings } from "../../src/pg/config_files.ts";
import type { PgInstance } from "../../src/pg/instance.ts";
import {
  call,
  clusterView,
  getJson,
  NOW,
  primarySnap,
  replicaSnap,
  standbyClusterLeader,
} from "../helpers/api_snapshots.ts";

const metric = (text: string, name: string) => new RegExp(`\\n${name}\\{[^}]*\\} (\\S+)\\n`).exec(text)?.[1];

Deno.test("patroni_standby_leader is 1 on the standby leader only", () => {
  assert.equal(metric(renderMetrics(standbyClusterLeader(), NOW), "patroni_standby_leader"), "1");
  assert.equal(metric(renderMetrics(standbyClusterLeader(), NOW), "patroni_primary"), "0");
  assert.equal(metric(renderMetrics(primarySnap(), NOW), "patroni_standby_leader"), "0");
  const standbyReplica = replicaSnap({ cluster: clusterView({}, { standby_cluster: { host: "10.1.0.1" } }) });
  assert.equal(metric(renderMetrics(standbyReplica, NOW), "patroni_standby_leader"), "0");
  // A standby leader whose lock belief expired claims nothing.
  const expired = standbyClusterLeader();
  assert.equal(
    metric(renderMetrics({ ...expired, leaderExpiresAt: NOW - 1 }, NOW), "patroni_standby_leader"),
    "0",
  );
});

Deno.test("GET /standby-leader: 200 on the standby leader, 503 on a primary and a replica; /patroni says standby_leader", async () => {
  assert.equal((await call(standbyClusterLeader(), "/standby-leader")).status, 200);
  assert.equal((await call(primarySnap(), "/standby-leader")).status, 503);
  assert.equal((await call(replicaSnap(), "/standby-leader")).status, 503);
  const { body } = await getJson(standbyClusterLeader(), "/patroni");
  assert.equal(body.role, "standby_leader");
});

Deno.test("the recovery settings of a standby cluster: the remote slot, restore and cleanup commands, the apply delay", () => {
  const inst = { useSlots: () => true, config: { name: "pg2" } } as unknown as PgInstance;
  const remote = {
    name: "remote primary 10.0.0.9:5433",
    connUrl: "postgres://10.0.0.9:5433/postgres",
    recovery: {
      remote: true as const,
      primarySlotName: "site_b",
      restoreCommand: "cp /a/%f %p",
      archiveCleanupCommand: "pg_archivecleanup /a %r",
      recoveryMinApplyDelay: "5min",
    },
  };
  assert.equal(primarySlotFor(inst, remote), "site_b");
  assert.deepEqual(standbyRecoverySettings(remote), {
    restore_command: "cp /a/%f %p",
    archive_cleanup_command: "pg_archivecleanup /a %r",
    recovery_min_apply_delay: "5min",
  });
  // The standby leader streams from the remote primary through no slot unless the section names one.
  assert.equal(primarySlotFor(inst, { ...remote, recovery: { remote: true } }), "");
  // A member following the standby leader streams through its own slot, with the archive commands, no delay.
  const member = {
    name: "pg1",
    connUrl: "postgres://10.0.0.1:5432/postgres",
    recovery: { restoreCommand: "cp /a/%f %p", recoveryMinApplyDelay: "5min" },
  };
  assert.equal(primarySlotFor(inst, member), "pg2");
  assert.deepEqual(standbyRecoverySettings(member), { restore_command: "cp /a/%f %p" });
});
