/**
 * What the early isolation fence (`isolation.ts`) is fed from the agent's readings: the replication sample of a
 * primary's status reading, and the inputs of `isolationVerdict`/`shouldProbe` from the last cluster view, the
 * dynamic settings and the agent's record of etcd's answers.
 *
 * Pure: imports `types.ts`, `isolation.ts` and `decide.ts` only.
 *
 * @module
 */
import { isNoFailover } from "./decide.ts";
import type { IsolationInput, ReplicationSample } from "./isolation.ts";
import { type ClusterView, type DynamicSettings, parseLsn, type PgObservation } from "./types.ts";

/**
 * A running, answering primary's reading as a replication sample taken `at`: its flush position and the highest
 * `flush_lsn` any WAL sender reports (an unreadable position confirms nothing). Null when Postgres is not such a
 * primary (the bookkeeping then starts afresh).
 */
export function replicationSample(pg: PgObservation, at: number): ReplicationSample | null {
  if (!(pg.running && pg.queryable && pg.role === "primary" && pg.walPosition !== null)) return null;
  let confirmed: number | null = null;
  for (const row of pg.replication) {
    if (!row.flush_lsn) continue;
    try {
      confirmed = Math.max(confirmed ?? 0, parseLsn(row.flush_lsn));
    } catch { /* an unreadable position confirms nothing */ }
  }
  return { at, primaryLsn: pg.walPosition, confirmedLsn: confirmed, timeline: pg.timeline };
}

/** What the agent knows when it checks for isolation. Times are monotonic ms. */
export interface IsolationReadings {
  now: number;
  me: string;
  dynamic: DynamicSettings;
  /** The latest reading of Postgres. */
  pg: PgObservation;
  /** The last cluster view read from etcd, or null. */
  view: ClusterView | null;
  unconfirmedSince: number | null;
  dcsLastSuccess: number | null;
  dcsUnansweredSince: number | null;
  /** Failsafe mode: the start of the last round every member accepted (src/core/isolation.ts). */
  failsafeConfirmedAt?: number | null;
}

/** The isolation check's input: failover candidates are the other members of the last view that are not nofailover. */
export function isolationInput(r: IsolationReadings): IsolationInput {
  const candidates =
    (r.view?.members ?? []).filter((m) => m.name !== r.me && !isNoFailover(m.data.tags ?? {}))
      .length;
  return {
    now: r.now,
    timeoutMs: r.dynamic.isolationFenceTimeout * 1000,
    pause: r.dynamic.pause,
    writablePrimary: r.pg.running && r.pg.role === "primary",
    failoverCandidates: candidates,
    unconfirmedSince: r.unconfirmedSince,
    dcsLastSuccess: r.dcsLastSuccess,
    dcsUnansweredSince: r.dcsUnansweredSince,
    ...(r.failsafeConfirmedAt != null ? { failsafeConfirmedAt: r.failsafeConfirmedAt } : {}),
  };
}
