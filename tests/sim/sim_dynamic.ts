/**
 * The simulator's reader of the dynamic configuration: `normalizeDynamic`, plus one key of the simulator's own,
 * `future_promise`, read as the reader reads a dynamic key whose promise hactl does not keep (named in
 * `unsupportedGuarantees`). Every promise of Patroni's dynamic keys is implemented, so schedules that check how
 * hactl fails closed on one (tests/sim/testdata/unsupported_config.txt, the `config-refused` fuzz fault) set this.
 *
 * May import: `src/config/`, `src/core/` (types).
 *
 * @module
 */
import { normalizeDynamic } from "../../src/config/config.ts";

/** The simulator's key standing for a promise hactl cannot keep. */
export const SIM_PROMISE = "future_promise";

/** `normalizeDynamic(raw)`, with SIM_PROMISE named as unkept when `raw` sets it. */
export function simDynamic(raw: Record<string, unknown>): ReturnType<typeof normalizeDynamic> {
  const out = normalizeDynamic(raw);
  const set = raw !== null && typeof raw === "object" && ![undefined, null, false].includes(
    raw[SIM_PROMISE] as undefined,
  );
  if (!set) return out;
  const known = out.settings.unsupportedGuarantees ?? [];
  return { ...out, settings: { ...out.settings, unsupportedGuarantees: [...known, SIM_PROMISE] } };
}
