/**
 * Failover benchmark over the fault scenarios of `./failover_scenarios.ts` (which the integration tests assert on).
 *
 * Each scenario runs on a fresh local cluster (3-member etcd, three agents, `formCluster` of
 * `tests/helpers/cluster.ts`) with the continuous
 * writer of `tests/helpers/writer.ts` writing to every member and a watch on the leader key, injects one fault and
 * returns what happened, with times from `performance.now()`:
 *
 * - `kill`: SIGKILL of the primary's agent and its postmaster together (unplanned failover); `host`: the same
 *   with its fencing supervisor killed too (every hactl and Postgres process of the primary's host at once). Time from the kill
 *   to the lease's expiry (the leader key's delete event), from the expiry to the new leader key and to the first
 *   write acknowledged by the new primary; which replica had the highest WAL position; then the old primary's
 *   agent is restarted and timed until it streams from the new leader (after pg_rewind).
 * - `term`: SIGTERM of the primary's agent (graceful handover): agent exit to the first write on the new primary,
 *   acknowledged rows missing there, and the old primary streaming again after its agent restarts.
 * - `crash`: SIGKILL of the primary's postmaster only: the write gap while the agent restarts Postgres in place.
 * - `partition`: the primary's agent cut off from etcd (every agent reaches each etcd member through its own TCP
 *   proxy, `tests/helpers/tcp_proxy.ts`; the primary's proxies are cut, its Postgres stays reachable by clients
 *   and replicas). Time from the cut to the old primary's last acknowledged write and to the lease's expiry, from
 *   the expiry to the new leader's first write, whether the old primary stopped by demoting or by its fence; then
 *   the link is healed and the old primary is timed until it streams from the new leader (and whether it ran
 *   pg_rewind).
 *
 * As a benchmark it prints one JSON object per run on stdout, then one summary line (medians) per fault and timing.
 * Usage (as a non-root user; see failover.sh):
 *   deno run -A scripts/bench/failover.ts [--runs N] [--timing 30|10|5] [--faults kill,host,term,crash,partition,switchover]
 * `--timing 30` is ttl 30 / loop_wait 10 / retry_timeout 10 (Patroni's defaults); `--timing 10` (or 20) is the
 * fast profile, ttl 10 / loop_wait 2 / retry_timeout 4 (see `TIMINGS`); without it,
 * both; `--timing 5` is ttl 5 / loop_wait 1 / retry_timeout 2. The JSON lines name the timings actually used.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formCluster, type Timing } from "../../tests/helpers/cluster.ts";
import {
  crashScenario,
  figures,
  killScenario,
  partitionScenario,
  switchoverScenario,
  termScenario,
  timingLabel,
  TIMINGS,
} from "./failover_scenarios.ts";

export * from "./failover_scenarios.ts";

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const SUMMARY_KEYS: Record<string, string[]> = {
  kill: [
    "kill_to_first_write_s",
    "kill_to_expiry_s",
    "expiry_to_first_write_s",
    "write_gap_s",
    "rejoin_streaming_s",
  ],
  host: [
    "kill_to_first_write_s",
    "kill_to_expiry_s",
    "expiry_to_first_write_s",
    "write_gap_s",
    "rejoin_streaming_s",
  ],
  term: ["exit_to_first_write_s", "term_to_first_write_s", "write_gap_s", "rejoin_streaming_s"],
  crash: ["crash_to_first_write_s", "write_gap_s"],
  switchover: ["request_to_first_write_s", "write_gap_s", "request_to_old_streaming_s"],
  partition: [
    "cut_to_last_old_ack_s",
    "cut_to_expiry_s",
    "expiry_to_first_write_s",
    "write_gap_s",
    "heal_to_streaming_s",
  ],
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "3" },
      timing: { type: "string" },
      faults: { type: "string", default: "kill,term,crash" },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs: expected a positive integer, got ${values.runs}`);
  }
  const byOption: Record<string, Timing> = {
    "30": TIMINGS.slow,
    "20": TIMINGS.fast,
    "10": TIMINGS.fast,
    "5": TIMINGS.short,
  };
  if (values.timing !== undefined && !(values.timing in byOption)) {
    throw new Error(
      `--timing: expected 30, 10 (the fast profile, ttl 10) or 5 (ttl 5), got ${values.timing}`,
    );
  }
  const timings: Timing[] = values.timing ? [byOption[values.timing]!] : [TIMINGS.slow, TIMINGS.fast];
  const faults = values.faults.split(",").map((f) => f.trim());
  for (const f of faults) {
    if (!(f in SUMMARY_KEYS)) {
      throw new Error(`--faults: expected kill, host, term, crash, partition or switchover, got ${f}`);
    }
  }
  const out = (o: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  const rows: Record<string, unknown>[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const timing of timings) {
      for (const fault of faults) {
        const base = { fault, timing: timingLabel(timing), run };
        try {
          await using c = await formCluster(timing, `bench-${fault}`, { proxied: fault === "partition" });
          const rejoinDeadlineMs = 30_000;
          if (fault === "switchover") {
            const s = await switchoverScenario(c);
            const sec = (ms: number | null) => (ms === null ? null : Math.round(ms) / 1000);
            const row = {
              ...base,
              formed_s: Math.round(c.formedMs) / 1000,
              old_leader: s.oldLeader,
              new_leader: s.newLeader,
              answer: s.answer,
              request_to_first_write_s: sec(s.requestToFirstWriteMs),
              request_to_old_streaming_s: sec(s.requestToOldStreamingMs),
              write_gap_s: sec(s.writeGapMs),
              overlapping_primaries: s.overlaps,
              lost_acked_writes: s.lost,
            };
            rows.push(row);
            out(row);
            continue;
          }
          const r = fault === "kill" || fault === "host"
            ? await killScenario(c, { rejoinDeadlineMs, host: fault === "host" })
            : fault === "term"
            ? await termScenario(c, { rejoinDeadlineMs })
            : fault === "partition"
            ? await partitionScenario(c, { rejoinDeadlineMs })
            : await crashScenario(c);
          const row = { ...base, formed_s: Math.round(c.formedMs) / 1000, ...figures(r) };
          rows.push(row);
          out(row);
        } catch (err) {
          const row = { ...base, error: (err as Error).message };
          rows.push(row);
          out(row);
        }
      }
    }
  }
  for (const timing of timings) {
    for (const fault of faults) {
      const mine = rows.filter((r) =>
        r.fault === fault && r.timing === timingLabel(timing) && !("error" in r)
      );
      const medians: Record<string, number | null> = {};
      for (const k of SUMMARY_KEYS[fault]!) {
        medians[`${k}_median`] = median(
          mine.map((r) => r[k]).filter((v): v is number => typeof v === "number"),
        );
      }
      out({ summary: fault, timing: timingLabel(timing), runs: mine.length, ...medians });
    }
  }
}
