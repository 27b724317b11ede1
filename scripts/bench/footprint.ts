/**
 * Idle footprint benchmark: a fresh 3-member etcd, three daemons started with the same YAML, and once the cluster
 * has formed (1 primary + 2 streaming replicas, by SQL) and settled, a measured idle window of `--window` seconds:
 * - resident memory of each agent and of its fencing supervisor: VmRSS (/proc/PID/status; also split into RssAnon,
 *   the process's own memory, and RssFile, mapped files: mostly the Deno executable's code), PSS
 *   (/proc/PID/smaps_rollup: shared pages, such as the Deno executable's code, split between the processes that
 *   map them), sampled every 5 s over the window (the figure is the maximum);
 * - each agent's V8 heap in use at the end of the window (`hactl_heap_used_bytes` from its /metrics);
 * - CPU seconds per minute of each agent and of its supervisor (utime + stime of /proc/PID/stat over the window);
 * - etcd requests per minute for the whole cluster, from etcd's own /metrics on every member:
 *   `grpc_server_msg_received_total` (every request message, including each keep-alive and watch request on a
 *   stream; the figure compared) and `grpc_server_handled_total` (finished RPCs), with a breakdown by gRPC method.
 * With `--patroni`, the same run with Patroni (`patroni` from Debian) on the same etcd set-up and YAML, interleaved.
 *
 * Prints one JSON object per run on stdout, then a summary line per daemon and timing. Usage (as a non-root user;
 * see footprint.sh): deno run -A scripts/bench/footprint.ts [--runs N] [--window S] [--settle S]
 * [--timing 30,10] [--patroni]   (`--timing 10` means ttl 10 / loop_wait 2 / retry_timeout 4; 30 means 30/10/10;
 * 5 means 5/1/2).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startEtcd } from "../../tests/helpers/etcd.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../../tests/helpers/processes.ts";
import { type MemberLayout, spawnAgent, waitHealthyBySql, writeLayout } from "../lib/local_cluster.ts";

type Daemon = "hactl" | "patroni";

/** ttl / loop_wait / retry_timeout of each `--timing` value. */
const TIMINGS: Record<string, [number, number, number]> = {
  "30": [30, 10, 10],
  "10": [10, 2, 4],
  "5": [5, 1, 2],
};

const CLOCK_TICKS = 100;

interface ProcFigures {
  rss_mb: number;
  pss_mb: number;
  /** RSS split: the process's own memory (RssAnon) and mapped files (RssFile: the Deno executable's code). */
  anon_mb: number;
  file_mb: number;
  cpu_s_per_min: number;
}

interface RunResult {
  daemon: Daemon;
  timing: string;
  run: number;
  agents: ProcFigures[];
  supervisors: ProcFigures[];
  etcd_requests_per_min: number;
  etcd_rpcs_per_min: number;
  etcd_by_method_per_min: Record<string, number>;
  /** The first agent's CPU seconds per minute by thread name (its JS runs on the main thread). */
  agent_cpu_by_thread: Record<string, number>;
  /** Each agent's V8 heap in use at the end of the window (`hactl_heap_used_bytes` of its /metrics). */
  agent_heap_used_mb: number[];
}

function mb(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}

/** [VmRSS, PSS, RssAnon, RssFile] in kB, or zeros when the process is gone. */
function memoryKb(pid: number): [number, number, number, number] {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    const pss = Number(
      /^Pss:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`))?.[1] ?? 0,
    );
    return [field("VmRSS"), pss, field("RssAnon"), field("RssFile")];
  } catch {
    return [0, 0, 0, 0];
  }
}

/** An agent's V8 heap in use, in MB, from its /metrics (0 when it does not answer). */
async function agentHeapMb(apiPort: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const m = /^hactl_heap_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
    return m ? mb(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** utime + stime in clock ticks. */
function cpuTicks(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** utime + stime in clock ticks of each thread of a process, summed by thread name (`comm`). */
function threadTicks(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[\d-]+$/, "");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
      } catch { /* the thread ended */ }
    }
  } catch { /* gone */ }
  return byName;
}

/** The fencing supervisor started by an agent: its child whose command line names `fence-supervisor`. */
function supervisorOf(agentPid: number): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== agentPid) continue;
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes("fence-supervisor")) {
        return Number(e.name);
      }
    } catch { /* gone */ }
  }
  return null;
}

/** etcd's gRPC counters summed over the members: received messages and handled RPCs, per method. */
async function etcdCounters(endpoints: string[]): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const e of endpoints) {
    const text = await (await fetch(`${e}/metrics`)).text();
    for (const line of text.split("\n")) {
      const m = /^(grpc_server_msg_received_total|grpc_server_handled_total)\{(.*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const method = /grpc_method="([^"]+)"/.exec(m[2]!)?.[1] ?? "?";
      const kind = m[1] === "grpc_server_handled_total" ? "handled" : "received";
      const key = `${kind}:${method}`;
      totals.set(key, (totals.get(key) ?? 0) + Number(m[3]));
    }
  }
  return totals;
}

function spawnPatroni(m: MemberLayout): Deno.ChildProcess {
  return new Deno.Command("patroni", { args: [m.configPath], stdout: "null", stderr: "null", stdin: "null" })
    .spawn();
}

/** Sample memory every 5 s over the window (each figure its maximum); CPU from the counters at both ends. */
async function measure(pids: number[], windowS: number): Promise<ProcFigures[]> {
  const startTicks = pids.map(cpuTicks);
  const maxMem = pids.map(() => [0, 0, 0, 0]);
  const until = performance.now() + windowS * 1000;
  for (;;) {
    pids.forEach((p, i) => {
      maxMem[i] = memoryKb(p).map((kb, k) => Math.max(maxMem[i]![k]!, kb));
    });
    const left = until - performance.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(5000, left)));
  }
  return pids.map((p, i) => ({
    rss_mb: mb(maxMem[i]![0]!),
    pss_mb: mb(maxMem[i]![1]!),
    anon_mb: mb(maxMem[i]![2]!),
    file_mb: mb(maxMem[i]![3]!),
    cpu_s_per_min: Math.round(((cpuTicks(p) - startTicks[i]!) / CLOCK_TICKS) / (windowS / 60) * 1000) / 1000,
  }));
}

async function oneRun(
  daemon: Daemon,
  timing: string,
  run: number,
  o: { windowS: number; settleS: number },
): Promise<RunResult> {
  const [ttl, loopWait, retryTimeout] = TIMINGS[timing]!;
  await using etcd = await startEtcd({ members: 3 });
  const dir = await Deno.makeTempDir({ prefix: `hactl-footprint-${daemon}-` });
  const [pgBase, apiBase] = await freePorts(2, 3);
  const layout = {
    dir,
    scope: "bench",
    members: 3,
    etcdEndpoints: etcd.endpoints,
    basePgPort: pgBase!,
    baseApiPort: apiBase!,
    ttl,
    loopWait,
    retryTimeout,
  };
  const members = await writeLayout(layout);
  const procs: Deno.ChildProcess[] = [];
  try {
    for (const m of members) procs.push(daemon === "hactl" ? await spawnAgent(m) : spawnPatroni(m));
    await waitHealthyBySql(layout, members, 2, 180_000);
    await new Promise((r) => setTimeout(r, o.settleS * 1000));
    const agentPids = procs.map((p) => p.pid);
    const supervisorPids = daemon === "hactl" ? agentPids.map(supervisorOf) : [];
    if (supervisorPids.some((p) => p === null)) throw new Error("an agent has no fencing supervisor running");
    const before = await etcdCounters(etcd.endpoints);
    const threadsBefore = threadTicks(agentPids[0]!);
    const figures = await measure([...agentPids, ...supervisorPids as number[]], o.windowS);
    const threadsAfter = threadTicks(agentPids[0]!);
    const heaps = await Promise.all(members.map((m) => agentHeapMb(m.apiPort)));
    const after = await etcdCounters(etcd.endpoints);
    const byThread: Record<string, number> = {};
    for (const [name, ticks] of threadsAfter) {
      const perMin = (ticks - (threadsBefore.get(name) ?? 0)) / CLOCK_TICKS / (o.windowS / 60);
      if (perMin > 0) byThread[name] = Math.round(perMin * 1000) / 1000;
    }
    const perMin = (k: string) => ((after.get(k) ?? 0) - (before.get(k) ?? 0)) / (o.windowS / 60);
    const byMethod: Record<string, number> = {};
    let received = 0;
    let handled = 0;
    for (const k of after.keys()) {
      const v = perMin(k);
      if (k.startsWith("received:")) {
        received += v;
        if (v > 0) byMethod[k.slice("received:".length)] = Math.round(v * 10) / 10;
      } else handled += v;
    }
    return {
      daemon,
      timing: `${ttl}/${loopWait}/${retryTimeout}`,
      run,
      agents: figures.slice(0, agentPids.length),
      supervisors: figures.slice(agentPids.length),
      etcd_requests_per_min: Math.round(received * 10) / 10,
      etcd_rpcs_per_min: Math.round(handled * 10) / 10,
      etcd_by_method_per_min: byMethod,
      agent_cpu_by_thread: byThread,
      agent_heap_used_mb: heaps,
    };
  } finally {
    await Promise.all(procs.map((p) => stopAgent(p, 30_000)));
    await stopLeftoverPostgres(members.map((m) => m.dataDir));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summary(daemon: Daemon, timing: string, rs: RunResult[]): Record<string, unknown> {
  const agents = rs.flatMap((r) => r.agents);
  const sups = rs.flatMap((r) => r.supervisors);
  return {
    summary: daemon,
    timing: rs[0]?.timing ?? timing,
    runs: rs.length,
    agent_rss_mb_median: median(agents.map((a) => a.rss_mb)),
    agent_pss_mb_median: median(agents.map((a) => a.pss_mb)),
    agent_anon_mb_median: median(agents.map((a) => a.anon_mb)),
    agent_file_mb_median: median(agents.map((a) => a.file_mb)),
    agent_heap_used_mb_median: median(rs.flatMap((r) => r.agent_heap_used_mb)),
    supervisor_rss_mb_median: median(sups.map((a) => a.rss_mb)),
    supervisor_pss_mb_median: median(sups.map((a) => a.pss_mb)),
    supervisor_anon_mb_median: median(sups.map((a) => a.anon_mb)),
    supervisor_file_mb_median: median(sups.map((a) => a.file_mb)),
    agent_cpu_s_per_min_median: median(agents.map((a) => a.cpu_s_per_min)),
    supervisor_cpu_s_per_min_median: median(sups.map((a) => a.cpu_s_per_min)),
    etcd_requests_per_min_median: median(rs.map((r) => r.etcd_requests_per_min)),
    etcd_rpcs_per_min_median: median(rs.map((r) => r.etcd_rpcs_per_min)),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "1" },
      window: { type: "string", default: "60" },
      settle: { type: "string", default: "10" },
      timing: { type: "string", default: "30,10" },
      patroni: { type: "boolean", default: false },
    },
  });
  const timings = values.timing.split(",");
  for (const t of timings) if (!TIMINGS[t]) throw new Error(`--timing: ${t} is not one of 30, 10, 5`);
  const daemons: Daemon[] = values.patroni ? ["hactl", "patroni"] : ["hactl"];
  const opts = { windowS: Number(values.window), settleS: Number(values.settle) };
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  const results: RunResult[] = [];
  for (let i = 1; i <= Number(values.runs); i++) {
    for (const t of timings) {
      // Interleave the daemons so machine noise hits both alike.
      for (const d of daemons) {
        const r = await oneRun(d, t, i, opts);
        results.push(r);
        out(JSON.stringify(r));
      }
    }
  }
  for (const t of timings) {
    for (const d of daemons) {
      const [ttl, lw, rt] = TIMINGS[t]!;
      out(
        JSON.stringify(summary(
          d,
          t,
          results.filter((r) => r.daemon === d && r.timing === `${ttl}/${lw}/${rt}`),
        )),
      );
    }
  }
}
