/**
 * Failsafe mode (Patroni's `failsafe_mode`), decided here without I/O.
 *
 * - **The key.** The leader keeps the `failsafe` key equal to the members registered in the cluster with a REST
 *   API url, itself included (as Patroni's leader does after each renewal): every member that could take part in a
 *   leader race is in it.
 * - **The leader without etcd.** A primary that cannot reach etcd asks every other member of the key (as last
 *   read) with `POST /failsafe`, in parallel. It keeps running as the primary only when every one of them accepted
 *   the round; the round's start then counts as a lease renewal for the fence and the watchdog (every member that
 *   accepted stays out of any race for `ttl` from its acceptance, later than the round's start). Otherwise, or
 *   when it is not in the key itself, it demotes as without failsafe mode.
 * - **The replica.** A member that accepted a call from the leader within the last `ttl` does not take part in a
 *   leader race (the leader is alive and reaches it); a member missing from a non-empty key never does (Patroni
 *   disqualifies it: the leader could not have asked it), even with failsafe mode turned off since (unlike
 *   Patroni: a leader cut off from etcd cannot read that change). With failsafe mode off, the leader empties the
 *   key after its renewal, so only a leader that lost etcd while failsafe mode was on leaves it naming members;
 *   a manual failover still picks its candidate.
 * - **The call.** A member accepts a leader's call only when its Postgres is not a (possibly) writable primary
 *   and the caller is the leader it follows (the last leader etcd named, or the one whose calls it accepted). It
 *   answers with its WAL position (`lsn`, as Patroni) and its own `ttl` (hactl's): the leader counts the round
 *   for the shortest ttl of the members, so a member that read a shorter ttl since does not race before the
 *   leader's fence stops it.
 *
 * Fail closed: with `failsafe_mode` off, or refused as not implemented (`unsupportedGuarantees`), nothing here
 * changes a decision.
 *
 * Pure. May import: `src/core/` (types, context).
 *
 * @module
 */
import type { FailsafeAcceptance, FailsafeRound, FailsafeTopology } from "./failsafe_types.ts";
import type { Action, ClusterView, Decision, Memory, Observation } from "./types.ts";
import { type Cycle, type HaContext, noChange } from "./ha_context.ts";
import { offlineStepDown } from "./decide_offline.ts";
import { failsafeKeyExcludes } from "./failsafe_key.ts";
import { acceptanceFresh, failsafeEnabled } from "./failsafe_fresh.ts";
import { failsafeLeaderSlotActions } from "./failsafe_slots.ts";

export { acceptanceFresh, failsafeEnabled } from "./failsafe_fresh.ts";

/** The topology the leader publishes: every registered member with a REST API url (this one included). */
export function failsafeTopology(view: ClusterView): FailsafeTopology {
  const out: FailsafeTopology = {};
  for (const m of view.members) if (m.data.api_url) out[m.name] = m.data.api_url;
  return out;
}

function sameTopology(a: FailsafeTopology | null | undefined, b: FailsafeTopology): boolean {
  if (!a) return false;
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** The leader's `write_failsafe` after its renewal, when failsafe mode is on and the key differs; else null. */
export function failsafeKeyAction(view: ClusterView, ctx: HaContext): Action | null {
  if (!failsafeEnabled(ctx.dynamic)) {
    // Failsafe mode off: empty the key, so that it names nobody to keep out of a race (see failsafeHoldsRace); a
    // key left naming members is the trace of a leader that may still run on failsafe rounds without etcd.
    return view.failsafe && Object.keys(view.failsafe).length > 0
      ? { type: "write_failsafe", value: {} }
      : null;
  }
  const value = failsafeTopology(view);
  if (!(ctx.name in value) || sameTopology(view.failsafe, value)) return null;
  return { type: "write_failsafe", value };
}

/** The members a primary without etcd asks (every other member of the key); null when it may not keep running. */
export function failsafeMembersToCall(
  key: FailsafeTopology | null | undefined,
  me: string,
): { name: string; apiUrl: string }[] | null {
  if (!key || !(me in key)) return null;
  return Object.entries(key).filter(([name]) => name !== me).map(([name, apiUrl]) => ({ name, apiUrl }));
}

/** Why the round does not let this primary keep running, or null when every other member of `key` accepted it. */
export function failsafeRoundVerdict(
  key: FailsafeTopology | null | undefined,
  me: string,
  round: FailsafeRound | undefined,
): string | null {
  const members = failsafeMembersToCall(key, me);
  if (members === null) return key ? `this member is not in the failsafe key` : "the failsafe key is not set";
  if (!round) return "no failsafe round was run";
  const missing = members.filter((m) => !round.answers.some((a) => a.name === m.name && a.accepted));
  if (missing.length === 0) return null;
  return `not confirmed by ${
    missing.map((m) => {
      const why = round.answers.find((a) => a.name === m.name)?.error;
      return why ? `${m.name} (${why})` : m.name;
    }).join(", ")
  }`;
}

/**
 * etcd is out of reach and this member runs a primary: with failsafe mode on, keep it while every member of the
 * failsafe key accepted this cycle's round (Patroni's "continue to run as a leader because failsafe mode is enabled
 * and all members are accessible"), else demote, saying who did not confirm. Null when failsafe mode is off or
 * Postgres is not an answering primary (the ordinary offline rules decide).
 */
export function decideFailsafeOffline(obs: Observation, memory: Memory, ctx: HaContext): Decision | null {
  const pg = obs.pg;
  if (!failsafeEnabled(ctx.dynamic) || !(pg.running && pg.queryable && pg.role === "primary")) return null;
  const why = failsafeRoundVerdict(obs.failsafe?.key, ctx.name, obs.failsafe?.round);
  if (why === null) {
    const round = obs.failsafe!.round!;
    // A member that read another ttl since (edit-config) stays out of a race only for its own: the shortest counts.
    const ttl = Math.min(ctx.dynamic.ttl, ...round.answers.map((a) => a.ttl ?? Infinity));
    return noChange(
      { ...memory, isLeader: true },
      "continue to run as a leader because failsafe mode is enabled and all members are accessible",
      [{ type: "failsafe_keep", since: round.startedAt, ttl }, ...failsafeLeaderSlotActions(obs, ctx)],
    );
  }
  return noChange(
    { ...memory, isLeader: false, offlineDemoted: true },
    `demoting self because DCS is not accessible and I was a leader (failsafe mode: ${why})`,
    offlineStepDown(memory, pg),
  );
}

/**
 * No leader key: a member that accepted the leader's call within `ttl` does not race (the leader is alive and
 * counts on it, even if failsafe_mode was turned off since), and one missing from a non-empty failsafe key does not
 * either, with failsafe mode on or off, unless an operator's failover to a named member is pending (its rules pick
 * the candidate). Null: the race may go on.
 */
export function failsafeHoldsRace({ obs, mem, ctx, view }: Cycle): Decision | null {
  // A promise made holds whatever the config says since: the leader counted this member's acceptance for its
  // fence (found by the simulator: failsafe_mode turned off meanwhile let the replicas race beside it).
  const acc = obs.failsafe?.accepted;
  if (acceptanceFresh(acc, obs.now, Math.max(ctx.dynamic.ttl, acc?.ttl ?? 0))) {
    const ago = ((obs.now - acc!.at) / 1000).toFixed(1);
    return noChange(
      mem,
      `no action: failsafe mode is active, the leader ${acc!.leader} called POST /failsafe ${ago} s ago`,
    );
  }
  // Whatever the config says now: a leader cut off from etcd does not read a change of failsafe_mode, and keeps
  // running on its rounds among the members of the key it wrote (alone, when it names only itself). The healthy
  // leader empties the key when failsafe mode is off, so a key that still names members is that leader's (found by
  // the simulator: failsafe_mode turned on and off while a member was frozen, which then raced beside it).
  // An operator's failover to a named member goes past the key (failsafe_key.ts); a switchover request does not:
  // the leader carries it out, and with its key gone that leader may run on failsafe rounds still (found by the
  // simulator: a pending switchover let a member left out of the key race beside a leader cut off from etcd).
  if (failsafeKeyExcludes(view, ctx.name)) {
    return noChange(mem, "not taking part in the leader race: this member is not in the failsafe key");
  }
  return null;
}

/** What a member answers to a leader's `POST /failsafe`. */
export interface FailsafeCallInput {
  enabled: boolean;
  /** This member's Postgres runs and may be a writable primary. */
  mayBeWritable: boolean;
  /** The `name` in the request body. */
  caller: string;
  /** The leader of the last cluster view (null: none, or no view yet). */
  viewLeader: string | null;
  /** The last acceptance, if any. */
  accepted: FailsafeAcceptance | null;
  /** Monotonic ms, and the dynamic `ttl` (s): an acceptance older than `ttl` names nobody any more. */
  now: number;
  ttl: number;
}

/** The answer: 200 `Accepted` (the member remembers it), 500 with the reason, 502 when failsafe mode is off. */
export function failsafeCallVerdict(i: FailsafeCallInput): { status: 200 | 500 | 502; body: string } {
  if (!i.enabled) return { status: 502, body: "failsafe mode is not enabled" };
  if (i.mayBeWritable) return { status: 500, body: "Running as a leader" };
  // The leader etcd last named, or (once its key is gone) the one whose calls this member has been accepting.
  const stillFollowed = i.viewLeader === null && acceptanceFresh(i.accepted, i.now, i.ttl) &&
    i.accepted!.leader === i.caller;
  if (i.caller !== i.viewLeader && !stillFollowed) {
    return { status: 500, body: `not following ${i.caller} (leader: ${i.viewLeader ?? "none"})` };
  }
  return { status: 200, body: "Accepted" };
}
