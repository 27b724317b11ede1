/**
 * What the simulator needs for the one-ttl invariant (e): a watchdog that records its deadline, and the settings
 * after an `edit-config` (with the longest timing used so far, which liveness allows for).
 *
 * Imports `src/` (config, core types and ports) only.
 *
 * @module
 */
import { normalizeDynamic } from "../../src/config/config.ts";
import type { WatchdogPort } from "../../src/core/ports.ts";
import type { DynamicSettings } from "../../src/core/types.ts";

/** Patroni's default `watchdog.safety_margin` (s): the device fires `ttl - 5` s after the last keepalive. */
const WATCHDOG_SAFETY_MARGIN = 5;

/**
 * A watchdog that records when it would fire (last keepalive + `ttl - safety_margin`) in `host.watchdogDeadline`
 * (null while closed). It never resets the host: the agent's timer and the fencing supervisor fence in the
 * simulator; the deadline is read by invariant (e).
 */
export function recordingWatchdog(
  now: () => number,
  host: { watchdogDeadline: number | null },
): WatchdogPort {
  return {
    unusable: () => null,
    keepalive: (ttl) => {
      host.watchdogDeadline = now() + (ttl - WATCHDOG_SAFETY_MARGIN) * 1000;
      return true;
    },
    disable: () => void (host.watchdogDeadline = null),
    get running() {
      return host.watchdogDeadline !== null;
    },
  };
}

/** The `config` value after merging `patch` into `current` (JSON, or null: `fallback`), and its settings. */
export function editedConfig(
  current: string | null,
  fallback: Record<string, unknown>,
  patch: Record<string, unknown>,
  longest: DynamicSettings,
): { json: string; settings: DynamicSettings; longest: DynamicSettings } {
  const value = {
    ...(current !== null ? JSON.parse(current) as Record<string, unknown> : fallback),
    ...patch,
  };
  const settings = normalizeDynamic(value).settings;
  return {
    json: JSON.stringify(value),
    settings,
    longest: {
      ...settings,
      ttl: Math.max(longest.ttl, settings.ttl),
      loopWait: Math.max(longest.loopWait, settings.loopWait),
    },
  };
}
