/**
 * Where an idle agent spends its CPU: a 1-member etcd, one agent (leader of a 1-member cluster, or with
 * `--members 3` the first of three), run with the V8 inspector on, and after it formed and settled a CPU profile
 * of `--window` seconds taken through the inspector (Profiler domain). Prints the self time by function and by
 * source file, the top `--top` of each, as JSON lines on stdout.
 *
 * Usage (as a non-root user; see idle_profile.sh): deno run -A scripts/bench/idle_profile.ts [--window S]
 * [--timing 30|10|5] [--top N] [--members N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startEtcd } from "../../tests/helpers/etcd.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../../tests/helpers/processes.ts";
import { AGENT_V8_FLAGS, mainModule, waitHealthyBySql, writeLayout } from "../lib/local_cluster.ts";

const TIMINGS: Record<string, [number, number, number]> = {
  "30": [30, 10, 10],
  "10": [10, 2, 4],
  "5": [5, 1, 2],
};

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Run Profiler.start, wait, Profiler.stop over the inspector's WebSocket. */
async function profile(wsUrl: string, windowS: number): Promise<Profile> {
  const ws = new WebSocket(wsUrl);
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  let id = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data as string);
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((r) => {
      waiting.set(++id, r);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 1000 });
  await send("Profiler.start");
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const { profile } = await send("Profiler.stop") as { profile: Profile };
  ws.close();
  return profile;
}

function topBy(p: Profile, key: (n: ProfileNode) => string, top: number): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const ms = new Map<string, number>();
  p.samples.forEach((s, i) => {
    const k = key(byId.get(s)!);
    ms.set(k, (ms.get(k) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...ms.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, Math.round(v)]);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      window: { type: "string", default: "60" },
      timing: { type: "string", default: "30" },
      top: { type: "string", default: "25" },
      members: { type: "string", default: "1" },
    },
  });
  const [ttl, loopWait, retryTimeout] = TIMINGS[values.timing]!;
  const n = Number(values.members);
  await using etcd = await startEtcd({ members: 1 });
  const dir = await Deno.makeTempDir({ prefix: "hactl-profile-" });
  const [pgBase, apiBase, inspectPort] = await freePorts(3, n);
  const layout = {
    dir,
    scope: "bench",
    members: n,
    etcdEndpoints: etcd.endpoints,
    basePgPort: pgBase!,
    baseApiPort: apiBase!,
    ttl,
    loopWait,
    retryTimeout,
  };
  const members = await writeLayout(layout);
  const procs = members.map((m, i) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `--v8-flags=${Deno.env.get("HACTL_V8_FLAGS") ?? AGENT_V8_FLAGS}`,
        ...(i === 0 ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
        mainModule(),
        "agent",
        m.configPath,
      ],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn()
  );
  try {
    await waitHealthyBySql(layout, members, n - 1, 180_000);
    await new Promise((r) => setTimeout(r, 10_000));
    const targets = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json() as {
      webSocketDebuggerUrl: string;
    }[];
    const p = await profile(targets[0]!.webSocketDebuggerUrl, Number(values.window));
    const top = Number(values.top);
    const total = p.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
    const idle = topBy(p, (n) => n.callFrame.functionName || n.callFrame.url, 1000)
      .filter(([k]) => k === "(idle)" || k === "(program)" || k === "(garbage collector)");
    const out = (v: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(v) + "\n"));
    out({ timing: `${ttl}/${loopWait}/${retryTimeout}`, window_ms: Math.round(total), special_ms: idle });
    out({
      by_function: topBy(
        p,
        (n) =>
          `${n.callFrame.functionName || "(anonymous)"} ${
            n.callFrame.url.replace(/^.*\/(node_modules|registry\.npmjs\.org)\//, "npm:").replace(
              /^file:\/\/.*?\/(src|cli)\//,
              "$1/",
            )
          }:${n.callFrame.lineNumber + 1}`,
        top,
      ),
    });
    out({
      by_file: topBy(
        p,
        (n) =>
          n.callFrame.url.replace(/^.*\/(node_modules|registry\.npmjs\.org)\/(\.deno\/)?([^/]+).*$/, "npm:$3")
            .replace(/^file:\/\/.*?\/(src|cli)\//, "$1/") || n.callFrame.functionName,
        top,
      ),
    });
  } finally {
    await Promise.all(procs.map((p) => stopAgent(p, 30_000)));
    await stopLeftoverPostgres(members.map((m) => m.dataDir));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
