/**
 * The observation of a data directory nobody can query (no server, or one that does not answer): the starting
 * point of every Postgres observation.
 *
 * Pure. May import: `src/core/` (types).
 *
 * @module
 */
import type { PgObservation } from "./types.ts";

/** An observation of a data directory nobody can query. */
export function emptyPgObservation(): PgObservation {
  return {
    dataDir: "empty",
    running: false,
    queryable: false,
    role: null,
    standbySignal: false,
    sysid: null,
    timeline: null,
    walPosition: null,
    receiveLsn: null,
    replayLsn: null,
    replayedTimestamp: null,
    replayPaused: false,
    replicationState: null,
    upstream: null,
    slots: [],
    replication: [],
    serverVersion: null,
    postmasterStartTime: null,
    pendingRestart: false,
    pendingRestartReason: {},
    timelineHistory: [],
  };
}
