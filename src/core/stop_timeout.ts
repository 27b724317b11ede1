/**
 * `primary_stop_timeout`, as Patroni applies it: only in synchronous mode (`synchronous_mode` on or quorum) and
 * when above 0, a demotion (a switchover's clean stop, or an immediate demotion) and the agent's shutdown stop
 * Postgres with this many seconds to finish; past them the postmaster is killed (SIGKILL). A restart or a stop for
 * another reason keeps `pg_ctl_timeout`.
 *
 * Pure. May import: `src/core/` (types, ports' option type).
 *
 * @module
 */
import type { StopOptions } from "./ports.ts";
import type { DynamicSettings } from "./types.ts";

/** The seconds a demotion or shutdown may take before SIGKILL, or null when the key does not apply. */
export function primaryStopTimeout(
  d: Pick<DynamicSettings, "primaryStopTimeout" | "synchronous">,
): number | null {
  const t = d.primaryStopTimeout ?? 0;
  const sync = d.synchronous?.mode ?? "off";
  return t > 0 && sync !== "off" ? t : null;
}

/** The options of a demotion's or shutdown's stop under these settings. */
export function demotionStopOptions(
  d: Pick<DynamicSettings, "primaryStopTimeout" | "synchronous">,
): StopOptions {
  const t = primaryStopTimeout(d);
  return t === null ? {} : { timeoutS: t };
}
