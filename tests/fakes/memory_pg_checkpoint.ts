/**
 * The fake Postgres's CHECKPOINT (`FakePostgres.checkpoint`): answered by a running, reachable primary, refused
 * otherwise, as the real adapter's. The fake does not model pg_control (its observation has no
 * `checkpointTimeline`), so nothing in the simulator waits for it.
 *
 * Imports `src/core/ports.ts` only.
 *
 * @module
 */
import { PostgresError } from "../../src/core/ports.ts";

/** What the checkpoint needs to know of the fake server. */
export interface CheckpointTarget {
  name: string;
  hostUp: boolean;
  isRunningPrimary(): boolean;
}

/** CHECKPOINT on `pg`: resolves on a running primary whose host is up, else rejects as the adapter does. */
export function fakeCheckpoint(pg: CheckpointTarget): Promise<void> {
  if (!pg.hostUp || !pg.isRunningPrimary()) {
    return Promise.reject(new PostgresError(`CHECKPOINT on ${pg.name}: not a running primary`));
  }
  return Promise.resolve();
}
