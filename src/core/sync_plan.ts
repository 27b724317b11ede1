/**
 * Synchronous replication in the HA plan: what the leader adds to its cycle (src/core/sync.ts `syncLeaderStep`,
 * or the clean-up once the mode is off), what a replica writes before it promotes, and the leader race's gate
 * (only the `sync` key's leader and standbys race while it is active; unlike Patroni, not even the named
 * candidate of a manual failover: it could lack acknowledged commits, and an operator who accepts that turns
 * synchronous_mode off first). Quorum commit's own rules are in src/core/quorum_plan.ts: this module routes to them.
 *
 * Pure. May import: `src/core/`.
 *
 * @module
 */
import type { Action, ClusterView, Memory, Observation, PgObservation } from "./types.ts";
import type { HaContext } from "./ha_context.ts";
import type { SyncMemory } from "./sync_types.ts";
import {
  quorumBeforeStart,
  quorumHandoverRefusal,
  quorumLeaderStep,
  quorumPrepromote,
  quorumRaceRefusal,
} from "./quorum_plan.ts";
import { type HandoverCheck, handoverLimitation } from "./switchover.ts";
import {
  syncBeforeStart,
  syncDisableStep,
  syncLeaderStep,
  syncPrepromote,
  syncRacePeers,
  syncRaceRefusal,
} from "./sync.ts";

/** The leader's synchronous replication actions this cycle, its memory, and a note for the log line. */
export function leaderSyncStep(
  ctx: HaContext,
  view: ClusterView,
  pg: PgObservation,
  mem: Memory,
): { actions: Action[]; mem: Memory; note: string | null; warning?: string } {
  const cfg = ctx.dynamic.synchronous;
  if (cfg === undefined || cfg.mode === "off") {
    const configured = ctx.dynamic.parameters["synchronous_standby_names"];
    const actions = syncDisableStep(view, pg, configured === undefined ? "" : String(configured));
    const { syncNamesSeen: _, strictWarned: _w, ...rest } = mem;
    return { actions, mem: rest, note: actions.length > 0 ? "synchronous replication disabled" : null };
  }
  const run = cfg.mode === "quorum" ? quorumLeaderStep : syncLeaderStep;
  const step = run({ me: ctx.name, cfg, view, pg, mem: mem as SyncMemory });
  const { strictWarned: _, ...before } = mem;
  const out = { actions: step.actions, mem: { ...before, ...step.mem }, note: step.note };
  return step.warning ? { ...out, warning: step.warning } : out;
}

/** Set before a leader starts its stopped Postgres as a primary (synchronous mode on). */
export function syncBeforeStartAsLeader(ctx: HaContext, view: ClusterView): Action[] {
  const cfg = ctx.dynamic.synchronous;
  if (cfg?.mode === "quorum") return quorumBeforeStart(ctx.name, cfg, view.sync);
  if (cfg === undefined || cfg.mode !== "on") return [];
  return syncBeforeStart(ctx.name, cfg, view.sync);
}

/** Written before `promote` in the same plan: the key names this member its leader (synchronous mode on). */
export function syncBeforePromote(ctx: HaContext, view: ClusterView): Action[] {
  const cfg = ctx.dynamic.synchronous;
  if (cfg?.mode === "quorum") return quorumPrepromote(ctx.name, cfg, view.sync);
  if (cfg === undefined || cfg.mode !== "on") return [];
  return syncPrepromote(ctx.name, cfg, view);
}

/** The standbys a switchover may go to in synchronous mode (the key's, when this leader wrote it); null: any. */
export function syncHandoverStandbys(ctx: HaContext, view: ClusterView): string[] | null {
  const cfg = ctx.dynamic.synchronous;
  if (cfg === undefined || cfg.mode !== "on") return null;
  const key = view.sync;
  return key?.leader?.toLowerCase() === ctx.name.toLowerCase() ? key.syncStandby : [];
}

/**
 * The leader race under an active `sync` key: why this member may not race (null when it may), and the
 * observation with only the peers that count (the key's leader and standbys). In quorum mode anyone may race;
 * the votes it needs are counted by `quorumRaceVotes` once it would otherwise take the key.
 */
export function syncRaceGate(
  obs: Observation,
  ctx: HaContext,
  view: ClusterView,
): { refusal: string | null; obs: Observation } {
  const cfg = ctx.dynamic.synchronous;
  const refusal = syncRaceRefusal(ctx.name, cfg, view.sync);
  const peers = syncRacePeers(cfg, view.sync, obs.peers);
  return { refusal, obs: peers === obs.peers ? obs : { ...obs, peers } };
}

/**
 * Null when quorum commit lets this member take the key (enough votes; see src/core/quorum_plan.ts), else why
 * not. Asked after every other check of the race passed, with the peers `syncRaceGate` kept.
 */
export function quorumRaceVotes(obs: Observation, ctx: HaContext, view: ClusterView): string | null {
  return quorumRaceRefusal(ctx.name, ctx.dynamic.synchronous, view.sync, obs);
}

/**
 * Why a hand-over the leader is about to start cannot complete in quorum mode (its candidate could not gather
 * the votes from the voters that answer as healthy replicas), or null.
 */
export function quorumHandoverGate(
  ctx: HaContext,
  view: ClusterView,
  candidate: string | null,
  check: HandoverCheck,
): string | null {
  const healthy = (name: string) =>
    handoverLimitation(check.peers?.find((p) => p.name.toLowerCase() === name.toLowerCase()), check) === null;
  return quorumHandoverRefusal(ctx.name, ctx.dynamic.synchronous, view.sync, candidate, healthy);
}
