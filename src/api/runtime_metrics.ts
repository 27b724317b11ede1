/**
 * hactl's own metrics about the agent itself, beside Patroni's in `GET /metrics`: how long each HA cycle takes
 * (and the loop_wait it should fit in), how long each etcd call takes, whether the fence timer and the watchdog
 * are armed right now, the build, and the process' memory. Each is a measurement of something that runs: the
 * watchdog gauges say 0 when it is off or closed, the fence gauge 0 when the timer is not armed.
 *
 * Pure: renders a {@linkcode RuntimeMetrics} value the daemon gathers.
 *
 * May import: `src/core/`.
 *
 * @module
 */
import { DURATION_BUCKETS, type DurationHistogram, type LabeledDurations } from "../core/histogram.ts";

/** What the daemon measured, read when `/metrics` is asked for. */
export interface RuntimeMetrics {
  /** Each HA cycle's duration (observe, decide, act, publish), in seconds. */
  haCycle: DurationHistogram;
  /** loop_wait in effect, in seconds (a cycle longer than this delays the next one). */
  loopWaitSeconds: number;
  /** Each etcd call's latency by operation (retries across endpoints included), in seconds. */
  dcsCalls: LabeledDurations;
  /** The fence timer is armed: Postgres is stopped if the leader key is not renewed in time. */
  fenceArmed: boolean;
  /** `watchdog.mode` (off, automatic, required) and whether the device is open and kept alive now. */
  watchdog: { mode: string; armed: boolean };
  build: { version: string; commit: string; patroniVersion: string; deno: string };
  /** Resident set size and V8 heap in use, in bytes. */
  memory: { rssBytes: number; heapUsedBytes: number };
}

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function histogramLines(name: string, labels: string, h: DurationHistogram): string[] {
  const lines = DURATION_BUCKETS.map((le, i) => `${name}_bucket{${labels},le="${le}"} ${h.buckets[i]}`);
  lines.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`);
  lines.push(`${name}_sum{${labels}} ${h.sum}`, `${name}_count{${labels}} ${h.count}`);
  return lines;
}

function gauge(name: string, help: string, labels: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}{${labels}} ${value}`];
}

/** The HA cycle and etcd call histograms. */
function durationLines(labels: string, r: RuntimeMetrics): string[] {
  const lines = [
    "# HELP hactl_ha_cycle_duration_seconds Time one HA cycle took: observe, decide, act, publish the member key.",
    "# TYPE hactl_ha_cycle_duration_seconds histogram",
    ...histogramLines("hactl_ha_cycle_duration_seconds", labels, r.haCycle),
    ...gauge(
      "hactl_ha_cycle_last_duration_seconds",
      "Time the last HA cycle took.",
      labels,
      r.haCycle.last,
    ),
    ...gauge(
      "hactl_loop_wait_seconds",
      "loop_wait in effect: the time between two HA cycles.",
      labels,
      r.loopWaitSeconds,
    ),
    "# HELP hactl_dcs_call_duration_seconds Time an etcd call took, retries on other endpoints included.",
    "# TYPE hactl_dcs_call_duration_seconds histogram",
  ];
  const ops = [...r.dcsCalls.histograms.keys()].sort();
  for (const op of ops) {
    lines.push(
      ...histogramLines(
        "hactl_dcs_call_duration_seconds",
        `${labels},op="${escapeLabel(op)}"`,
        r.dcsCalls.histograms.get(op)!,
      ),
    );
  }
  lines.push(
    "# HELP hactl_dcs_call_failures_total etcd calls that failed (after every endpoint was tried).",
    "# TYPE hactl_dcs_call_failures_total counter",
  );
  for (const op of ops) {
    lines.push(
      `hactl_dcs_call_failures_total{${labels},op="${escapeLabel(op)}"} ${r.dcsCalls.failures.get(op) ?? 0}`,
    );
  }
  return lines;
}

/** The whole block of hactl's runtime metrics, with this member's `scope`/`name` labels. */
export function runtimeMetricLines(labels: string, r: RuntimeMetrics): string[] {
  const b = (x: boolean) => (x ? 1 : 0);
  const buildLabels =
    `${labels},version="${escapeLabel(r.build.version)}",commit="${escapeLabel(r.build.commit)}",` +
    `patroni_version="${escapeLabel(r.build.patroniVersion)}",deno_version="${escapeLabel(r.build.deno)}"`;
  return [
    ...durationLines(labels, r),
    ...gauge(
      "hactl_fence_armed",
      "Value is 1 if the fence timer is armed (Postgres is stopped when the leader key is not renewed in time).",
      labels,
      b(r.fenceArmed),
    ),
    ...gauge(
      "hactl_watchdog_enabled",
      "Value is 1 if watchdog.mode is automatic or required, 0 if off.",
      labels,
      b(r.watchdog.mode !== "off"),
    ),
    ...gauge(
      "hactl_watchdog_required",
      "Value is 1 if watchdog.mode is required.",
      labels,
      b(r.watchdog.mode === "required"),
    ),
    ...gauge(
      "hactl_watchdog_armed",
      "Value is 1 if the watchdog device is open and kept alive by this agent now, 0 otherwise.",
      labels,
      b(r.watchdog.armed),
    ),
    ...gauge(
      "hactl_build_info",
      "The hactl build: version, git commit, advertised Patroni version, Deno.",
      buildLabels,
      1,
    ),
    ...gauge(
      "hactl_resident_memory_bytes",
      "Resident set size of the agent process.",
      labels,
      r.memory.rssBytes,
    ),
    ...gauge("hactl_heap_used_bytes", "V8 heap in use by the agent.", labels, r.memory.heapUsedBytes),
  ];
}
