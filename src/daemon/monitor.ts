/**
 * The status monitor: keeps the health-check snapshot fresh between HA cycles (about every second), so the REST
 * API answers from memory and runs no SQL per request. A refresh still running skips the next tick.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/shell/`.
 *
 * @module
 */
import type { Agent } from "../shell/agent.ts";

/** How often the monitor refreshes the Postgres status, in ms. */
export const MONITOR_INTERVAL_MS = 1000;

/** Start refreshing `agent`'s Postgres status; returns the function that stops it. */
export function startStatusMonitor(
  agent: Pick<Agent, "refreshPostgresStatus">,
  intervalMs: number = MONITOR_INTERVAL_MS,
): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    agent.refreshPostgresStatus().catch(() => {}).finally(() => (busy = false));
  }, intervalMs);
  return () => clearInterval(timer);
}
