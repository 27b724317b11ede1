/**
 * What a fuzz run exercised, printed as a table at its end: faults by kind and by the role they hit (leader,
 * replica, or none when no agent/key was there), the `decide()` reasons reached (the cycle sentence normalised to
 * its rule: member names, numbers and positions replaced), how often each invariant rule was evaluated, and which
 * fault kinds and rules are known findings, disabled in this run.
 *
 * Imports invariants.ts (rules, findings, evaluation counts) and fuzz_faults.ts (the fault kinds).
 *
 * @module
 */
import { evaluations, findingEnabled, FINDINGS, RULES } from "./invariants.ts";
import { FAULT_KINDS } from "./fuzz_faults.ts";

export type Role = "leader" | "replica" | "none";

/** Counters of one fuzz run. */
export class Coverage {
  readonly faults = new Map<string, Record<Role, number>>();
  readonly reasons = new Map<string, number>();
  /** Fences that fired: the agent's timer, the supervisor, the watchdog. */
  readonly fired = { "agent timer": 0, "supervisor": 0, "watchdog": 0 };
  schedules = 0;
  cycles = 0;
  promotions = 0;
  virtualMs = 0;

  hit(kind: string, role: Role): void {
    const row = this.faults.get(kind) ?? { leader: 0, replica: 0, none: 0 };
    row[role]++;
    this.faults.set(kind, row);
  }

  /** An event line: count the fences that fired. */
  event(text: string): void {
    if (text.startsWith("fence deadline passed")) this.fired["agent timer"]++;
    else if (text.startsWith("fence-supervisor:")) this.fired.supervisor++;
    else if (text.startsWith("the watchdog fired")) this.fired.watchdog++;
  }

  reason(text: string): void {
    const rule = normaliseReason(text);
    this.reasons.set(rule, (this.reasons.get(rule) ?? 0) + 1);
  }

  /** The table, one line per row. */
  table(): string[] {
    const out: string[] = [];
    out.push(
      `sim fuzz coverage: ${this.schedules} schedules, ${this.cycles} cycles, ${this.promotions} promotions, ` +
        `${Math.round(this.virtualMs / 3_600_000)} h of virtual time`,
    );
    out.push(`fences fired: ${Object.entries(this.fired).map(([k, n]) => `${k} ${n}`).join(", ")}`);
    out.push("faults by kind            leader  replica    none");
    for (const [kind, k] of Object.entries(FAULT_KINDS)) {
      if (!findingEnabled(k.finding)) {
        out.push(`  ${kind.padEnd(24)} known finding '${k.finding}', disabled`);
        continue;
      }
      const r = this.faults.get(kind) ?? { leader: 0, replica: 0, none: 0 };
      out.push(`  ${kind.padEnd(22)} ${pad(r.leader)} ${pad(r.replica)} ${pad(r.none)}`);
    }
    out.push("invariant rules evaluated");
    for (const [rule, r] of Object.entries(RULES)) {
      const state = findingEnabled(r.finding)
        ? String(evaluations.get(rule) ?? 0)
        : `known finding '${r.finding}', disabled`;
      out.push(`  ${rule.padEnd(30)} ${state}`);
    }
    out.push(`decide() reasons reached (${this.reasons.size})`);
    for (const [rule, n] of [...this.reasons].sort((a, b) => b[1] - a[1])) out.push(`  ${pad(n)}  ${rule}`);
    const off = Object.entries(FINDINGS).filter(([id]) => !findingEnabled(id as keyof typeof FINDINGS));
    if (off.length > 0) {
      out.push("known findings disabled (HACTL_SIM_FINDINGS=<id>[,<id>] or =1 runs them)");
      for (const [id, what] of off) out.push(`  ${id.padEnd(9)} ${what}`);
    }
    return out;
  }
}

function pad(n: number): string {
  return String(n).padStart(7);
}

/** A cycle sentence reduced to its rule: member names, positions, numbers and quoted values replaced. */
export function normaliseReason(text: string): string {
  return text
    .replace(/\([^()]*\)/g, "(…)")
    .replace(/'[^']*'/g, "'…'")
    .replace(/\bpg\d+\b/g, "<member>")
    .replace(/\b[0-9A-F]+\/[0-9A-F]+\b/g, "<lsn>")
    .replace(/\d+(\.\d+)?/g, "N");
}
