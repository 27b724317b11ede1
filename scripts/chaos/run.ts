/**
 * The chaos runner (needs root; see scripts/chaos/run.sh): forms a 3-member cluster in network namespaces, runs
 * each fault `--reps` times (or random faults for `--soak` minutes), prints one JSON line per run on stdout and,
 * at the end, a markdown table with the min–max figures per fault. A run that does not converge gets the cluster
 * formed anew for the next run. Exit code 1 when any run shows two nodes accepting writes, lost writes where none
 * may be lost (`NO_LOSS_FAULTS`; every fault in synchronous replication, HACTL_CHAOS_SYNC=on|strict|quorum) or did not
 * converge.
 *
 * Usage: deno run -A scripts/chaos/run.ts [--reps N] [--faults a,b] [--ttl 10|30] [--soak MINUTES]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type ChaosCluster, formChaosCluster } from "./cluster.ts";
import {
  type ChaosResult,
  type Fault,
  FAULTS,
  isFault,
  NotConvergedBefore,
  runFault,
  summaryTable,
} from "./faults.ts";
import { type Timing, TIMINGS } from "../bench/failover.ts";
import { CHAOS_SYNC_ENV, type ChaosSync, chaosSyncFromEnv } from "./sync.ts";

/** Faults after which no acknowledged write may be missing. */
export const NO_LOSS_FAULTS: readonly Fault[] = [
  "freeze",
  "job-freeze",
  "agent-kill",
  "etcd-leader-kill",
  "etcd-outage-60",
  "etcd-outage-cut-replica",
  "cut-etcd",
  "ttl-increase-cut-etcd",
  "ttl-increase-freeze",
];

/** Whether a run of this fault may lose no acknowledged write: any fault in synchronous replication. */
export function mustLoseNothing(r: Pick<ChaosResult, "fault" | "sync">): boolean {
  return r.sync !== undefined || NO_LOSS_FAULTS.includes(r.fault);
}

/** What is wrong with a run, or null. */
export function verdict(r: ChaosResult): string | null {
  if (r.dual_writer_acks > 0 || r.dual_writer_ms > 0) return "two nodes accepted writes";
  if (!r.converged) return `did not converge: ${r.error ?? ""}`;
  if (mustLoseNothing(r) && r.lost !== 0) return `${r.lost} acknowledged writes lost`;
  // Cut off from etcd and from a replica that could confirm it, the primary stops taking writes within ttl.
  const ttl = Number(r.timing.split("/")[0]);
  if (r.fault === "etcd-outage-cut-replica" && (r.old_primary_last_ack_s ?? 0) > ttl) {
    return `the old primary took writes ${r.old_primary_last_ack_s} s into the fault (ttl ${ttl} s)`;
  }
  return null;
}

const USAGE = "usage: run.ts [--reps N] [--faults " + FAULTS.join(",") + "] [--ttl 10|30] [--soak MINUTES]";

/** The runner's settings from its arguments and environment. */
interface Plan {
  timing: Timing;
  sync: ChaosSync;
  /** The faults to pick from in a soak. */
  faults: Fault[];
  /** Each fault `--reps` times, in order (ignored in a soak). */
  runs: Fault[];
  /** When a soak ends (epoch ms); null: no soak. */
  soakUntil: number | null;
}

/** The plan from the command line (and HACTL_CHAOS_SYNC), or the exit code to return at once. */
function parsePlan(args: string[]): Plan | number {
  const { values } = parseArgs({
    args,
    options: {
      reps: { type: "string", default: "1" },
      faults: { type: "string", default: FAULTS.join(",") },
      ttl: { type: "string", default: "10" },
      soak: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  // deno-lint-ignore no-console -- usage
  if (values.help) return (console.log(USAGE), 0);
  const reps = Number(values.reps);
  const faults = values.faults.split(",").map((f) => f.trim()).filter(Boolean);
  const bad = faults.filter((f) => !isFault(f));
  const soakMin = values.soak === undefined ? null : Number(values.soak);
  const problems: string[] = [];
  if (!Number.isInteger(reps) || reps < 1) {
    problems.push(`--reps: expected a positive integer, got ${values.reps}`);
  }
  if (bad.length) problems.push(`--faults: unknown ${bad.join(", ")} (known: ${FAULTS.join(", ")})`);
  if (!["10", "30"].includes(values.ttl)) problems.push(`--ttl: expected 10 or 30, got ${values.ttl}`);
  if (soakMin !== null && !(soakMin > 0)) problems.push(`--soak: expected minutes > 0, got ${values.soak}`);
  if (problems.length) {
    // deno-lint-ignore no-console -- CLI error
    console.error(`${problems.join("\n")}\n${USAGE}`);
    return 2;
  }
  let sync: ChaosSync;
  try {
    sync = chaosSyncFromEnv(Deno.env.get(CHAOS_SYNC_ENV));
  } catch (err) {
    // deno-lint-ignore no-console -- CLI error
    console.error((err as Error).message);
    return 2;
  }
  const runs: Fault[] = [];
  for (const f of faults as Fault[]) for (let i = 0; i < reps; i++) runs.push(f);
  return {
    timing: values.ttl === "30" ? TIMINGS.slow : TIMINGS.fast,
    sync,
    faults: faults as Fault[],
    runs,
    soakUntil: soakMin === null ? null : Date.now() + soakMin * 60_000,
  };
}

/** The `i`th run's fault: the plan's, or a random one until the soak ends; null when the runs are over. */
function nextFault(plan: Plan, i: number): Fault | null {
  if (plan.soakUntil !== null) {
    if (Date.now() >= plan.soakUntil) return null;
    return plan.faults[Math.floor(Math.random() * plan.faults.length)]!;
  }
  return i < plan.runs.length ? plan.runs[i]! : null;
}

function log(l: string): void {
  // deno-lint-ignore no-console -- progress on stderr
  console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${l}`);
}

/** Print a run's JSON line and judge it (logs follow a failed or slow run); whether it failed. */
async function report(cluster: ChaosCluster, r: ChaosResult, i: number): Promise<boolean> {
  // deno-lint-ignore no-console -- the machine-readable output
  console.log(JSON.stringify(r));
  const v = verdict(r);
  if (v) {
    log(`${r.fault}: FAILED: ${v}`);
    await cluster.dumpLogs(`chaos-${r.fault}-${i}`);
  } else if ((r.converge_s ?? 0) > 30) {
    log(`${r.fault}: slow to converge (${r.converge_s} s); logs follow`);
    await cluster.dumpLogs(`chaos-${r.fault}-${i}-slow`);
  }
  return v !== null;
}

/** Run the plan on a cluster formed (and formed anew) as needed; the results and how many runs failed. */
async function runPlan(plan: Plan): Promise<{ results: ChaosResult[]; failures: number }> {
  const syncLabel = plan.sync === "off" ? "" : `, synchronous_mode ${plan.sync}`;
  const results: ChaosResult[] = [];
  let cluster: ChaosCluster | null = null;
  let failures = 0;
  let restarts = 0;
  try {
    for (let i = 0;; i++) {
      const fault = nextFault(plan, i);
      if (fault === null) break;
      if (!cluster) {
        log(`forming a cluster (ttl ${plan.timing.ttl}${syncLabel})`);
        cluster = await formChaosCluster(plan.timing, "chaos");
      }
      let r: ChaosResult;
      try {
        r = await runFault(cluster, fault, { log });
      } catch (err) {
        if (!(err instanceof NotConvergedBefore)) throw err;
        // The previous run's convergence did not last: count it against that run's fault, start afresh.
        log(`${fault}: ${err.message}`);
        failures++;
        await cluster.dumpLogs(`chaos-${fault}-${i}-before`);
        await cluster.teardown();
        cluster = null;
        i--;
        if (++restarts > 5) throw new Error("the cluster fell apart between runs five times; giving up");
        continue;
      }
      results.push(r);
      if (await report(cluster, r, i)) failures++;
      if (!r.converged) {
        await cluster.teardown();
        cluster = null;
      }
    }
  } finally {
    await cluster?.teardown();
  }
  return { results, failures };
}

async function main(): Promise<number> {
  const plan = parsePlan(Deno.args);
  if (typeof plan === "number") return plan;
  const { results, failures } = await runPlan(plan);
  // deno-lint-ignore no-console -- the summary
  console.log(`\n${summaryTable(results)}\n\n${results.length} runs, ${failures} failed`);
  return failures > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
