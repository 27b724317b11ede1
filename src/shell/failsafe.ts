/**
 * Failsafe mode beside the loop: what this member remembers (the leader's last confirmed round, the last call it
 * accepted as a replica), the leader's round of `POST /failsafe` calls when etcd is out of reach, and the answer to
 * a leader's call. Every rule is the core's (`src/core/failsafe.ts`); this only carries it out.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import {
  acceptanceFresh,
  failsafeCallVerdict,
  failsafeEnabled,
  failsafeMembersToCall,
} from "../core/failsafe.ts";
import type {
  FailsafeAcceptance,
  FailsafeReport,
  FailsafeRound,
  FailsafeTopology,
} from "../core/failsafe_types.ts";
import { mayBeWritable } from "../core/ha_context.ts";
import { failsafeRoundSlots, parseFailsafeSlots } from "../core/failsafe_slots.ts";
import type { ClusterView, DynamicSettings, PgObservation } from "../core/types.ts";
import type { AgentDeps } from "./deps.ts";

/** How long each `POST /failsafe` of a round may take (Patroni's timeout for the call). */
export const FAILSAFE_CALL_TIMEOUT_MS = 2000;

/** The answer to a leader's `POST /failsafe`. */
export interface FailsafeCallReply {
  status: 200 | 400 | 500 | 502;
  body: string;
  /** This member's WAL position (the `lsn` header), with an acceptance. */
  lsn?: number;
  /** This member's `ttl` (the `ttl` header), with an acceptance: how long it stays out of a race. */
  ttl?: number;
}

/** This member's failsafe state. */
export class FailsafeState {
  /** The last call this member accepted (as a replica). */
  #accepted: FailsafeAcceptance | null = null;
  /** The start of the last round every member accepted (as the leader), monotonic ms. */
  #keptSince: number | null = null;
  /**
   * The `failsafe` key as etcd may hold it: the last value read, joined with every value this member wrote since
   * (a write whose answer was lost may have been applied or not). A round asks every member of it, so a member that
   * may be listed in etcd's key is never left out (Patroni's leader asks the members of the key it last wrote).
   */
  #key: FailsafeTopology | null = null;

  constructor(private readonly deps: AgentDeps) {}

  get accepted(): FailsafeAcceptance | null {
    return this.#accepted;
  }

  /** Every member accepted the round that started at `since`. */
  kept(since: number): void {
    this.#keptSince = since;
  }

  /** The `failsafe` key as etcd may hold it (see `#key`). */
  get key(): FailsafeTopology | null {
    return this.#key;
  }

  /** etcd answered: the leader's failsafe state ends (Patroni resets it after every cycle with the DCS). */
  dcsAnswered(view: ClusterView): void {
    this.#keptSince = null;
    this.#key = view.failsafe ?? null;
    if (view.leader?.name === this.deps.name) this.#accepted = null;
  }

  /** This member is about to write `value` into the `failsafe` key. */
  writing(value: FailsafeTopology): void {
    this.#key = { ...(this.#key ?? {}), ...value };
  }

  /**
   * The leader's round: with etcd out of reach, failsafe mode on, not paused, and Postgres an answering primary,
   * ask every other member of the `failsafe` key as etcd may hold it; undefined when no round is due or possible.
   */
  async round(
    dynamic: DynamicSettings,
    pg: PgObservation,
    view: ClusterView | null = null,
  ): Promise<FailsafeRound | undefined> {
    const { clock, peers } = this.deps;
    if (
      !failsafeEnabled(dynamic) || dynamic.pause || !(pg.running && pg.queryable && pg.role === "primary")
    ) {
      return undefined;
    }
    const members = failsafeMembersToCall(this.#key, this.deps.name);
    if (members === null || !peers.postFailsafe) return undefined;
    const startedAt = clock.now();
    if (members.length === 0) return { startedAt, answers: [] };
    // The slot positions it would write to `status`: the replicas advance their permanent slots to them.
    const slots = failsafeRoundSlots(view, dynamic, this.deps.name, pg);
    const body = { name: this.deps.name, conn_url: this.deps.connUrl, api_url: this.deps.apiUrl, slots };
    const answers = await peers.postFailsafe(members, body, FAILSAFE_CALL_TIMEOUT_MS);
    return { startedAt, answers };
  }

  /** A leader's `POST /failsafe` with `body`: accept it (and remember it) or say why not. */
  call(
    body: unknown,
    view: ClusterView | null,
    dynamic: DynamicSettings,
    pg: PgObservation,
  ): FailsafeCallReply {
    const caller = typeof body === "object" && body !== null
      ? (body as Record<string, unknown>).name
      : undefined;
    if (failsafeEnabled(dynamic) && typeof caller !== "string") {
      return { status: 400, body: "the request names no leader ('name')" };
    }
    const now = this.deps.clock.now();
    const verdict = failsafeCallVerdict({
      enabled: failsafeEnabled(dynamic),
      mayBeWritable: mayBeWritable(pg),
      caller: String(caller),
      viewLeader: view?.leader?.name ?? null,
      accepted: this.#accepted,
      now,
      ttl: dynamic.ttl,
    });
    if (verdict.status !== 200) return verdict;
    const parsed = parseFailsafeSlots((body as Record<string, unknown>).slots);
    if (parsed.problem) {
      this.deps.log?.warn("failsafe call without slot positions", {
        leader: caller,
        problem: parsed.problem,
      });
    }
    this.#accepted = {
      leader: String(caller),
      at: now,
      ttl: dynamic.ttl,
      ...(parsed.slots ? { slots: parsed.slots } : {}),
    };
    return { ...verdict, ttl: dynamic.ttl, ...(pg.walPosition !== null ? { lsn: pg.walPosition } : {}) };
  }

  /** What `GET /metrics` reports. */
  report(view: ClusterView | null, dynamic: DynamicSettings): FailsafeReport {
    const now = this.deps.clock.now();
    const enabled = failsafeEnabled(dynamic);
    const kept = this.#keptSince !== null && now - this.#keptSince < dynamic.ttl * 1000;
    return {
      enabled,
      active: enabled && (kept || acceptanceFresh(this.#accepted, now, dynamic.ttl)),
      member: enabled && !!view?.failsafe && this.deps.name in view.failsafe,
    };
  }
}
