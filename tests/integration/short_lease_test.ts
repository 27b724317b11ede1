/**
 * The short lease on a real cluster: a 3-member etcd and three `hactl agent` processes with PostgreSQL 15 at
 * ttl 5 / loop_wait 1 / retry_timeout 2, hactl's floor. The timings are taken as written (no warning in any
 * agent's log), and the loss of every process of the primary's host at once (agent, fencing supervisor and
 * postmaster SIGKILLed) is a failover bounded by the 5 s lease: no two writable primaries, no acknowledged write
 * lost but the old primary's unsent tail, the old primary rewound and streaming after a restart. The scenario is
 * the failover benchmark's (`scripts/bench/failover.sh --timing 5 --faults host`).
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { figures, killScenario, TIMINGS } from "../../scripts/bench/failover.ts";
import { formCluster } from "../helpers/cluster.ts";
import { describeOverlaps } from "../helpers/writer.ts";

const TIMING = TIMINGS.short;

Deno.test({
  name: "short lease: at ttl 5/1/2 the loss of the primary's host processes fails over within the lease, " +
    "with no overlap and no loss but the old primary's unsent tail",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "short-lease");
    try {
      for (const m of c.members) {
        const log = await Deno.readTextFile(m.logPath);
        assert.doesNotMatch(
          log,
          /below the minimum|is violated|leaves less than/,
          `${m.name} adjusted the timings`,
        );
      }
      const r = await killScenario(c, { rejoinDeadlineMs: 40_000, host: true });
      // deno-lint-ignore no-console -- the measured figures are worth seeing in CI logs
      console.log(`short lease host kill: ${JSON.stringify(figures(r))}`);
      assert.deepEqual(r.overlaps, [], `two writable primaries: ${describeOverlaps(r.overlaps, r.t0)}`);
      assert.notEqual(r.killToExpiryMs, null, "the leader key's expiry was not seen");
      // The key was on a 5 s lease: at ttl 10 it would outlive the kill by 8 s or more.
      assert.ok(
        r.killToExpiryMs! <= (TIMING.ttl + 1) * 1000,
        `the lease outlived its ttl: ${r.killToExpiryMs} ms`,
      );
      assert.ok(
        r.expiryToFirstWriteMs! > 0,
        `${r.newLeader} acknowledged a write ${-r.expiryToFirstWriteMs!} ms before the old lease expired`,
      );
      const boundMs = (TIMING.ttl + TIMING.loopWait + TIMING.retryTimeout) * 1000 + 5_000;
      assert.ok(
        r.killToFirstWriteMs <= boundMs,
        `first write ${r.killToFirstWriteMs} ms after the kill (bound ${boundMs})`,
      );
      const lost = new Set(r.lost);
      const lostElsewhere = r.records.filter((a) => lost.has(a.seq) && a.node !== r.oldLeader);
      assert.deepEqual(
        lostElsewhere,
        [],
        `writes acknowledged by another member than ${r.oldLeader} are missing`,
      );
      assert.doesNotMatch(r.rejoinState, /^primary\//, `${r.oldLeader} came back as a primary`);
      assert.notEqual(
        r.rejoinStreamingMs,
        null,
        `${r.oldLeader} does not stream from ${r.newLeader}: ${r.rejoinState}`,
      );
    } catch (err) {
      await c.dumpLogs("short-lease");
      throw err;
    }
  },
});
