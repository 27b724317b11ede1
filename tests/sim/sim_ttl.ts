/**
 * What the simulator's `editConfig` needs for a change of timings mid-schedule: the `config` value and the settings
 * after an `edit-config` (with the longest timing used so far, which liveness allows for).
 *
 * Imports `src/` (config, core types) only.
 *
 * @module
 */
import { normalizeDynamic } from "../../src/config/config.ts";
import type { DynamicSettings } from "../../src/core/types.ts";

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
