/**
 * Where the memory of an agent and of its fencing supervisor goes: one process per stage, each started with
 * `deno run` as the product runs (this repository's deno.json, the agent's V8 flags unless `--v8-flags` says
 * otherwise), measured `--settle` seconds after it started: VmRSS (/proc/PID/status) split into the process's own
 * memory (RssAnon) and mapped files (RssFile: mostly the Deno executable's code, shared by every process that runs
 * the same executable, such as an agent and its supervisor), PSS (/proc/PID/smaps_rollup) and, for the stages that are small programs of their own, V8's heap and the memory
 * outside it (`Deno.memoryUsage()`: heapUsed, heapTotal, external). The stages:
 * - `bare`: a Deno process running an empty timer loop;
 * - `supervisor`: the fencing supervisor spawned with the very command line the agent uses
 *   (`supervisorInvocation()` of src/host/fence_client.ts), idle and disarmed;
 * - `supervisor-via-main`: the same started as `deno run --config=deno.json main.ts fence-supervisor` (how the
 *   agent started it under `deno run` before 2026-12-07: Deno reads main.ts's whole module graph first);
 * - `supervisor-graph`: the supervisor's modules imported by a program of their own (its heap figures);
 * - `postgres`, `etcd3`, `etcd3+postgres+https`: those packages imported into an empty program;
 * - `agent-graph`: `cli/agent.ts` (the agent's whole module graph) imported, the agent not started;
 * - `etcd3-1-client`, `etcd3-3-clients-1-used`, `etcd3-3-clients-3-used`: `npm:etcd3` clients built as the
 *   etcd adapter builds them (one per endpoint of a 3-member etcd started for the run), and one `get` sent
 *   through the first client, or through each.
 * The running agent's own figures come from scripts/bench/footprint.sh.
 *
 * Usage (see memory_breakdown.sh): deno run -A scripts/bench/memory_breakdown.ts [--runs N] [--settle S]
 * [--v8-flags=FLAGS] [--stages a,b,...]. Prints one JSON line per stage and run, then one summary line per stage
 * (medians).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startEtcd } from "../../tests/helpers/etcd.ts";
import { supervisorInvocation } from "../../src/host/fence_client.ts";
import { AGENT_V8_FLAGS } from "../lib/local_cluster.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const file = (rel: string) => new URL(rel, `file://${REPO}`).href;

/** Prints `Deno.memoryUsage()` once the program settled, then keeps the process alive until it is killed. */
const REPORT = (settleMs: number) =>
  `setTimeout(() => { const m = Deno.memoryUsage(); console.log(JSON.stringify(m)); }, ${settleMs});\n` +
  `setInterval(() => {}, 1000);\n`;

function etcdProgram(clients: number, used: number): (endpoints: string[]) => string {
  return (endpoints) =>
    `import { Etcd3 } from "etcd3";\n` +
    `const hosts = ${JSON.stringify(endpoints.slice(0, clients))};\n` +
    `const cs = hosts.map((h) => new Etcd3({ hosts: [h] }));\n` +
    `for (const c of cs.slice(0, ${used})) await c.get("hactl-memory-breakdown").string();\n`;
}

interface Stage {
  /** The program's source (given the etcd endpoints), or null for a supervisor. */
  program: ((endpoints: string[]) => string) | null;
  /** A supervisor's command line up to `--data-dir` (with `deno run`'s flags, the V8 flags go after `run`). */
  supervisor?: () => string[];
  etcd?: boolean;
}

const STAGES: Record<string, Stage> = {
  bare: { program: () => "" },
  supervisor: { program: null, supervisor: supervisorInvocation },
  "supervisor-via-main": {
    program: null,
    supervisor: () => [
      Deno.execPath(),
      "run",
      "--quiet",
      "--allow-all",
      `--config=${REPO}deno.json`,
      `${REPO}main.ts`,
      "fence-supervisor",
    ],
  },
  "supervisor-graph": {
    program: () => `import "${file("cli/fence_supervisor.ts")}";\nimport "${file("main.ts")}";\n`,
  },
  postgres: { program: () => `import "postgres";\n` },
  etcd3: { program: () => `import "etcd3";\n` },
  "etcd3+postgres+https": { program: () => `import "etcd3";\nimport "postgres";\nimport "node:https";\n` },
  "agent-graph": { program: () => `import "${file("cli/agent.ts")}";\n` },
  "etcd3-1-client": { program: etcdProgram(1, 1), etcd: true },
  "etcd3-3-clients-1-used": { program: etcdProgram(3, 1), etcd: true },
  "etcd3-3-clients-3-used": { program: etcdProgram(3, 3), etcd: true },
};

interface Figures {
  stage: string;
  run: number;
  rss_mb: number;
  pss_mb: number;
  /** Resident pages of the process's own (anonymous) memory, and of mapped files (the Deno executable's code). */
  anon_mb: number;
  file_mb: number;
  heap_used_mb?: number;
  heap_total_mb?: number;
  external_mb?: number;
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024 * 10) / 10;

/** VmRSS, PSS, RssAnon and RssFile in kB. */
function procMemoryKb(pid: number): [number, number, number, number] {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`))?.[1] ?? 0);
  return [field("VmRSS"), pss, field("RssAnon"), field("RssFile")];
}

/** The first line a child writes on stdout, or null when it has written none within `ms`. */
async function firstLine(child: Deno.ChildProcess, ms: number): Promise<string | null> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = performance.now() + ms;
  while (!text.includes("\n")) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      reader.read(),
      new Promise<null>((res) => timer = setTimeout(() => res(null), left)),
    ]);
    clearTimeout(timer);
    if (r === null || r.done) break;
    text += r.value;
  }
  reader.releaseLock();
  return text.includes("\n") ? text.slice(0, text.indexOf("\n")) : null;
}

async function measureStage(
  name: string,
  run: number,
  o: { settleS: number; v8Flags: string; dir: string; endpoints: string[] },
): Promise<Figures> {
  const stage = STAGES[name]!;
  const v8 = o.v8Flags ? [`--v8-flags=${o.v8Flags}`] : [];
  let args: string[];
  if (stage.supervisor) {
    // The supervisor's command line, with the V8 flags of this run.
    args = stage.supervisor!();
    if (args.includes("run")) args.splice(args.indexOf("run") + 1, 0, ...v8);
    args.push("--data-dir", `${o.dir}/pg-${name}-${run}`);
  } else {
    const path = `${o.dir}/${name.replace(/[^a-z0-9]+/g, "_")}.ts`;
    await Deno.writeTextFile(path, stage.program!(o.endpoints) + REPORT(o.settleS * 1000));
    args = [Deno.execPath(), "run", "--quiet", "--allow-all", ...v8, `--config=${REPO}deno.json`, path];
  }
  const child = new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    let heap: Record<string, number> | null = null;
    if (stage.supervisor) {
      // The supervisor answers `ready <pid>` once it runs; then it idles, disarmed, until stdin closes.
      const ready = await firstLine(child, 30_000);
      if (!ready?.startsWith("ready")) throw new Error(`supervisor: no 'ready' line (got ${ready})`);
      await new Promise((r) => setTimeout(r, o.settleS * 1000));
    } else {
      const line = await firstLine(child, o.settleS * 1000 + 60_000);
      if (line === null) throw new Error(`${name}: the program printed no figures`);
      heap = JSON.parse(line);
    }
    const [rss, pss, anon, fileBacked] = procMemoryKb(child.pid);
    return {
      stage: name,
      run,
      rss_mb: mb(rss * 1024),
      pss_mb: mb(pss * 1024),
      anon_mb: mb(anon * 1024),
      file_mb: mb(fileBacked * 1024),
      ...(heap
        ? {
          heap_used_mb: mb(heap["heapUsed"]!),
          heap_total_mb: mb(heap["heapTotal"]!),
          external_mb: mb(heap["external"]!),
        }
        : {}),
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.stdin.close().catch(() => {});
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2 * 10) / 10;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "3" },
      settle: { type: "string", default: "5" },
      "v8-flags": { type: "string", default: AGENT_V8_FLAGS },
      stages: { type: "string", default: Object.keys(STAGES).join(",") },
    },
  });
  const names = values.stages.split(",");
  for (const n of names) if (!STAGES[n]) throw new Error(`--stages: no stage '${n}'`);
  const dir = await Deno.makeTempDir({ prefix: "hactl-memory-" });
  const needEtcd = names.some((n) => STAGES[n]!.etcd);
  const etcd = needEtcd ? await startEtcd({ members: 3 }) : null;
  const out = (v: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(v) + "\n"));
  const results: Figures[] = [];
  try {
    const opts = {
      settleS: Number(values.settle),
      v8Flags: values["v8-flags"],
      dir,
      endpoints: etcd?.endpoints ?? [],
    };
    // Stages interleaved run by run, so machine noise hits them alike.
    for (let run = 1; run <= Number(values.runs); run++) {
      for (const n of names) {
        const f = await measureStage(n, run, opts);
        results.push(f);
        out(f);
      }
    }
  } finally {
    await etcd?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  for (const n of names) {
    const rs = results.filter((r) => r.stage === n);
    const m = (k: keyof Figures) =>
      rs[0]?.[k] === undefined ? undefined : median(rs.map((r) => r[k] as number));
    out({
      summary: n,
      v8_flags: values["v8-flags"],
      runs: rs.length,
      rss_mb: m("rss_mb"),
      pss_mb: m("pss_mb"),
      anon_mb: m("anon_mb"),
      file_mb: m("file_mb"),
      heap_used_mb: m("heap_used_mb"),
      heap_total_mb: m("heap_total_mb"),
      external_mb: m("external_mb"),
    });
  }
}
