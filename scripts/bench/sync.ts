/**
 * Synchronous replication benchmark: what `synchronous_mode` costs in throughput and commit latency, and the write
 * gap of a switchover with it, against asynchronous replication in the same run (this machine is shared and noisy,
 * so only ratios within one run mean something).
 *
 * For each mode (`async`, `on`, `strict`, `quorum`: `synchronous_mode` false / true / true with
 * `synchronous_mode_strict` / quorum) a fresh local cluster is formed (3-member etcd, three agents,
 * `formCluster` of `tests/helpers/cluster.ts`, ttl 10 / loop_wait 2 / retry_timeout 4); the mode is set in the
 * `config` key and, in a synchronous mode, the leader's `sync` key has to name a standby that Postgres waits for.
 * Then `pgbench` (TPC-B like, scale 1) runs against the primary over TCP for `--seconds` with `--clients`
 * connections, logging every transaction: transactions per second, and commit latency p50 / p99 from the log.
 * Last, the switchover scenario of `./failover_scenarios.ts` (a client writing every 20 ms to every member) gives
 * the write gap and the acknowledged writes missing on the new primary.
 *
 * Prints one JSON object per mode, then one line with the ratios against `async`. Usage (as a non-root user; see
 * sync.sh): `deno run -A scripts/bench/sync.ts [--modes async,on,strict,quorum] [--seconds 20] [--clients 4]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formCluster, type LocalCluster, setConfig } from "../../tests/helpers/cluster.ts";
import { LOCAL_SECRETS, readHealth, waitFor, withSql } from "../lib/local_cluster.ts";
import { switchoverScenario, TIMINGS } from "./failover_scenarios.ts";

const MODES: Record<string, Record<string, unknown>> = {
  async: { synchronous_mode: false },
  on: { synchronous_mode: true },
  strict: { synchronous_mode: true, synchronous_mode_strict: true },
  quorum: { synchronous_mode: "quorum" },
};

/**
 * In a synchronous mode: until the `sync` key names a standby and the primary's Postgres waits for one; the first
 * standby the key names (a switchover may only go to one of them).
 */
async function waitSynchronous(c: LocalCluster): Promise<string> {
  return await waitFor("the sync key to name a standby the primary waits for", 60_000, async () => {
    const sync = (await readHealth(c.layout)).view.sync;
    if (sync?.leader !== c.leader.name || sync.syncStandby.length === 0) {
      return { notYet: JSON.stringify(sync) };
    }
    const state = await withSql(c.leader, async (sql) => {
      const rows = await sql`SELECT count(*)::int AS n FROM pg_stat_replication
        WHERE sync_state IN ('sync', 'quorum')`;
      return rows[0]!["n"] as number;
    });
    return state > 0 ? sync.syncStandby[0]! : { notYet: "no standby in sync or quorum state" };
  });
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

function pgBin(name: string): string {
  const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort((a, b) => +b - +a);
  return `/usr/lib/postgresql/${versions[0]}/bin/${name}`;
}

interface PgbenchFigures {
  tps: number;
  transactions: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
}

/** pgbench on the primary: initialise scale 1, run, read every transaction's latency from the per-client logs. */
async function pgbench(c: LocalCluster, seconds: number, clients: number): Promise<PgbenchFigures> {
  const bin = pgBin("pgbench");
  const env = { PGPASSWORD: LOCAL_SECRETS.superuser.password };
  const conn = ["-h", "127.0.0.1", "-p", String(c.leader.pgPort), "-U", LOCAL_SECRETS.superuser.username];
  await run(bin, ["-i", "-s", "1", "-q", ...conn, "postgres"], env);
  const logDir = await Deno.makeTempDir({ prefix: "hactl-bench-pgbench-" });
  try {
    const args = ["-n", "-T", String(seconds), "-c", String(clients), "-j", String(Math.min(clients, 2))];
    const text = await run(bin, [...args, "-l", "--log-prefix", `${logDir}/tx`, ...conn, "postgres"], env);
    const tps = Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? NaN);
    const latencies: number[] = [];
    for (const e of Deno.readDirSync(logDir)) {
      for (const line of Deno.readTextFileSync(`${logDir}/${e.name}`).split("\n")) {
        const us = Number(line.split(" ")[2]); // client_id transaction_no time_us script_no epoch epoch_us
        if (line && Number.isFinite(us)) latencies.push(us / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    return {
      tps,
      transactions: latencies.length,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
    };
  } finally {
    await Deno.remove(logDir, { recursive: true });
  }
}

async function benchMode(mode: string, seconds: number, clients: number): Promise<Record<string, unknown>> {
  await using c = await formCluster(TIMINGS.fast, `bench-sync-${mode}`);
  await setConfig(c, MODES[mode]!);
  const standby = mode === "async" ? undefined : await waitSynchronous(c);
  const load = await pgbench(c, seconds, clients);
  const sw = await switchoverScenario(c, standby);
  return {
    mode,
    timing: "ttl 10 / loop_wait 2 / retry_timeout 4",
    seconds,
    clients,
    ...load,
    switchoverWriteGapMs: Math.round(sw.writeGapMs),
    switchoverLostAcked: sw.lost,
    switchoverOverlaps: sw.overlaps,
    switchoverAnswer: sw.answer,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      modes: { type: "string", default: "async,on,strict" },
      seconds: { type: "string", default: "20" },
      clients: { type: "string", default: "4" },
    },
  });
  const modes = values.modes.split(",");
  for (const m of modes) {
    if (!MODES[m]) throw new Error(`--modes: unknown mode '${m}' (${Object.keys(MODES)})`);
  }
  const results: Record<string, unknown>[] = [];
  for (const mode of modes) {
    const r = await benchMode(mode, Number(values.seconds), Number(values.clients));
    results.push(r);
    // deno-lint-ignore no-console
    console.log(JSON.stringify(r));
  }
  const base = results.find((r) => r.mode === "async");
  if (!base) return;
  const ratio = (r: Record<string, unknown>, k: string) =>
    typeof r[k] === "number" && typeof base[k] === "number" ? +(r[k] / base[k]).toFixed(2) : null;
  const ratios = results.filter((r) => r !== base).map((r) => ({
    mode: r.mode,
    tps_vs_async: ratio(r, "tps"),
    p50_vs_async: ratio(r, "latencyP50Ms"),
    p99_vs_async: ratio(r, "latencyP99Ms"),
    switchover_gap_vs_async: ratio(r, "switchoverWriteGapMs"),
  }));
  // deno-lint-ignore no-console
  console.log(JSON.stringify({ summary: "ratios against async, same run", ratios }));
}

if (import.meta.main) await main();
