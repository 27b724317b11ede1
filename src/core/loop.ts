/**
 * The loop's own small rules around `decide()`: when to look again at once, how long to wait between cycles, when a
 * cycle publishes the member key, when a leader race needs the other members' statuses, when a new `config` key
 * asks Postgres to reload, and which callback (`on_start`, `on_role_change`, ...) a finished job or an adopted server fires.
 *
 * Pure: imports `types.ts` and `ports.ts` (types) only.
 *
 * @module
 */
import type { CallbackAction } from "./ports.ts";
import type { DcsObservation, Decision, JobRequest, Member, Observation, PgObservation } from "./types.ts";

/** The result of one cycle, for tests and the simulator. */
export interface CycleResult {
  observation: Observation;
  decision: Decision;
  /** Index of the first failed action, or -1 when all ran. */
  failedAt: number;
  /** The failure was etcd not answering (rather than a refused CAS or a Postgres error). */
  dcsFailed: boolean;
  error?: string;
}

/**
 * Whether the loop should look again at once instead of waiting out loop_wait: a lock action (or a move of the
 * keys to a lease of a new ttl) failed or etcd failed mid-plan (the world changed under us, or the lease is running
 * out), or a promotion just happened (publish the new timeline in `history` and `status` now, not a loop_wait
 * later).
 */
export function rerunAtOnce(result: Pick<CycleResult, "decision" | "failedAt" | "dcsFailed">): boolean {
  const failed = result.failedAt >= 0 ? result.decision.actions[result.failedAt]!.type : null;
  const lockFailed = failed === "acquire_leader" || failed === "renew_leader" || failed === "move_lease";
  if (lockFailed || result.dcsFailed) return true;
  return failed === null && result.decision.actions.some((a) => a.type === "promote");
}

/**
 * Whether the cycle publishes the member key: only with a DCS view and when no etcd call of the plan failed (another
 * etcd call would only spend more of the lease on a store that just failed us).
 */
export function publishesMember(obs: Observation, dcsFailed: boolean): boolean {
  return obs.dcs.kind === "ok" && !dcsFailed;
}

/** A plan that clones the data directory carries out a pending reinitialisation request. */
export function carriesOutReinit(decision: Decision): boolean {
  return decision.actions.some((a) => a.type === "start_job" && a.job.kind === "clone");
}

/** What the wait between two cycles depends on (monotonic ms unless said otherwise). */
export interface WaitInput {
  /** When the cycle just run started. */
  started: number;
  /** `started + loop_wait`. */
  nextRunAt: number;
  now: number;
  /** Wall-clock epoch ms. */
  wallNow: number;
  /** When a scheduled restart is due (wall-clock epoch ms), or null/undefined when none waits. */
  restartAt: number | null | undefined;
}

/**
 * Until when the loop waits (unless woken): loop_wait after the cycle's start, or, for a scheduled restart due
 * before then, its time, but no sooner than 100 ms after the cycle's start.
 */
export function waitDeadline(i: WaitInput): number {
  const due = i.restartAt === null || i.restartAt === undefined
    ? Infinity
    : i.now + (i.restartAt - i.wallNow);
  return Math.min(i.nextRunAt, Math.max(due, i.started + 100));
}

/** What else `peersToAsk` may look at. */
export interface PeersToAskOptions {
  /**
   * The members of the view before this one (Patroni's `old_cluster`): a former leader whose member key expired
   * with its leader key is asked too, so a primary still running there vetoes the race.
   */
  previousMembers?: readonly Member[];
  /** Wall-clock epoch ms: a switchover scheduled for later is not checked yet. */
  wallNow?: number;
  /**
   * Failsafe mode: the `failsafe` key, whose members are asked in a race too (as Patroni races among them): a
   * primary kept by failsafe rounds whose member key has expired still vetoes a race it would not see otherwise.
   */
  failsafe?: Record<string, string> | null;
  /** A standby cluster: its leader (a standby leader, in recovery) asks the candidates of a hand-over too. */
  standbyCluster?: boolean;
}

/**
 * The members whose `GET /patroni` this cycle needs, or null when none are to be asked:
 * - a leader race (etcd names no leader, this member is a running replica with no job in flight): every other
 *   member with an API, those of the previous view included;
 * - a leader whose `failover` key asks for a hand-over (running primary, or standby leader, no job in flight): the
 *   named candidate (and the voters its `sync` key names), or every other member for a switchover without one, so
 *   that it checks them before it demotes (not before a scheduled switchover is due).
 */
export function peersToAsk(
  dcs: DcsObservation,
  pg: PgObservation,
  jobBusy: boolean,
  me: string,
  opts: PeersToAskOptions = {},
): { name: string; apiUrl: string }[] | null {
  if (dcs.kind !== "ok" || !pg.queryable || jobBusy) return null;
  const view = dcs.cluster;
  const asked = (members: readonly Member[]) =>
    members.filter((m) => m.name !== me && m.data.api_url).map((m) => ({
      name: m.name,
      apiUrl: m.data.api_url,
    }));
  const leads = pg.role === "primary" || (opts.standbyCluster === true && pg.role === "replica");
  if (view.leader?.name === me && leads && view.failover) {
    const f = view.failover;
    if (!f.leader && !f.member) return null;
    const at = f.scheduledAt ? Date.parse(f.scheduledAt) : NaN;
    if (opts.wallNow !== undefined && at > opts.wallNow) return null;
    // With a candidate, also the voters of this leader's `sync` key: in quorum commit the leader checks that the
    // candidate can gather their votes before it stops (src/core/quorum_plan.ts).
    const sync = view.sync?.leader?.toLowerCase() === me.toLowerCase() ? view.sync : null;
    const voter = (n: string) => sync?.syncStandby.some((v) => v.toLowerCase() === n.toLowerCase()) ?? false;
    const pool = f.member ? view.members.filter((m) => m.name === f.member || voter(m.name)) : view.members;
    const out = asked(pool);
    return out.length > 0 ? out : null;
  }
  if (view.leader || pg.role !== "replica") return null;
  const byName = new Map<string, Member>();
  for (const m of opts.previousMembers ?? []) byName.set(m.name, m);
  for (const m of view.members) byName.set(m.name, m);
  const out = asked([...byName.values()]);
  for (const [name, apiUrl] of Object.entries(opts.failsafe ?? {})) {
    if (name !== me && apiUrl && !byName.has(name)) out.push({ name, apiUrl });
  }
  return out;
}

/**
 * A new mod revision of the `config` key asks Postgres to reload (new `postgresql.parameters` may have come). Not the
 * first one seen, nor the key's creation from bootstrap.dcs: that is what Postgres was or will be started with.
 */
export function configChangeReloads(seen: string | null | undefined, revision: string | null): boolean {
  return revision !== seen && typeof seen === "string";
}

/** A callback to run: the action and the role it reports. */
export interface CallbackCall {
  action: CallbackAction;
  role: string;
}

/**
 * The callback a finished job fires, given the role the callbacks last reported: `on_restart` after a restart,
 * `on_start` after a bootstrap or a start (`on_role_change` when it started in another role), `on_stop` after a
 * stop (a switchover's shutdown too), `on_role_change` to primary after a promotion; after a failure none, but
 * `on_role_change` to `demoted` when a primary failed to start again.
 */
export function jobCallback(req: JobRequest, ok: boolean, lastRole: string | null): CallbackCall | null {
  if (!ok) {
    // A primary that failed to start again is demoted (it gives the leader key up), as Patroni reports it.
    const demoted = req.kind === "start" && req.role === "primary" && lastRole === "primary";
    return demoted ? { action: "on_role_change", role: "demoted" } : null;
  }
  switch (req.kind) {
    case "restart":
      return { action: "on_restart", role: req.role };
    case "bootstrap":
      return { action: "on_start", role: "primary" };
    case "start":
      return {
        action: lastRole !== null && lastRole !== req.role ? "on_role_change" : "on_start",
        role: req.role,
      };
    case "stop":
    case "demote":
      return { action: "on_stop", role: lastRole ?? "replica" };
    case "promote":
      return { action: "on_role_change", role: "primary" };
    default:
      return null;
  }
}

/** The first time this agent sees Postgres up with no job in flight (an adopted server), it reports it as started. */
export function adoptionCallback(
  lastRole: string | null,
  pg: PgObservation,
  jobBusy: boolean,
): CallbackCall | null {
  return lastRole === null && pg.queryable && pg.role && !jobBusy
    ? { action: "on_start", role: pg.role }
    : null;
}
