/**
 * The dynamic settings as the agent last computed them, for the adapters that read them (the Postgres adapter's
 * `postgresql.parameters` and `use_slots`). The agent computes its settings through `from` (its `dynamicFrom`),
 * so this source holds what `agent.dynamic` holds once etcd has answered, and it exists before the agent is built.
 * That holds only while the agent is the one caller of `from`: anything else that needs settings reads `current()`.
 *
 * With the local copy of the dynamic configuration (`patroni.dynamic.json`, src/pg/dynamic_cache.ts), as Patroni:
 * until etcd first answers, the adapters read the copy's settings (the agent's decisions still use bootstrap.dcs's,
 * so a copied `pause` or `failsafe_mode` never keeps a primary running without etcd); each document read from etcd
 * is offered to the copy; and while etcd holds no `config` key, the last document read (in this run, or the copy's)
 * stands in for bootstrap.dcs, and is the one a leader writes back.
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
  from(raw: Record<string, unknown> | null | undefined): DynamicSettings;
  /** The settings `from` last returned (at first, those of the local copy if there is one, else bootstrap.dcs). */
  current(): DynamicSettings;
  /** The settings of bootstrap.dcs (what the agent decides by until etcd answers). */
  readonly atStart: DynamicSettings;
  /** The document written to etcd when it holds no `config` key: the last one known, else bootstrap.dcs. */
  restoreDoc(): Record<string, unknown>;
}

/** The local copy of the dynamic configuration: the document it held at start, and where new ones are offered. */
export interface DynamicCopy {
  /** The copy's document at start (null: none, or unusable). */
  doc: Record<string, unknown> | null;
  /** A document read from etcd (the copy writes it when it changed; never throws). */
  offer(doc: Record<string, unknown>): void;
}

/**
 * A source that starts from `bootstrap.dcs` (computing it once now, as the agent will again when built; its
 * warnings were already logged at start by the configuration's check, so they go to `debug` here). `from(undefined)`
 * (etcd not read yet) is bootstrap.dcs; `from(null)` (etcd holds no `config` key) the last document known.
 */
export function dynamicSettingsSource(
  bootstrapDcs: Record<string, unknown>,
  debug: (message: string) => void,
  warn: (message: string) => void = debug,
  localUsePgRewind: () => boolean | undefined = () => undefined,
  copy?: DynamicCopy,
): DynamicSettingsSource {
  let latest: DynamicSettings;
  let lastDoc: string | null = null;
  // The last document known: read from etcd in this run, else the copy's at start; null: bootstrap.dcs.
  let known: Record<string, unknown> | null = copy?.doc ?? null;
  // Until etcd answers, the adapters read the copy's settings (computed below, once).
  let beforeDcs: DynamicSettings | null = null;
  const from = (raw: Record<string, unknown> | null | undefined) => {
    if (raw) {
      known = raw;
      copy?.offer(raw);
    }
    const doc = raw ?? (raw === null && copy ? known : null) ?? bootstrapDcs;
    const { settings: read, warnings } = normalizeDynamic(doc);
    // A local postgresql.use_pg_rewind wins over the dynamic one, as Patroni's local postgresql keys do.
    const local = localUsePgRewind();
    const settings = local === undefined ? read : { ...read, usePgRewind: local };
    const text = JSON.stringify(doc);
    // bootstrap.dcs before etcd answers is no news (its warnings were logged at start).
    const news = raw !== undefined && lastDoc !== null && text !== lastDoc;
    if (raw !== undefined || lastDoc === null) lastDoc = text;
    for (const w of warnings) (news ? warn : debug)(w);
    latest = raw === undefined && beforeDcs ? beforeDcs : settings;
    return settings;
  };
  const atStart = from(undefined);
  if (copy?.doc) beforeDcs = from(null);
  return { from, current: () => latest, atStart, restoreDoc: () => known ?? bootstrapDcs };
}
