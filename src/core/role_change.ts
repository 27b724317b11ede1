/**
 * Explainable failovers: the phases of this member's promotions, with their times and the candidates it weighed.
 * A record opens when the agent first sees the cluster without a leader (or takes the lock), notes the lock, the
 * promotion and the first moment Postgres answered as a writable primary, and closes then. The agent logs each
 * closed record, `GET /patroni` shows the last ones (`role_changes`), and `GET /metrics` exports the phase times as
 * the histogram `hactl_role_change_phase_seconds`.
 *
 * Pure: times are passed in (monotonic ms for offsets, wall ms for the record's date).
 *
 * @module
 */
import type { PeerVerdict } from "./leader_race.ts";
import type { RoleChangeRecord } from "./types.ts";

export type { RoleChangeRecord };

/** Histogram bucket bounds in seconds for the phase times. */
export const PHASE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Pending {
  startedAt: number;
  from: string | null;
  kind: string;
  phases: RoleChangeRecord["phases"];
  candidates: RoleChangeRecord["candidates"];
}

/** Follows one member's role changes. Keeps the last `keep` records. */
export class RoleChangeRecorder {
  #lastLeader: string | null = null;
  #goneSince: number | null = null;
  #pending: Pending | null = null;
  #records: RoleChangeRecord[] = [];
  /** Per phase: bucket counts (cumulative at render), sum and count. */
  readonly histogram = new Map<string, { buckets: number[]; sum: number; count: number }>();

  constructor(private readonly me: string, private readonly keep = 10) {}

  get records(): readonly RoleChangeRecord[] {
    return this.#records;
  }

  /** Every cycle with a DCS view: who leads now, and whether a switchover request is pending. */
  noteView(now: number, leader: string | null, switchoverPending: boolean): void {
    if (leader === null) {
      if (this.#goneSince === null) {
        this.#goneSince = now;
        this.#kindHint = switchoverPending ? "switchover" : "failover";
      }
      return;
    }
    if (leader !== this.me && this.#pending === null) this.#goneSince = null;
    if (leader !== this.me) this.#lastLeader = leader;
  }

  #kindHint = "failover";

  /** The lock was taken in a plan that promotes. */
  noteLockTaken(now: number, verdicts: PeerVerdict[]): void {
    const startedAt = this.#goneSince ?? now;
    this.#pending = {
      startedAt,
      from: this.#lastLeader,
      kind: this.#goneSince === null ? "takeover" : this.#kindHint,
      phases: [
        ...(this.#goneSince !== null ? [{ phase: "leader_gone_detected", offset_ms: 0 }] : []),
        { phase: "lock_taken", offset_ms: Math.round(now - startedAt) },
      ],
      candidates: verdicts.map((v) => ({ name: v.name, accepted: !v.veto, why: v.why })),
    };
  }

  notePromoted(now: number): void {
    const p = this.#pending;
    if (p) p.phases.push({ phase: "promoted", offset_ms: Math.round(now - p.startedAt) });
  }

  /** Postgres answered as a writable primary: closes the record (returned once). */
  noteWritable(now: number, wallNow: number, timeline?: number): RoleChangeRecord | null {
    const p = this.#pending;
    if (!p || !p.phases.some((x) => x.phase === "promoted")) return null;
    const total = Math.round(now - p.startedAt);
    p.phases.push({ phase: "first_writable", offset_ms: total });
    const record: RoleChangeRecord = {
      at: new Date(wallNow).toISOString(),
      from: p.from,
      to: this.me,
      kind: p.kind,
      phases: p.phases,
      candidates: p.candidates,
      total_ms: total,
      ...(timeline !== undefined ? { timeline } : {}),
    };
    for (const phase of p.phases) this.#observe(phase.phase, phase.offset_ms / 1000);
    this.#records = [...this.#records, record].slice(-this.keep);
    this.#pending = null;
    this.#goneSince = null;
    this.#lastLeader = this.me;
    return record;
  }

  #observe(phase: string, seconds: number): void {
    let h = this.histogram.get(phase);
    if (!h) this.histogram.set(phase, h = { buckets: PHASE_BUCKETS.map(() => 0), sum: 0, count: 0 });
    PHASE_BUCKETS.forEach((le, i) => {
      if (seconds <= le) h!.buckets[i]!++;
    });
    h.sum += seconds;
    h.count++;
  }
}

/** One line for the log: `failover from pg1: leader_gone_detected +0 ms, lock_taken +25 ms, ...; pg3 refused: ...`. */
export function describeRoleChange(r: RoleChangeRecord): string {
  const phases = r.phases.map((p) => `${p.phase} +${p.offset_ms} ms`).join(", ");
  const candidates = r.candidates.length === 0
    ? "no other candidates answered"
    : r.candidates.map((c) => `${c.name} ${c.accepted ? "did not stop me" : "vetoed"}: ${c.why}`).join("; ");
  return `${r.kind} to ${r.to}${
    r.from ? ` from ${r.from}` : ""
  } in ${r.total_ms} ms: ${phases}; candidates: ${candidates}`;
}
