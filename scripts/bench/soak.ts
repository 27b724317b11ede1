/**
 * Short-lease soak: a 3-member cluster (3-member etcd, three agents, `formCluster` of `tests/helpers/cluster.ts`)
 * left alone for `--minutes` at a given ttl / loop_wait / retry_timeout while `stress-ng` saturates both cores
 * (`--cpu 2`) and stalls fsync on the disk that holds the data directories (`--hdd 2`, 1 MB buffered writes of up to
 * 2 GB that the kernel flushes in bursts, and `--iomix 1`, a mix of reads, writes and fsyncs, in the cluster's own
 * directory). No fault is injected, so every change of the leader key and every
 * timeline change is a false failover. It reports:
 *
 * - `false_failovers`: changes of the leader key seen by a watch (a delete, or a put naming another member), and
 *   the leader's timeline at the start and the end (from its `GET /patroni`);
 * - the leader's HA cycle duration (`hactl_ha_cycle_duration_seconds`, sampled through
 *   `hactl_ha_cycle_last_duration_seconds` each `--sample-ms`: exact p50/p99/max of the cycles caught, and the
 *   histogram's bucket bound for p99 over every cycle) and the interval between two of its cycles (the timestamps
 *   of its `the leader with the lock` log lines: the gap the fence timer has to cover is one interval plus a
 *   renewal);
 * - renewal latency: the leader's `lease keepalive` calls (`hactl_dcs_call_duration_seconds`; bucket bounds for
 *   p50/p99, the mean, failed calls);
 * - timer lateness: a probe process (the same Deno, same priority as the agents) arms a 100 ms timer over and over
 *   and records how late each fires: the scheduling delay the agent's fence timer and the fencing supervisor (both
 *   Deno timers in such processes) suffer on the loaded host; and, from a second probe process, the latency of a
 *   4 kB write + fsync every 500 ms in the cluster's directory (the stalls the stressors cause).
 *
 * Prints one JSON object on stdout. Usage (as a non-root user; see soak.sh):
 *   deno run -A scripts/bench/soak.ts [--timing 5/1/2] [--minutes 5] [--stress on|off] [--sample-ms 500]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formCluster, type LocalCluster, type Timing } from "../../tests/helpers/cluster.ts";
import { watchLeaderKey } from "../../tests/helpers/writer.ts";
import { DURATION_BUCKETS } from "../../src/core/histogram.ts";

/** `ttl/loop_wait/retry_timeout`, e.g. `5/1/2`. */
export function parseTiming(text: string): Timing {
  const parts = text.split("/").map(Number);
  if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--timing: expected ttl/loop_wait/retry_timeout such as 5/1/2, got ${text}`);
  }
  return { ttl: parts[0]!, loopWait: parts[1]!, retryTimeout: parts[2]! };
}

/** The q-quantile (0..1) of `xs` by nearest rank, or null when empty. */
export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** Summary of a list of durations in ms: count, p50, p99, max (rounded to 0.1 ms). */
export function summary(xs: readonly number[]): Record<string, number | null> {
  const r = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
  return { n: xs.length, p50: r(quantile(xs, 0.5)), p99: r(quantile(xs, 0.99)), max: r(quantile(xs, 1)) };
}

/** One histogram of a Prometheus text: cumulative bucket counts by bound, sum, count. */
export interface PromHistogram {
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

/** The series of histogram `name` whose labels contain `labelPart` (e.g. `op="lease keepalive"`), or null. */
export function promHistogram(text: string, name: string, labelPart = ""): PromHistogram | null {
  const h: PromHistogram = { buckets: new Map(), sum: 0, count: 0 };
  let seen = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || !line.includes(labelPart)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const le = /le="([^"]+)"/.exec(line);
    if (line.startsWith(`${name}_bucket`) && le) {
      h.buckets.set(le[1] === "+Inf" ? Infinity : Number(le[1]), value);
      seen = true;
    } else if (line.startsWith(`${name}_sum`)) h.sum = value;
    else if (line.startsWith(`${name}_count`)) h.count = value;
  }
  return seen ? h : null;
}

/** The smallest bucket bound (s) under which at least a q share of the observations fall: a quantile's upper bound. */
export function bucketQuantile(h: PromHistogram, q: number): number | null {
  if (h.count === 0) return null;
  for (const le of [...DURATION_BUCKETS, Infinity]) {
    if ((h.buckets.get(le) ?? 0) >= q * h.count) return le;
  }
  return Infinity;
}

/** A gauge's value in a Prometheus text (first series), or null. */
export function promGauge(text: string, name: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : null;
}

/** Milliseconds since the epoch of a log line `2026-11-26 12:00:00,123 INFO: ...` (local time), or null. */
export function logLineTime(line: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}),(\d{3}) /.exec(line);
  return m ? new Date(`${m[1]}T${m[2]}.${m[3]}`).getTime() : null;
}

/** Intervals (ms) between consecutive log lines of `text` that contain `marker`, from `fromMs` on. */
export function markerIntervals(text: string, marker: string, fromMs: number): number[] {
  const times = text.split("\n").filter((l) => l.includes(marker)).map(logLineTime)
    .filter((t): t is number => t !== null && t >= fromMs);
  return times.slice(1).map((t, i) => t - times[i]!);
}

/** The timer probe: a 100 ms timer re-armed over and over; prints how late each fired (ms) on SIGTERM. */
const TIMER_PROBE = `
const out = [];
let expected = performance.now() + 100;
const tick = () => {
  const now = performance.now();
  out.push((now - expected).toFixed(2));
  expected = now + 100;
  setTimeout(tick, 100);
};
setTimeout(tick, 100);
Deno.addSignalListener("SIGTERM", () => {
  Deno.stdout.writeSync(new TextEncoder().encode(out.join("\\n") + "\\n"));
  Deno.exit(0);
});
`;

/**
 * The fsync probe, a process of its own (a synchronous fsync blocks its event loop, which would count as timer
 * lateness): a 4 kB write + fsync of the file named by its argument every 500 ms; prints each latency on SIGTERM.
 */
const FSYNC_PROBE = `
const out = [];
const buf = new Uint8Array(4096);
setInterval(() => {
  const t0 = performance.now();
  const f = Deno.openSync(Deno.args[0], { write: true, create: true });
  f.writeSync(buf);
  f.syncSync();
  f.close();
  out.push((performance.now() - t0).toFixed(2));
}, 500);
Deno.addSignalListener("SIGTERM", () => {
  Deno.stdout.writeSync(new TextEncoder().encode(out.join("\\n") + "\\n"));
  Deno.exit(0);
});
`;

function startProbe(code: string, ...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), { args: ["eval", code, ...args], stdout: "piped", stderr: "null" })
    .spawn();
}

/** Stop a probe and read the numbers it printed. */
async function probeFigures(probe: Deno.ChildProcess): Promise<number[]> {
  probe.kill("SIGTERM");
  const text = new TextDecoder().decode((await probe.output()).stdout);
  return text.split("\n").filter((l) => l.trim() !== "").map(Number);
}

async function getText(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : (await res.body?.cancel(), null);
  } catch {
    return null;
  }
}

async function timelineOf(c: LocalCluster, name: string): Promise<number | null> {
  const text = await getText(`http://127.0.0.1:${c.byName(name).apiPort}/patroni`);
  return text === null ? null : (JSON.parse(text).timeline ?? null);
}

function startStress(dir: string, seconds: number): Deno.ChildProcess {
  return new Deno.Command("stress-ng", {
    args: [
      "--cpu",
      "2",
      "--hdd",
      "2",
      "--hdd-bytes",
      "2g",
      "--hdd-write-size",
      "1m",
      "--iomix",
      "1",
      "--iomix-bytes",
      "512m",
      "--temp-path",
      dir,
      "--timeout",
      `${seconds}s`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Poll the leader's cycle gauge: a cycle counted since the last poll is recorded with the last duration. */
async function sampleCycles(c: LocalCluster, leaderNow: () => string, untilMs: number, everyMs: number) {
  const cycles: number[] = [];
  let missed = 0;
  let last = null as { name: string; count: number } | null;
  while (Date.now() < untilMs) {
    const name = leaderNow();
    const text = await getText(`http://127.0.0.1:${c.byName(name).apiPort}/metrics`);
    if (text !== null) {
      const count = promHistogram(text, "hactl_ha_cycle_duration_seconds")?.count ?? 0;
      const lastS = promGauge(text, "hactl_ha_cycle_last_duration_seconds");
      if (last?.name === name && count > last.count && lastS !== null) {
        cycles.push(lastS * 1000);
        missed += count - last.count - 1;
      }
      last = { name, count };
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return { cycles, missed };
}

async function soak(c: LocalCluster, minutes: number, stress: boolean, sampleMs: number) {
  const watch = await watchLeaderKey(c.etcd.endpoints, c.layout.scope);
  const startLeader = c.leader.name;
  const startTimeline = await timelineOf(c, startLeader);
  const fromMs = Date.now();
  const timerProbe = startProbe(TIMER_PROBE);
  const fsyncProbe = startProbe(FSYNC_PROBE, `${c.layout.dir}/probe-fsync`);
  const stressor = stress ? startStress(c.layout.dir, minutes * 60 + 5) : null;
  const leaderNow = () => [...watch.events].reverse().find((e) => e.type === "put")?.value ?? startLeader;
  const { cycles, missed } = await sampleCycles(c, leaderNow, fromMs + minutes * 60_000, sampleMs);
  let stressExit: number | null = null;
  if (stressor) {
    try {
      stressor.kill("SIGTERM");
    } catch { /* already done */ }
    stressExit = (await stressor.status).code;
  }
  const timerLateness = await probeFigures(timerProbe);
  const fsyncLatency = await probeFigures(fsyncProbe);
  const endLeader = leaderNow();
  const endTimeline = await timelineOf(c, endLeader);
  const metrics = await getText(`http://127.0.0.1:${c.byName(endLeader).apiPort}/metrics`) ?? "";
  await watch.close();
  return {
    watch,
    startLeader,
    endLeader,
    startTimeline,
    endTimeline,
    fromMs,
    cycles,
    missed,
    timerLateness,
    fsyncLatency,
    metrics,
    stressExit,
  };
}

async function logs(c: LocalCluster): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const x of c.members) m.set(x.name, await Deno.readTextFile(x.logPath).catch(() => ""));
  return m;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      timing: { type: "string", default: "5/1/2" },
      minutes: { type: "string", default: "5" },
      stress: { type: "string", default: "on" },
      "sample-ms": { type: "string", default: "500" },
    },
  });
  const timing = parseTiming(values.timing);
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error(`--minutes: expected a positive number, got ${values.minutes}`);
  if (values.stress !== "on" && values.stress !== "off") throw new Error(`--stress: expected on or off`);
  const sampleMs = Number(values["sample-ms"]);
  await using c = await formCluster(timing, "soak", { formDeadlineMs: 180_000 });
  const r = await soak(c, minutes, values.stress === "on", sampleMs);
  const texts = await logs(c);
  const all = [...texts.values()].join("\n");
  const changes = r.watch.events.filter((e, i, es) =>
    e.type === "delete" || (e.value !== (i === 0 ? r.startLeader : es[i - 1]!.value))
  );
  const keepalive = promHistogram(r.metrics, "hactl_dcs_call_duration_seconds", 'op="lease keepalive"');
  const cycleHist = promHistogram(r.metrics, "hactl_ha_cycle_duration_seconds");
  const failures = /hactl_dcs_call_failures_total\{[^}]*op="lease keepalive"\} (\d+)/.exec(r.metrics);
  const row = {
    timing: `${timing.ttl}/${timing.loopWait}/${timing.retryTimeout}`,
    minutes,
    stress: values.stress,
    stress_exit: r.stressExit,
    timing_warnings: all.split("\n").filter((l) => /below the minimum|is violated/.test(l)).length,
    effective_loop_wait_s: promGauge(r.metrics, "hactl_loop_wait_seconds"),
    false_failovers: changes.length,
    leader_events: r.watch.events.map((e) => `${e.type}:${e.value ?? "-"}`),
    start_leader: r.startLeader,
    end_leader: r.endLeader,
    timeline: [r.startTimeline, r.endTimeline],
    fence_lines: all.split("\n").filter((l) => /fence deadline passed|supervisor.*stopp/i.test(l))
      .length,
    cycle_ms_sampled: { ...summary(r.cycles), missed: r.missed },
    cycle_p99_bucket_s: cycleHist ? bucketQuantile(cycleHist, 0.99) : null,
    cycle_interval_ms: summary(
      markerIntervals(texts.get(r.endLeader) ?? "", "the leader with the lock", r.fromMs),
    ),
    renewal: keepalive
      ? {
        n: keepalive.count,
        mean_ms: Math.round(keepalive.sum / keepalive.count * 10000) / 10,
        p50_bucket_s: bucketQuantile(keepalive, 0.5),
        p99_bucket_s: bucketQuantile(keepalive, 0.99),
        over_1s: keepalive.count - (keepalive.buckets.get(1) ?? 0),
        failed: failures ? Number(failures[1]) : null,
      }
      : null,
    timer_lateness_ms: summary(r.timerLateness),
    fsync_ms: summary(r.fsyncLatency),
  };
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(row) + "\n"));
  if (row.false_failovers > 0 || row.fence_lines > 0) await c.dumpLogs("soak");
}
