/**
 * What several control commands share about reading a cluster: one read of `/<namespace>/<scope>/` from etcd
 * with the real adapter (no lease granted, always closed), and the local timestamp format of their output.
 *
 * @module
 */
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { checkClusterName, CtlError, describeEndpoints, requireEtcd } from "./config.ts";
import type { CtlSettings } from "./config.ts";

/** Read a cluster with the real etcd adapter, always closing it; failures become `cannot reach etcd ...`. */
export async function loadClusterFromEtcd(settings: CtlSettings, scope: string): Promise<ClusterView> {
  checkClusterName(scope);
  const etcd = requireEtcd(settings);
  let dcs;
  try {
    dcs = createEtcdDcs({
      etcd,
      namespace: settings.namespace,
      scope,
      name: typeof settings.doc.name === "string" ? settings.doc.name : "hactl-ctl",
      retryTimeout: settings.retryTimeout,
      ttl: settings.ttl,
    });
  } catch (err) {
    throw new CtlError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  try {
    return await dcs.loadCluster();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\s*Resolution note:\s*$/, "");
    throw new CtlError(`cannot reach etcd at ${describeEndpoints(etcd.hosts)}: ${reason}`, { cause: err });
  } finally {
    await dcs.close().catch(() => {});
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Local time as `YYYY-MM-DD HH:MM:SS`. */
export function formatLocalTimestamp(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** patronictl's `timestamp()`: local `YYYY-MM-DD HH:MM:SS.fffff` (the milliseconds times 100, five digits). */
export function formatCtlTimestamp(d: Date): string {
  return `${formatLocalTimestamp(d)}.${String(d.getMilliseconds() * 100).padStart(5, "0")}`;
}
