/**
 * hactl's runtime metrics: the agent times each HA cycle on its own clock, the etcd endpoints time each call
 * (retries included) and say whether it failed, and `/metrics` renders them beside Patroni's with the fence and
 * watchdog gauges and the build (version and commit).
 */
import assert from "node:assert/strict";
import type { Etcd3 } from "etcd3";
import { fakeMember, testAgent } from "../helpers/agent_fixture.ts";
import { DurationHistogram, LabeledDurations } from "../../src/core/histogram.ts";
import { EtcdEndpoints } from "../../src/dcs/etcd_endpoints.ts";
import { renderMetrics } from "../../src/api/metrics.ts";
import type { RuntimeMetrics } from "../../src/api/runtime_metrics.ts";
import { HACTL_VERSION } from "../../src/core/version.ts";
import { primarySnap } from "../helpers/api_snapshots.ts";

Deno.test("the agent records each HA cycle's duration on its clock", async () => {
  const { clock, dcs, pg } = fakeMember({});
  const agent = testAgent(clock, {
    dcs,
    pg,
    log: {
      // The cycle line is logged inside the cycle: 1.5 s of virtual time pass in it, then the loop stops.
      cycle: () => {
        clock.now += 1500;
        agent.stop();
      },
      info: () => {},
      warn: () => {},
      error: () => {},
    },
  });
  await agent.run();
  await agent.settleJobs();
  const h = agent.cycleDurations;
  assert.equal(h.count, 1);
  assert.equal(h.last, 1.5);
  assert.equal(h.sum, 1.5);
  const bucket = (le: number) =>
    h.buckets[[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30].indexOf(le)];
  assert.deepEqual([bucket(1), bucket(2.5), bucket(30)], [0, 1, 1]);
});

Deno.test("the etcd endpoints report each call's duration and outcome, retries included", async () => {
  const ep = new EtcdEndpoints([{} as Etcd3], 1, () => {});
  const seen: [string, boolean][] = [];
  ep.onCallDone = (what, seconds, ok) => {
    assert.ok(seconds >= 0 && seconds < 5, `duration ${seconds}`);
    seen.push([what, ok]);
  };
  assert.equal(await ep.call("range", () => Promise.resolve(7)), 7);
  await assert.rejects(ep.call("put member", () => Promise.reject(new Error("permission denied"))));
  assert.deepEqual(seen, [["range", true], ["put member", false]]);
});

function runtime(over: Partial<RuntimeMetrics> = {}): RuntimeMetrics {
  const haCycle = new DurationHistogram();
  haCycle.observe(0.2);
  haCycle.observe(12);
  const dcsCalls = new LabeledDurations();
  dcsCalls.observe("range", 0.004, true);
  dcsCalls.observe("lease keepalive", 0.03, false);
  return {
    haCycle,
    loopWaitSeconds: 10,
    dcsCalls,
    fenceArmed: true,
    watchdog: { mode: "required", armed: false },
    build: { version: HACTL_VERSION, commit: "0123456789ab", patroniVersion: "3.3.11", deno: "2.9.6" },
    memory: { rssBytes: 52_000_000, heapUsedBytes: 9_000_000 },
    ...over,
  };
}

Deno.test("/metrics renders the cycle and etcd histograms, fence, watchdog, build and memory", () => {
  const text = renderMetrics(primarySnap(), 0, new Map(), runtime());
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(series + " "));
    assert.ok(line, `no ${series} in\n${text}`);
    return line.slice(series.length + 1);
  };
  const l = 'scope="demo",name="pg1"';
  assert.equal(value(`hactl_ha_cycle_duration_seconds_bucket{${l},le="0.25"}`), "1");
  assert.equal(value(`hactl_ha_cycle_duration_seconds_bucket{${l},le="10"}`), "1");
  assert.equal(value(`hactl_ha_cycle_duration_seconds_bucket{${l},le="+Inf"}`), "2");
  assert.equal(value(`hactl_ha_cycle_duration_seconds_count{${l}}`), "2");
  assert.equal(value(`hactl_ha_cycle_last_duration_seconds{${l}}`), "12");
  assert.equal(value(`hactl_loop_wait_seconds{${l}}`), "10");
  assert.equal(value(`hactl_dcs_call_duration_seconds_bucket{${l},op="range",le="0.005"}`), "1");
  assert.equal(value(`hactl_dcs_call_failures_total{${l},op="lease keepalive"}`), "1");
  assert.equal(value(`hactl_dcs_call_failures_total{${l},op="range"}`), "0");
  assert.equal(value(`hactl_fence_armed{${l}}`), "1");
  assert.equal(value(`hactl_watchdog_enabled{${l}}`), "1");
  assert.equal(value(`hactl_watchdog_required{${l}}`), "1");
  assert.equal(value(`hactl_watchdog_armed{${l}}`), "0");
  assert.equal(
    value(
      `hactl_build_info{${l},version="${HACTL_VERSION}",commit="0123456789ab",patroni_version="3.3.11",deno_version="2.9.6"}`,
    ),
    "1",
  );
  assert.equal(value(`hactl_resident_memory_bytes{${l}}`), "52000000");
  const off = renderMetrics(
    primarySnap(),
    0,
    new Map(),
    runtime({ watchdog: { mode: "off", armed: false } }),
  );
  assert.match(off, /^hactl_watchdog_enabled\{[^}]*\} 0$/m);
});
