/**
 * The chaos suite's synchronous-replication switch (scripts/chaos/sync.ts, scripts/chaos/run.ts): what
 * HACTL_CHAOS_SYNC puts into bootstrap.dcs, the writer's options (no server-side statement timeout, which would
 * turn a cancelled synchronous commit into an acknowledged one), and the verdict (no fault may lose a write).
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { chaosSyncFromEnv, syncDcsLines, syncWriterOptions } from "../../scripts/chaos/sync.ts";
import { mustLoseNothing, verdict } from "../../scripts/chaos/run.ts";
import type { ChaosResult } from "../../scripts/chaos/faults.ts";

Deno.test("HACTL_CHAOS_SYNC: unset, empty or off is asynchronous; on, strict and quorum; anything else names the variable", () => {
  assert.equal(chaosSyncFromEnv(undefined), "off");
  assert.equal(chaosSyncFromEnv(""), "off");
  assert.equal(chaosSyncFromEnv("off"), "off");
  assert.equal(chaosSyncFromEnv("on"), "on");
  assert.equal(chaosSyncFromEnv("strict"), "strict");
  assert.equal(chaosSyncFromEnv("quorum"), "quorum");
  assert.throws(
    () => chaosSyncFromEnv("any"),
    /HACTL_CHAOS_SYNC: expected on, strict, quorum or off, got "any"/,
  );
});

Deno.test("HACTL_CHAOS_SYNC puts synchronous_mode (and _strict) into bootstrap.dcs", () => {
  const dcs = (sync: "off" | "on" | "strict" | "quorum") =>
    (parse(`bootstrap:\n  dcs:\n    ttl: 10${syncDcsLines(sync)}\n`) as { bootstrap: { dcs: unknown } })
      .bootstrap.dcs;
  assert.deepEqual(dcs("off"), { ttl: 10 });
  assert.deepEqual(dcs("on"), { ttl: 10, synchronous_mode: true });
  assert.deepEqual(dcs("strict"), { ttl: 10, synchronous_mode: true, synchronous_mode_strict: true });
  assert.deepEqual(dcs("quorum"), { ttl: 10, synchronous_mode: "quorum" });
});

Deno.test("the chaos writer has no server-side statement timeout in synchronous mode only", () => {
  assert.deepEqual(syncWriterOptions("off"), {});
  assert.deepEqual(syncWriterOptions("on"), { statementTimeoutMs: 0 });
  assert.deepEqual(syncWriterOptions("strict"), { statementTimeoutMs: 0 });
  assert.deepEqual(syncWriterOptions("quorum"), { statementTimeoutMs: 0 });
});

Deno.test("a chaos run in synchronous mode fails on any lost write; asynchronous cut-peers may lose some", () => {
  const run: ChaosResult = {
    fault: "cut-peers",
    timing: "10/2/4",
    old_leader: "pg1",
    new_leader: "pg2",
    acked: 1000,
    dual_writer_ms: 0,
    dual_writer_acks: 0,
    lost: 3,
    unavailable_s: 5,
    fault_s: 12,
    converge_s: 3,
    converged: true,
    old_primary_stopped_by: "isolation fence",
  };
  assert.equal(mustLoseNothing(run), false);
  assert.equal(verdict(run), null);
  assert.equal(mustLoseNothing({ ...run, sync: "on" }), true);
  assert.equal(verdict({ ...run, sync: "on" }), "3 acknowledged writes lost");
  assert.equal(verdict({ ...run, sync: "strict", lost: 0 }), null);
  assert.equal(verdict({ ...run, fault: "freeze" }), "3 acknowledged writes lost");
});
