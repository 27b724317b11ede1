/**
 * Patroni's unique-name rule at start-up: another agent alive under this member's name keeps this one from
 * starting.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/core/` types.
 *
 * @module
 */
import type { PeerGet } from "../api/peer_get.ts";
import type { ClusterView } from "../core/types.ts";

/**
 * Patroni's unique-name rule: when `members/<name>` exists and its REST API answers `/liveness`, another agent with
 * this name is alive, so this one must not start. An unreachable etcd or peer is not a reason to refuse. Returns the
 * live member's `api_url`, or null.
 */
export async function liveMemberWithMyName(
  dcs: { loadCluster(): Promise<ClusterView> },
  name: string,
  client: Deno.HttpClient | undefined,
  get?: PeerGet,
): Promise<string | null> {
  let view: ClusterView;
  try {
    view = await dcs.loadCluster();
  } catch {
    return null;
  }
  const me = view.members.find((m) => m.name === name);
  if (!me?.data.api_url) return null;
  const url = new URL("/liveness", me.data.api_url).toString();
  try {
    if (get) return (await get(url, {}, 2000)).status === 200 ? me.data.api_url : null;
    const res = await fetch(url, { signal: AbortSignal.timeout(2000), ...(client ? { client } : {}) });
    await res.body?.cancel();
    return res.status === 200 ? me.data.api_url : null;
  } catch {
    return null;
  }
}
