/**
 * Health-check throughput benchmark: requests/s and latency (p50, p99) of `GET /primary` on the leader and
 * `GET /replica` on a replica of a real local cluster (1 etcd, 2 agents, PostgreSQL 15), at 4 and 32 concurrent
 * clients, each with a new connection per request (as HAProxy checks) and with kept-alive connections. The load
 * generator is `http_load.ts` (raw TCP, in this process); its own ceiling on the same machine is measured against
 * a trivial server in a separate process (`daemon: "trivial"`). With `--patroni`, the same load runs against
 * Patroni's REST API (Debian's `patroni`, 3.0.2) on a cluster formed the same way. Patroni's API speaks HTTP/1.0
 * and closes every connection, so its "keepalive" cases reconnect like the others.
 *
 * Prints one JSON object per case on stdout, then one `summary` line per hactl case with its same-run ratios to
 * Patroni (`rps_vs_patroni`, `p99_vs_patroni`) and to the generator's ceiling (`rps_vs_ceiling`). Usage (as a non-root user; see health.sh):
 *   deno run -A scripts/bench/health.ts [--duration SECONDS] [--connections 4,32] [--threads N] [--patroni]
 *     [--no-ceiling]
 * `--threads` (default 2, the machine's cores) is the number of generator threads sharing the connections.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startEtcd } from "../../tests/helpers/etcd.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../../tests/helpers/processes.ts";
import {
  type LayoutOptions,
  type MemberLayout,
  readHealth,
  spawnAgent,
  waitFor,
  waitHealthyBySql,
  writeLayout,
} from "../lib/local_cluster.ts";
import { runLoad } from "./http_load.ts";

type Daemon = "hactl" | "patroni" | "trivial";

interface Target {
  path: "/primary" | "/replica";
  port: number;
}

const out = (o: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));

interface CaseResult {
  daemon: Daemon;
  path: string;
  mode: string;
  connections: number;
  rps: number;
  p99_ms: number;
}
const results: CaseResult[] = [];

let THREADS = 2;

async function runCases(daemon: Daemon, targets: Target[], connections: number[], durationMs: number) {
  for (const t of targets) {
    // A short warm-up so the first case does not pay for JIT compilation.
    await runLoad({
      hostname: "127.0.0.1",
      port: t.port,
      path: t.path,
      connections: 4,
      durationMs: 500,
      keepAlive: true,
    });
    for (const keepAlive of [false, true]) {
      for (const c of connections) {
        const r = await runLoad({
          hostname: "127.0.0.1",
          port: t.port,
          path: t.path,
          connections: c,
          durationMs,
          keepAlive,
        }, THREADS);
        const mode = keepAlive ? "keepalive" : "new_connection";
        results.push({ daemon, path: t.path, mode, connections: c, rps: r.rps, p99_ms: r.p99_ms });
        out({
          daemon,
          path: t.path,
          mode,
          connections: c,
          generator_threads: THREADS,
          duration_s: durationMs / 1000,
          ...r,
        });
      }
    }
  }
}

function spawnPatroni(m: MemberLayout): Deno.ChildProcess {
  return new Deno.Command("patroni", { args: [m.configPath], stdout: "null", stderr: "null", stdin: "null" })
    .spawn();
}

/** Form a 2-member cluster with `daemon`, run the cases against it, tear everything down. */
async function benchDaemon(daemon: "hactl" | "patroni", connections: number[], durationMs: number) {
  await using etcd = await startEtcd({ members: 1 });
  const dir = await Deno.makeTempDir({ prefix: `hactl-health-${daemon}-` });
  const [pgBase, apiBase] = await freePorts(2, 2);
  const layout: LayoutOptions = {
    dir,
    scope: `health-${daemon}`,
    members: 2,
    etcdEndpoints: etcd.endpoints,
    basePgPort: pgBase!,
    baseApiPort: apiBase!,
  };
  const members = await writeLayout(layout);
  const procs: Deno.ChildProcess[] = [];
  try {
    for (const m of members) procs.push(daemon === "hactl" ? await spawnAgent(m) : spawnPatroni(m));
    const leaderName = await waitHealthyBySql(layout, members, 1, 180_000);
    const leader = members.find((m) => m.name === leaderName)!;
    const replica = members.find((m) => m.name !== leaderName)!;
    // Both endpoints must answer 200 before measuring (the replica's API sees itself streaming).
    await waitFor("GET /replica = 200 on the replica", 60_000, async () => {
      const res = await fetch(`http://127.0.0.1:${replica.apiPort}/replica`);
      await res.body?.cancel();
      return res.status === 200;
    });
    const h = await readHealth(layout);
    if (h.leader !== leader.name) throw new Error(`the leader moved to ${h.leader} before the run`);
    await runCases(
      daemon,
      [{ path: "/primary", port: leader.apiPort }, { path: "/replica", port: replica.apiPort }],
      connections,
      durationMs,
    );
  } finally {
    await Promise.all(procs.map((p) => stopAgent(p, 30_000)));
    await stopLeftoverPostgres(members.map((m) => m.dataDir));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The generator's ceiling: the same cases against a trivial server in its own process. */
async function benchTrivial(connections: number[], durationMs: number) {
  const [port] = await freePorts(1, 1);
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./http_load.ts", import.meta.url).pathname, "--serve-trivial", String(port)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitFor("the trivial server", 20_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.body?.cancel();
      return res.ok;
    });
    await runCases("trivial", [{ path: "/primary", port: port! }], connections, durationMs);
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "5" },
      connections: { type: "string", default: "4,32" },
      patroni: { type: "boolean", default: false },
      "no-ceiling": { type: "boolean", default: false },
      threads: { type: "string", default: "2" },
    },
  });
  const durationMs = Number(values.duration) * 1000;
  THREADS = Math.max(1, Number(values.threads));
  const connections = values.connections.split(",").map(Number);
  if (!values["no-ceiling"]) await benchTrivial(connections, durationMs);
  await benchDaemon("hactl", connections, durationMs);
  if (values.patroni) await benchDaemon("patroni", connections, durationMs);
  // Same-run ratios: hactl against Patroni and against the generator's ceiling, one line per case.
  for (const h of results.filter((r) => r.daemon === "hactl")) {
    const same = (d: Daemon) =>
      results.find((r) =>
        r.daemon === d && (d === "trivial" || r.path === h.path) && r.mode === h.mode &&
        r.connections === h.connections
      );
    const p = same("patroni");
    const t = same("trivial");
    const round = (x: number) => Math.round(x * 100) / 100;
    out({
      summary: "hactl",
      path: h.path,
      mode: h.mode,
      connections: h.connections,
      ...(p ? { rps_vs_patroni: round(h.rps / p.rps), p99_vs_patroni: round(h.p99_ms / p.p99_ms) } : {}),
      ...(t ? { rps_vs_ceiling: round(h.rps / t.rps) } : {}),
    });
  }
}
