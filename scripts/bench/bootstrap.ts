/**
 * Bootstrap benchmark: a fresh 3-member etcd, then three agents started at once; measures the time until the
 * cluster has 1 primary + 2 streaming replicas (leader key from etcd, then SQL on every member: the leader out of
 * recovery, each replica's own walreceiver streaming; every 100 ms) and each agent's resident memory
 * (VmRSS of the agent process) right after that and after a steady period. With `--patroni`, the same run with
 * Patroni's daemon (`patroni` from Debian) on the same etcd and the same YAML, so the two compare in one run.
 *
 * With HACTL_BENCH_KEEP=1 the run's directory (agent and Postgres logs) is kept and its path, the start and the
 * formed wall-clock times are printed on stderr, to build a timeline from the logs' timestamps.
 *
 * Prints one JSON object per run on stdout, then a summary line. Usage (as a non-root user; see bootstrap.sh):
 *   deno run -A scripts/bench/bootstrap.ts [--runs N] [--steady SECONDS] [--patroni]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startEtcd } from "../../tests/helpers/etcd.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../../tests/helpers/processes.ts";
import { type MemberLayout, spawnAgent, waitHealthyBySql, writeLayout } from "../lib/local_cluster.ts";

interface RunResult {
  daemon: "hactl" | "patroni";
  run: number;
  formed_s: number;
  rss_mb_at_formed: number[];
  rss_mb_steady: number[];
}

function rssMb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "0");
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return 0;
  }
}

function spawnPatroni(m: MemberLayout): Deno.ChildProcess {
  return new Deno.Command("patroni", {
    args: [m.configPath],
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
}

async function oneRun(daemon: "hactl" | "patroni", run: number, steadyS: number): Promise<RunResult> {
  await using etcd = await startEtcd({ members: 3 });
  const dir = await Deno.makeTempDir({ prefix: `hactl-bench-${daemon}-` });
  const [pgBase, apiBase] = await freePorts(2, 3);
  const layout = {
    dir,
    scope: "bench",
    members: 3,
    etcdEndpoints: etcd.endpoints,
    basePgPort: pgBase!,
    baseApiPort: apiBase!,
  };
  const members = await writeLayout(layout);
  const procs: Deno.ChildProcess[] = [];
  try {
    const t0 = performance.now();
    // deno-lint-ignore no-console
    if (Deno.env.get("HACTL_BENCH_KEEP")) console.error(`t0 ${new Date().toISOString()}`);
    for (const m of members) procs.push(daemon === "hactl" ? await spawnAgent(m) : spawnPatroni(m));
    await waitHealthyBySql(layout, members, 2, 180_000);
    const formed = (performance.now() - t0) / 1000;
    // deno-lint-ignore no-console
    if (Deno.env.get("HACTL_BENCH_KEEP")) console.error(`formed ${new Date().toISOString()}`);
    const atFormed = procs.map((p) => rssMb(p.pid));
    await new Promise((r) => setTimeout(r, steadyS * 1000));
    const steady = procs.map((p) => rssMb(p.pid));
    return {
      daemon,
      run,
      formed_s: Math.round(formed * 100) / 100,
      rss_mb_at_formed: atFormed,
      rss_mb_steady: steady,
    };
  } finally {
    await Promise.all(procs.map((p) => stopAgent(p, 30_000)));
    await stopLeftoverPostgres(members.map((m) => m.dataDir));
    if (Deno.env.get("HACTL_BENCH_KEEP")) {
      // deno-lint-ignore no-console
      console.error(`kept ${dir}`);
    } else await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "3" },
      steady: { type: "string", default: "20" },
      patroni: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const steady = Number(values.steady);
  const daemons: ("hactl" | "patroni")[] = values.patroni ? ["hactl", "patroni"] : ["hactl"];
  const results: RunResult[] = [];
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  for (let i = 1; i <= runs; i++) {
    // Interleave the daemons so machine noise hits both alike.
    for (const d of daemons) {
      const r = await oneRun(d, i, steady);
      results.push(r);
      out(JSON.stringify(r));
    }
  }
  for (const d of daemons) {
    const mine = results.filter((r) => r.daemon === d);
    out(JSON.stringify({
      summary: d,
      runs: mine.length,
      formed_s_median: median(mine.map((r) => r.formed_s)),
      rss_mb_steady_median: median(mine.flatMap((r) => r.rss_mb_steady)),
    }));
  }
}
