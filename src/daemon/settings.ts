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
  /**
   * The `config` key's value (null: `bootstrap.dcs`) as settings. Its warnings (a timing adjusted, a value that
   * cannot be read) go to `warn` the first time a document shows them, as Patroni logs them when the
   * configuration changes, and to `debug` in the cycles after. Remembered.
   */
  from(raw: Record<string, unknown> | null): DynamicSettings;
  /** The settings `from` last returned (at first, those of `bootstrap.dcs`). */
  current(): DynamicSettings;
}

/**
 * A source that starts from `bootstrap.dcs` (computing it once now, as the agent will again when built; its
 * warnings were already logged at start by the configuration's check, so they go to `debug` here).
 */
export function dynamicSettingsSource(
  bootstrapDcs: Record<string, unknown>,
  debug: (message: string) => void,
  warn: (message: string) => void = debug,
  localUsePgRewind: () => boolean | undefined = () => undefined,
): DynamicSettingsSource {
  let latest: DynamicSettings;
  let lastDoc: string | null = null;
  const from = (raw: Record<string, unknown> | null) => {
    const doc = raw ?? bootstrapDcs;
    const { settings: read, warnings } = normalizeDynamic(doc);
    // A local postgresql.use_pg_rewind wins over the dynamic one, as Patroni's local postgresql keys do.
    const local = localUsePgRewind();
    const settings = local === undefined ? read : { ...read, usePgRewind: local };
    const text = JSON.stringify(doc);
    const news = lastDoc !== null && text !== lastDoc;
    lastDoc = text;
    for (const w of warnings) (news ? warn : debug)(w);
    latest = settings;
    return settings;
  };
  latest = from(null);
  return { from, current: () => latest };
}
