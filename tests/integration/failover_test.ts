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
import {
  crashScenario,
  figures,
  type KillResult,
  killScenario,
  termScenario,
  TIMINGS,
} from "../../scripts/bench/failover.ts";
import { LOCAL_MAXIMUM_LAG_ON_FAILOVER } from "../../scripts/lib/local_cluster.ts";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { describeOverlaps } from "../helpers/writer.ts";

// The fast profile: ttl 10 / loop_wait 2 / retry_timeout 4.
const TIMING = TIMINGS.fast;
/** How long a restarted former primary may take to be rewound and stream again (a loaded 2-core machine). */
const REJOIN_DEADLINE_MS = 60_000;

/**
 * The loss an unplanned failover may cause with asynchronous replication, as documented (and as Patroni bounds
 * it): only writes the old primary acknowledged and had not yet sent can be lost, so (1) every lost write is one
 * the old primary acknowledged, (2) the new primary holds a prefix of the old primary's history (the lost writes
 * are the old primary's last ones: none it acknowledged after a lost one survived), and (3) the promoted replica
 * was at most `maximum_lag_on_failover` bytes behind the last position the old leader published.
 */
function assertAsyncLossBound(r: KillResult): void {
  const lost = new Set(r.lost);
  const lostAcks = r.records.filter((a) => lost.has(a.seq));
  assert.deepEqual(
    lostAcks.filter((a) => a.node !== r.oldLeader),
    [],
    `writes acknowledged by a member other than the killed primary ${r.oldLeader} are missing on ${r.newLeader}`,
  );
  // The writer's loop on one member is sequential: the old primary's acks are in its commit order.
  const oldAcks = r.records.filter((a) => a.node === r.oldLeader).sort((a, b) => a.ackAt - b.ackAt);
  const firstLost = oldAcks.findIndex((a) => lost.has(a.seq));
  const survivorsAfter = firstLost < 0 ? [] : oldAcks.slice(firstLost).filter((a) => !lost.has(a.seq));
  assert.deepEqual(
    survivorsAfter.map((a) => a.seq),
    [],
    `${r.newLeader} holds writes ${r.oldLeader} acknowledged after the lost write ${
      oldAcks[firstLost]?.seq
    }: ` +
      "not a prefix of the old history",
  );
  assert.notEqual(r.publishedOptime, null, `${r.oldLeader} published no WAL position before the kill`);
  const promotedAt = r.walPositions[r.newLeader] ?? 0;
  assert.ok(
    promotedAt >= r.publishedOptime! - LOCAL_MAXIMUM_LAG_ON_FAILOVER,
    `${r.newLeader} was promoted at WAL ${promotedAt}, more than maximum_lag_on_failover ` +
      `(${LOCAL_MAXIMUM_LAG_ON_FAILOVER}) behind the published ${r.publishedOptime}`,
  );
}

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
  name:
    "failover: SIGKILL of primary agent+postmaster: the most advanced replica leads after lease expiry, " +
    "loses at most the old primary's unsent tail, and the old primary streams from it after a restart",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failover-kill", async (c) => {
      const r = await killScenario(c, { rejoinDeadlineMs: REJOIN_DEADLINE_MS });
      report("kill", figures(r));
      assert.deepEqual(r.overlaps, [], `two writable primaries: ${describeOverlaps(r.overlaps, r.t0)}`);
      assert.ok(
        r.expectedLeaders.includes(r.newLeader),
        `${r.newLeader} was promoted, but the highest WAL position was on ${r.expectedLeaders} ` +
          JSON.stringify(r.walPositions),
      );
      // Promotion only after the lease ran out: the new primary acknowledged no write before the old lease's expiry
      // (the key's delete event), and it took the key within a cycle or two of that expiry.
      assert.notEqual(r.killToExpiryMs, null, "the leader key's expiry was not seen");
      assert.ok(
        r.expiryToFirstWriteMs! > 0,
        `${r.newLeader} acknowledged a write ${-r.expiryToFirstWriteMs!} ms before the old lease expired`,
      );
      const takeoverBoundMs = (TIMING.loopWait + TIMING.retryTimeout) * 1000 + 10_000;
      assert.ok(
        r.expiryToLeaderMs! <= takeoverBoundMs,
        `${r.newLeader} took the key ${r.expiryToLeaderMs} ms after the old lease expired (bound ${takeoverBoundMs})`,
      );
      assert.ok(
        r.killToExpiryMs! <= (TIMING.ttl + 1) * 1000,
        `the lease outlived its ttl: ${r.killToExpiryMs} ms`,
      );
      assert.ok(
        r.expiryToFirstWriteMs! < 5000,
        `first write on the new primary ${r.expiryToFirstWriteMs} ms after the expiry`,
      );
      assertAsyncLossBound(r);
      assert.notEqual(
        r.otherReplicaStreamingMs,
        null,
        `the other replica does not stream from ${r.newLeader}: ${r.otherReplicaState}`,
      );
      // The killed primary comes back, is rewound and streams from the new leader (its member key says streaming
      // and the new leader's pg_stat_replication shows it).
      assert.notEqual(r.rejoinShownMs, null, `${r.oldLeader} did not show up as a member after its restart`);
      assert.doesNotMatch(r.rejoinState, /^primary\//, `${r.oldLeader} came back as a primary`);
      assert.notEqual(
        r.rejoinStreamingMs,
        null,
        `${r.oldLeader} does not stream from ${r.newLeader} within ${REJOIN_DEADLINE_MS} ms: ${r.rejoinState}`,
      );
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
