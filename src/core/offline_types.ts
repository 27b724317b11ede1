/**
 * What the memory keeps about an offline demotion (etcd out of reach): `decide_offline.ts` starts the stopped
 * server again as a read-only replica once, as Patroni's demotion does.
 *
 * Pure. Imports nothing.
 *
 * @module
 */

/** The memory's part for an offline demotion. */
export interface OfflineMemoryPart {
  /** This member stopped its primary because etcd was out of reach and has not started it again since. */
  offlineDemoted?: boolean;
}
