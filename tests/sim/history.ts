/**
 * The client-history checker: what a client of the cluster saw. A simulated client writes to whichever member is
 * writable and records every ACKNOWLEDGED write (member, history position, timeline, virtual time, and the
 * writer's history up to it). At every promotion it asks which acknowledged writes the new primary's history does
 * not hold, and judges the loss by how the former primary left:
 *
 * - a switchover (the `failover` key named the healthy leader; no other fault touched it since): nothing may be
 *   lost;
 * - a clean stop of the leader's agent (SIGTERM: fast shutdown, the shutdown checkpoint goes to the streaming
 *   replicas, then the key is released): the next leader may lack only what `maximum_lag_on_failover` allows below
 *   the former leader's last position (Patroni releases the key with the shutdown checkpoint as the last known
 *   position, and a replica is a candidate while its lag to that position is within the bound);
 * - any other failover (crash, kill, partition, freeze): a write at or below `last optime in etcd -
 *   maximum_lag_on_failover` must survive (Patroni's documented bound: a replica lagging more than that behind the
 *   leader's last published position never takes over); writes above it may be lost, as asynchronous replication
 *   allows.
 *
 * - in synchronous mode (the write was acknowledged while the `sync` key named its writer the leader): nothing may
 *   be lost, however the former primary left: the next primary is always one that has it.
 *
 * A write judged at a promotion leaves the record (lost or carried over, it is not judged twice). At quiescence the
 * leader must hold every acknowledged write still recorded.
 *
 * Imports the fake Postgres world's history model only.
 *
 * @module
 */
import { type FakePostgres, sameHistoryBelow, type Segment } from "../fakes/memory_pg.ts";

/** One acknowledged write. */
export interface AckedWrite {
  member: string;
  at: number;
  timeline: number;
  /** The history position right after the write. */
  lsn: number;
  /** The writer's history when it acknowledged the write. */
  segments: Segment[];
  /** Acknowledged while synchronous_mode was on and the `sync` key named the writer its leader. */
  sync?: boolean;
}

/** How the primary whose writes are judged stopped leading. */
export type Handover =
  | { kind: "switchover"; from: string; at: number }
  | { kind: "clean-stop"; from: string; at: number; finalLsn: number }
  | { kind: "failover"; lastOptime: number };

/** The rule a lost write broke, and the message. */
export interface HistoryBreak {
  rule:
    | "ackedKeptOnSwitchover"
    | "ackedKeptOnCleanStop"
    | "ackedLossWithinFailoverBound"
    | "ackedKeptAtQuiescence"
    | "ackedKeptInSyncMode";
  message: string;
}

/** Does `pg`'s history hold write `w`? */
export function holds(pg: FakePostgres, w: AckedWrite): boolean {
  return pg.wal !== null && pg.wal >= w.lsn && sameHistoryBelow(w.segments, [...pg.segments], w.lsn);
}

export class ClientHistory {
  readonly acked: AckedWrite[] = [];
  /** Acknowledged writes judged lost (allowed by the bound), for the coverage table. */
  lostAllowed = 0;
  /** Promotions and quiescence checks that judged at least one write. */
  judged = 0;

  /**
   * A client wrote `bytes` to `pg`; records the write when the server acknowledged it (in synchronous
   * replication only once a synchronous standby has it). `sync`: the `sync` key names `pg` its leader.
   */
  write(pg: FakePostgres, bytes: number, now: number, sync = false): boolean {
    if (!pg.commit(bytes)) return false;
    this.acked.push({
      member: pg.name,
      at: now,
      timeline: pg.timeline ?? 0,
      lsn: pg.wal!,
      segments: pg.segments.map((s) => ({ ...s })),
      ...(sync ? { sync } : {}),
    });
    return true;
  }

  /**
   * `promoted` became primary; `handoverOf(writer)` says how each former writer left. Returns the first broken rule,
   * or null. Every recorded write is judged once here.
   */
  atPromotion(
    promoted: FakePostgres,
    maxLag: number,
    handoverOf: (writer: string) => Handover,
    evaluated: (rule: HistoryBreak["rule"]) => void = () => {},
  ): HistoryBreak | null {
    if (this.acked.length === 0) return null;
    this.judged++;
    const writes = this.acked.splice(0);
    for (const w of writes) {
      const h = handoverOf(w.member);
      if (w.sync) {
        evaluated("ackedKeptInSyncMode");
        if (holds(promoted, w)) continue;
        return {
          rule: "ackedKeptInSyncMode",
          message:
            `an acknowledged write (${w.member}, timeline ${w.timeline}, lsn ${w.lsn}, at ${w.at} ms, ` +
            `synchronous_mode on) is not in the history of ${promoted.name}, promoted to timeline ` +
            `${promoted.timeline}`,
        };
      }
      evaluated(
        h.kind === "switchover"
          ? "ackedKeptOnSwitchover"
          : h.kind === "clean-stop"
          ? "ackedKeptOnCleanStop"
          : "ackedLossWithinFailoverBound",
      );
      if (holds(promoted, w)) continue;
      const what =
        `an acknowledged write (${w.member}, timeline ${w.timeline}, lsn ${w.lsn}, at ${w.at} ms) ` +
        `is not in the history of ${promoted.name}, promoted to timeline ${promoted.timeline}`;
      if (h.kind === "switchover") {
        return { rule: "ackedKeptOnSwitchover", message: `${what}: lost on a switchover from ${h.from}` };
      }
      const bound = (h.kind === "clean-stop" ? h.finalLsn : h.lastOptime) - maxLag;
      if (w.lsn <= bound) {
        const rule = h.kind === "clean-stop" ? "ackedKeptOnCleanStop" : "ackedLossWithinFailoverBound";
        const from = h.kind === "clean-stop"
          ? `the clean stop of ${h.from} (final lsn ${h.finalLsn})`
          : `a failover (last optime in etcd ${h.lastOptime})`;
        return { rule, message: `${what}: lost on ${from}, beyond maximum_lag_on_failover ${maxLag}` };
      }
      this.lostAllowed++;
    }
    // The survivors are in the new primary's history; later promotions judge them through its writes.
    return null;
  }

  /** synchronous_mode was turned off: the writes acknowledged under it are judged as asynchronous ones. */
  syncEnded(): void {
    for (const w of this.acked) delete w.sync;
  }

  /** At quiescence: the leader holds every acknowledged write not judged at a promotion. */
  atQuiescence(leader: FakePostgres): HistoryBreak | null {
    const missing = this.acked.find((w) => !holds(leader, w));
    if (!missing) return null;
    return {
      rule: "ackedKeptAtQuiescence",
      message:
        `the leader ${leader.name} lacks an acknowledged write (${missing.member}, lsn ${missing.lsn}, ` +
        `at ${missing.at} ms) although nobody was promoted since`,
    };
  }
}
