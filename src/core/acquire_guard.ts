/**
 * Taking the leader key rests on more than the key itself: the `config` key (no promise hactl cannot keep, the
 * settings the race used) and the `sync` key (who may take over in synchronous mode) as this cycle's view held
 * them. A compare-and-set judges only the keys it names, so the race's transaction also names these two: it
 * creates the leader key only while each is still at the mod revision the view saw (absent: revision 0). A view
 * that a change to either has overtaken, whether read a moment before the change or served from the watch's copy,
 * loses the race instead of winning it on settings no longer in force; the next cycle decides on the new ones.
 * Patroni's race compares the leader key alone.
 *
 * Pure. May import: `./types.ts` (types).
 *
 * @module
 */
import type { Decision, Observation } from "./types.ts";
import type { AcquireGuard } from "./acquire_guard_types.ts";

export type { AcquireGuard };

/** `d` with every `acquire_leader` guarded by the `config` and `sync` revisions of the cycle's view. */
export function withAcquireGuard(d: Decision, obs: Observation): Decision {
  const at = d.actions.findIndex((a) => a.type === "acquire_leader");
  if (obs.dcs.kind !== "ok" || at < 0) return d;
  const view = obs.dcs.cluster;
  const before = new Set(d.actions.slice(0, at).map((a) => a.type));
  const guard: AcquireGuard = {
    ...(before.has("write_config") ? {} : { config: view.config?.modRevision ?? null }),
    ...(before.has("write_sync") || before.has("delete_sync")
      ? {}
      : { sync: view.sync?.modRevision ?? null }),
  };
  return { ...d, actions: d.actions.map((a) => a.type === "acquire_leader" ? { ...a, guard } : a) };
}
