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
import { TIMINGS } from "../bench/failover.ts";
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

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
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
  const timing = values.ttl === "30" ? TIMINGS.slow : TIMINGS.fast;
  let sync: ChaosSync;
  try {
    sync = chaosSyncFromEnv(Deno.env.get(CHAOS_SYNC_ENV));
  } catch (err) {
    // deno-lint-ignore no-console -- CLI error
    console.error((err as Error).message);
    return 2;
  }
  const syncLabel = sync === "off" ? "" : `, synchronous_mode ${sync}`;
  const plan: Fault[] = [];
  for (const f of faults as Fault[]) for (let i = 0; i < reps; i++) plan.push(f);
  const soakUntil = soakMin === null ? null : Date.now() + soakMin * 60_000;
  const log = (l: string) => {
    // deno-lint-ignore no-console -- progress on stderr
    console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${l}`);
  };

  const results: ChaosResult[] = [];
  let cluster: ChaosCluster | null = null;
  let failures = 0;
  let restarts = 0;
  try {
    for (let i = 0;; i++) {
      let fault: Fault;
      if (soakUntil !== null) {
        if (Date.now() >= soakUntil) break;
        fault = (faults as Fault[])[Math.floor(Math.random() * faults.length)]!;
      } else {
        if (i >= plan.length) break;
        fault = plan[i]!;
      }
      if (!cluster) {
        log(`forming a cluster (ttl ${timing.ttl}${syncLabel})`);
        cluster = await formChaosCluster(timing, "chaos");
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
      // deno-lint-ignore no-console -- the machine-readable output
      console.log(JSON.stringify(r));
      const v = verdict(r);
      if (v) {
        failures++;
        log(`${fault}: FAILED: ${v}`);
        await cluster.dumpLogs(`chaos-${fault}-${i}`);
      } else if ((r.converge_s ?? 0) > 30) {
        log(`${fault}: slow to converge (${r.converge_s} s); logs follow`);
        await cluster.dumpLogs(`chaos-${fault}-${i}-slow`);
      }
      if (!r.converged) {
        await cluster.teardown();
        cluster = null;
      }
    }
  } finally {
    await cluster?.teardown();
  }
  // deno-lint-ignore no-console -- the summary
  console.log(`\n${summaryTable(results)}\n\n${results.length} runs, ${failures} failed`);
  return failures > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
