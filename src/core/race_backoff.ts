/**
 * `primary_race_backoff` (Patroni's): with no leader key, a streaming replica whose WAL position moved since its
 * previous cycle postpones the leader race by up to that many seconds. The primary's Postgres is then evidently
 * still writing: its agent, not its server, stopped answering (briefly, as a rule), and waiting avoids a needless
 * failover. The race is postponed in any case during the first loop_wait of the backoff (the lease may have run
 * out just after the last renewal), and not at all once the backoff is spent. Never in maintenance mode (there
 * is no race) nor for the named candidate of a manual switchover or failover.
 *
 * Pure. May import: `src/core/` (types, context, its memory's type).
 *
 * @module
 */
import type { Decision } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import type { RaceBackoffMemory } from "./race_backoff_types.ts";

/**
 * The memory for this cycle: the backoff is forgotten once a leader holds the key, and this cycle's position is
 * kept for the next one. Returns it with the previous cycle's position.
 */
export function trackRaceBackoff<M extends RaceBackoffMemory>(
  mem: M,
  hasLeader: boolean,
  walPosition: number | null,
): { mem: M; previous: number | null } {
  const previous = mem.lastWalPosition ?? null;
  const next: M = { ...mem, lastWalPosition: walPosition };
  if (hasLeader) delete next.raceBackoffSince;
  return { mem: next, previous };
}

/**
 * In the leader race of a replica: a decision to wait (Patroni's "My (name) wal position moved since last heart
 * beat loop, N seconds until leader race"), or null to race now. `previous` is the position of the cycle before.
 */
export function raceBackoff(c: Cycle, previous: number | null): Decision | null {
  const { obs, mem, ctx, view } = c;
  const backoff = ctx.dynamic.primaryRaceBackoff ?? 0;
  if (backoff <= 0 || previous === null || view.failover?.member) return null;
  const since = mem.raceBackoffSince ?? obs.now;
  const left = since + backoff * 1000 - obs.now;
  const moved = obs.pg.replicationState === "streaming" && (obs.pg.walPosition ?? 0) > previous;
  if (!((left > 0 && moved) || left > (backoff - ctx.dynamic.loopWait) * 1000)) return null;
  return noChange(
    { ...mem, raceBackoffSince: since },
    `My (${ctx.name}) wal position moved since last heart beat loop, ${
      Math.round(left / 1000)
    } seconds until leader race`,
  );
}
