/**
 * The simulator's rule `watchView`: a cycle that decided on its watch's copy of the cluster prefix instead of a
 * range (src/core/watch_view.ts) got the prefix exactly as the store held it when the cycle's keepalive was
 * answered: never a copy that a lagging watch left behind (the fault `watch-lag` holds a member's watch events
 * back). The in-memory etcd is one store that answers as etcd's leader does, so this is the freshness a range
 * would have had at the keepalive.
 *
 * Imports the fake etcd's types only; registered in invariants.ts `RULES` and checked by `brokenRule`.
 *
 * @module
 */
import type { RawKv } from "../../src/dcs/codec.ts";
import type { WatchViewRead } from "../fakes/memory_dcs.ts";

/** A member as this rule reads it: the views its DCS served from the watch's copy, not checked yet. */
export interface WatchViewHost {
  readonly name: string;
  readonly dcs?: { readonly watchViewReads: WatchViewRead[] } | null;
}

const text = (kvs: readonly RawKv[]) => kvs.map((kv) => `${kv.key}=${kv.value}@${kv.modRevision}`);

/** The first view served from a copy that differs from the store at the keepalive, as text; null when none. */
export function staleWatchView(
  members: readonly WatchViewHost[],
  evaluated: (rule: string) => void,
): string | null {
  for (const m of members) {
    const reads = m.dcs?.watchViewReads;
    if (!reads) continue;
    for (const read of reads.splice(0)) {
      evaluated("watchView");
      const served = text(read.served);
      const truth = text(read.truth);
      if (served.join("\n") === truth.join("\n")) continue;
      const missing = truth.filter((x) => !served.includes(x));
      const extra = served.filter((x) => !truth.includes(x));
      return `(watchView) ${m.name} decided on its watch's copy at revision ${read.revision}, which differs from ` +
        `the store at its keepalive: missing [${missing.join(", ")}], stale [${extra.join(", ")}]`;
    }
  }
  return null;
}
