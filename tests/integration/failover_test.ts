/**
 * Real faults on a real cluster: a 3-member etcd and three `hactl agent` processes with PostgreSQL 15 (ttl 10,
 * loop_wait 2, retry_timeout 4). Each test forms the cluster, starts a writer that inserts into every member every
 * 20 ms and records each acknowledged row (tests/helpers/writer.ts), injects one fault and asserts one writable
 * primary at a time (no two members acknowledged writes within overlapping windows) and the expected outcome.
 * The scenarios themselves live in scripts/bench/failover.ts, so the benchmark measures exactly what is tested.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { crashScenario, figures, killScenario, termScenario, TIMINGS } from "../../scripts/bench/failover.ts";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { describeOverlaps } from "../helpers/writer.ts";

// The fast profile: ttl 10 / loop_wait 2 / retry_timeout 4.
const TIMING = TIMINGS.fast;

/** Form a cluster, run `body`, dump the agent logs when it fails; the cluster is always torn down. */
async function onCluster(label: string, body: (c: LocalCluster) => Promise<void>): Promise<void> {
  await using c = await formCluster(TIMING, label);
  try {
    await body(c);
  } catch (err) {
    await c.dumpLogs(label);
    throw err;
  }
}

function report(label: string, f: Record<string, unknown>): void {
  // deno-lint-ignore no-console -- the measured figures are worth seeing in CI logs
  console.log(`${label}: ${JSON.stringify(f)}`);
}

Deno.test({
  name: "failover: SIGKILL of primary agent+postmaster: the most advanced replica leads after lease expiry",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failover-kill", async (c) => {
      const r = await killScenario(c, { rejoinDeadlineMs: 20_000 });
      report("kill", figures(r));
      assert.deepEqual(r.overlaps, [], `two writable primaries: ${describeOverlaps(r.overlaps, r.t0)}`);
      assert.ok(
        r.expectedLeaders.includes(r.newLeader),
        `${r.newLeader} was promoted, but the highest WAL position was on ${r.expectedLeaders} ` +
          JSON.stringify(r.walPositions),
      );
      // Promotion only after the lease ran out: the key was deleted (expired) before it named the new leader.
      assert.notEqual(r.killToExpiryMs, null, "the leader key's expiry was not seen");
      assert.ok(r.expiryToLeaderMs! >= 0, "the new leader took the key before the old lease expired");
      assert.ok(
        r.killToExpiryMs! <= (TIMING.ttl + 1) * 1000,
        `the lease outlived its ttl: ${r.killToExpiryMs} ms`,
      );
      assert.ok(
        r.expiryToFirstWriteMs! < 5000,
        `first write on the new primary ${r.expiryToFirstWriteMs} ms after the expiry`,
      );
      assert.notEqual(
        r.otherReplicaStreamingMs,
        null,
        `the other replica does not stream from ${r.newLeader}: ${r.otherReplicaState}`,
      );
      // Without pg_rewind the old primary may not stream again; it must come back as a member and not as a primary.
      assert.notEqual(r.rejoinShownMs, null, `${r.oldLeader} did not show up as a member after its restart`);
      assert.doesNotMatch(r.rejoinState, /^primary\//, `${r.oldLeader} came back as a primary`);
    });
  },
});

Deno.test({
  name:
    "failover: SIGTERM of the primary's agent hands over at once, loses no acked row, old primary rejoins",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failover-term", async (c) => {
      const r = await termScenario(c, { rejoinDeadlineMs: 30_000 });
      report("term", figures(r));
      assert.deepEqual(r.overlaps, [], `two writable primaries: ${describeOverlaps(r.overlaps, r.t0)}`);
      assert.notEqual(r.newLeader, r.oldLeader);
      assert.ok(
        r.exitToFirstWriteMs < 3000,
        `first write on ${r.newLeader} ${r.exitToFirstWriteMs} ms after the old agent exited`,
      );
      assert.deepEqual(r.lost, [], `acknowledged rows missing on ${r.newLeader}`);
      assert.notEqual(
        r.rejoinStreamingMs,
        null,
        `${r.oldLeader} does not stream from ${r.newLeader} within 30 s: ${r.rejoinState}`,
      );
    });
  },
});

Deno.test({
  name:
    "failover: a Postgres crash on the primary is restarted in place: same leader, no acknowledged row lost",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failover-crash", async (c) => {
      const r = await crashScenario(c);
      report("crash", figures(r));
      assert.deepEqual(r.overlaps, [], `two writable primaries: ${describeOverlaps(r.overlaps, r.t0)}`);
      assert.deepEqual(
        r.leaderChanges,
        [],
        "the leader key must stay with the member whose Postgres crashed",
      );
      assert.deepEqual(
        [...new Set(r.records.map((a) => a.node))],
        [r.oldLeader],
        "only the leader took writes",
      );
      assert.deepEqual(r.lost, [], `acknowledged rows missing on ${r.oldLeader}`);
      assert.notEqual(r.replicasStreamingMs, null, "the replicas do not stream again within 30 s");
    });
  },
});
