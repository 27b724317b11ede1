/**
 * Duration histograms for `GET /metrics`, in Prometheus' cumulative form: the HA cycle's duration and each etcd
 * call's latency by operation. Plain counters the shell feeds with durations it measured on its own clock; the
 * REST API renders them.
 *
 * Pure; imports nothing.
 *
 * @module
 */

/** Upper bounds (seconds) of the buckets: from a fast etcd round trip up to a cycle far over any loop_wait. */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** One histogram: cumulative bucket counts (one per {@linkcode DURATION_BUCKETS} bound), sum, count, the last. */
export class DurationHistogram {
  readonly buckets: number[] = DURATION_BUCKETS.map(() => 0);
  sum = 0;
  count = 0;
  /** The last duration observed, in seconds (0 before the first). */
  last = 0;

  /** Count one duration, in seconds (a negative one, from a clock step, counts as 0). */
  observe(seconds: number): void {
    const s = Math.max(0, seconds);
    DURATION_BUCKETS.forEach((le, i) => {
      if (s <= le) this.buckets[i]!++;
    });
    this.sum += s;
    this.count++;
    this.last = s;
  }
}

/** Histograms by a label value (the etcd operation), and how many of each failed. */
export class LabeledDurations {
  readonly histograms = new Map<string, DurationHistogram>();
  readonly failures = new Map<string, number>();

  /** Count one call of `label` that took `seconds`; `ok` false counts it as failed as well. */
  observe(label: string, seconds: number, ok: boolean): void {
    let h = this.histograms.get(label);
    if (!h) this.histograms.set(label, h = new DurationHistogram());
    h.observe(seconds);
    if (!ok) this.failures.set(label, (this.failures.get(label) ?? 0) + 1);
    else if (!this.failures.has(label)) this.failures.set(label, 0);
  }
}
