/**
 * The etcd writes of the control commands that patronictl makes directly in the DCS: `edit-config` (the
 * `config` key, CAS on its revision), `switchover`/`failover` (the `failover` key) and `remove` (every key of a
 * cluster). Each call opens the etcd adapter
 * without a lease and closes it again; failures become `CtlError`s naming the endpoints.
 *
 * @module
 */
import { createEtcdDcs, type EtcdDcs } from "../../src/dcs/etcd.ts";
import { checkClusterName, CtlError, type CtlSettings, describeEndpoints, requireEtcd } from "./config.ts";

/** The etcd adapter for one cluster as the control commands use it: named `hactl-ctl`, no lease; close it. */
export function openCtlDcs(settings: CtlSettings, scope: string): EtcdDcs {
  return createEtcdDcs({
    etcd: requireEtcd(settings),
    namespace: settings.namespace,
    scope,
    name: "hactl-ctl",
    retryTimeout: settings.retryTimeout,
    ttl: settings.ttl,
  });
}

async function withDcs<T>(
  settings: CtlSettings,
  scope: string,
  what: string,
  fn: (dcs: EtcdDcs) => Promise<T>,
) {
  checkClusterName(scope);
  const etcd = requireEtcd(settings);
  const dcs = openCtlDcs(settings, scope);
  try {
    return await fn(dcs);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CtlError(`cannot ${what} in etcd at ${describeEndpoints(etcd.hosts)}: ${reason}`, {
      cause: err,
    });
  } finally {
    await dcs.close().catch(() => {});
  }
}

/** Write the `config` key if its mod revision is still `modRevision`; false when someone changed it meanwhile. */
export function writeConfigKey(
  settings: CtlSettings,
  scope: string,
  value: Record<string, unknown>,
  modRevision: string,
): Promise<boolean> {
  return withDcs(settings, scope, "write the config key", (dcs) => dcs.setConfig(value, modRevision));
}

/** Delete every key of the cluster; returns the number deleted. */
export function deleteClusterKeys(settings: CtlSettings, scope: string): Promise<number> {
  return withDcs(settings, scope, "delete the cluster", (dcs) => dcs.deleteCluster());
}

/** Write the `failover` key (`hactl switchover`/`failover` with a scheduled time, or without a REST API). */
export async function writeFailoverKey(
  settings: CtlSettings,
  scope: string,
  value: Record<string, unknown>,
): Promise<void> {
  await withDcs(settings, scope, "write the failover key", (dcs) => dcs.setFailover(value));
}
