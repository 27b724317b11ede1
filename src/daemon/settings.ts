/**
 * The dynamic settings as the agent last computed them, for the adapters that read them (the Postgres adapter's
 * `postgresql.parameters` and `use_slots`). The agent computes its settings through `from` (its `dynamicFrom`),
 * so this source always holds what `agent.dynamic` holds, and it exists before the agent is built. That holds
 * only while the agent is the one caller of `from`: anything else that needs settings reads `current()`.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/config/` and `src/core/` types.
 *
 * @module
 */
import { normalizeDynamic } from "../config/config.ts";
import type { DynamicSettings } from "../core/types.ts";

/** The agent's `dynamicFrom` and the settings it last returned. */
export interface DynamicSettingsSource {
  /** The `config` key's value (null: `bootstrap.dcs`) as settings; warnings go to `debug`. Remembered. */
  from(raw: Record<string, unknown> | null): DynamicSettings;
  /** The settings `from` last returned (at first, those of `bootstrap.dcs`). */
  current(): DynamicSettings;
}

/** A source that starts from `bootstrap.dcs` (computing it once now, as the agent will again when built). */
export function dynamicSettingsSource(
  bootstrapDcs: Record<string, unknown>,
  debug: (message: string) => void,
): DynamicSettingsSource {
  let latest: DynamicSettings;
  const from = (raw: Record<string, unknown> | null) => {
    const { settings, warnings } = normalizeDynamic(raw ?? bootstrapDcs);
    for (const w of warnings) debug(w);
    latest = settings;
    return settings;
  };
  latest = from(null);
  return { from, current: () => latest };
}
