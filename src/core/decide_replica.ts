/**
 * Without the leader key: follow the leader (or the `replicatefrom` member), demote a primary that lost the key,
 * reinitialize on request, and start a stopped Postgres as a replica, running pg_rewind or cloning afresh first
 * for a former primary (or staying stopped after a failed pg_rewind, as configured). A member whose history left
 * the leader's (divergence.ts: a stopped replica, or a running one that cannot stream) is rewound from the
 * read-write leader, or re-cloned per `remove_data_directory_on_diverged_timelines`; a replica that does not
 * stream says so in its cycle sentence.
 *
 * Pure. May import: `src/core/` (types, context, topology, divergence).
 *
 * @module
 */
import type { Action, Decision, Memory, PgObservation, Upstream } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { upstreamFor } from "./topology.ts";
import { memberSlotPlan, slotNameOnPrimary } from "./member_slots.ts";
import { cloneSourceFor } from "./clone_source.ts";
import { isNoFailover } from "./member_state.ts";
import { type SlotSyncFields, slotSyncFields } from "./slot_rules.ts";
import { logicalSlotsToCopy } from "./logical_slots.ts";
import { type Divergence, divergence, readWriteLeader } from "./divergence.ts";
import { rewindCheckpointWait } from "./checkpoint_after_promote.ts";

/** `hactl reinit` asked for a fresh copy: remove the data directory and clone from the upstream. */
export function reinitRequested({ obs, mem, ctx, view, holdsLock }: Cycle): Decision | null {
  if (!obs.reinitRequested || holdsLock || !view.leader) return null;
  const fromLeader = obs.reinitFromLeader === true;
  const upstream = cloneSourceFor(view, ctx.name, fromLeader);
  if (!upstream) return null;
  return noChange(
    { ...mem, rewindFailed: false },
    `reinitializing: removing the data directory and cloning from '${upstream.name}'` +
      (fromLeader ? " (from the leader, with pg_basebackup)" : ""),
    [
      { type: "demote", mode: "immediate" },
      { type: "start_job", job: { kind: "clone", upstream, ...(fromLeader ? { fromLeader } : {}) } },
    ],
  );
}

/**
 * Postgres is stopped and this member does not hold the key: after a pg_rewind that failed, retry, re-clone or stay
 * stopped; a former primary is rewound (or re-cloned without pg_rewind) first; then start as a replica.
 */
export function startAsReplica({ obs, mem, ctx, view }: Cycle): Decision {
  const pg = obs.pg;
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  const rewound = obs.job?.kind === "rewind" ? obs.job : null;
  if (rewound?.status === "failed" && rewound.retryable) {
    // pg_rewind never ran (its source did not answer, e.g. the new leader was restarting): nothing to give up on.
    return noChange(
      { ...mem, rewindFailed: false },
      `pg_rewind could not start (${rewound.error ?? "?"}); retrying at the next cycle`,
    );
  }
  if (rewound?.status === "failed") return afterFailedRewind(rewound.error, mem, ctx, upstream);
  if (mem.rewindFailed && !rewound) {
    return noChange(mem, "not starting postgres after a failed pg_rewind: run 'hactl reinit'");
  }
  // A stopped former primary (no standby.signal) may hold WAL the new leader never had: let pg_rewind look
  // (it does nothing when the histories did not diverge) before it starts as a replica. The source is always the
  // read-write leader, never a `replicatefrom` member that may still be on the old timeline.
  const source = readWriteLeader(view, ctx.name);
  const formerPrimary = !pg.standbySignal && rewound?.status !== "ok";
  const renumbered = renumberedHistory(obs, upstream, ctx.removeDataOnDivergedTimelines);
  if (renumbered) return noChange(mem, renumbered.reason, renumbered.actions);
  if (upstream && formerPrimary && ctx.dynamic.usePgRewind) {
    if (!source) {
      return noChange(
        mem,
        `waiting for the leader '${view.leader!.name}' to run as the read-write primary before pg_rewind`,
      );
    }
    const wait = rewindCheckpointWait(obs, view, source);
    if (wait) return noChange(mem, wait);
    const then = source.name === upstream.name ? "it" : `'${upstream.name}'`;
    return noChange(mem, `running pg_rewind from '${source.name}' before following ${then}`, [
      { type: "start_job", job: { kind: "rewind", upstream: source } },
    ]);
  }
  // Without pg_rewind there is no telling whether its WAL went past the new leader's switch point: when allowed,
  // clone afresh instead (conservative: also when it had not diverged).
  if (upstream && formerPrimary && !ctx.dynamic.usePgRewind && ctx.removeDataOnDivergedTimelines) {
    return noChange(mem, `reinitializing a former primary from '${upstream.name}' (no pg_rewind)`, [
      { type: "start_job", job: { kind: "clone", upstream } },
    ]);
  }
  // A stopped replica whose history left the leader's (pg_controldata against the leader's timeline history).
  const dv = rewound?.status === "ok" ? null : divergence(obs);
  if (dv?.kind === "diverged" && upstream) {
    const repair = repairDivergence(
      dv,
      source,
      upstream,
      ctx,
      source && rewindCheckpointWait(obs, view, source),
    );
    if (repair) return noChange(mem, repair.reason, repair.job ? [repair.job] : []);
  }
  const reason = upstream
    ? `starting as a secondary following '${upstream.name}'${
      dv?.kind === "diverged" ? `; ${dvNote(dv)}` : ""
    }`
    : "starting as a secondary";
  return noChange({ ...mem, rewindFailed: false }, reason, [
    { type: "start_job", job: { kind: "start", role: "replica", upstream } },
  ]);
}

/**
 * pg_rewind ran and failed: re-clone when `remove_data_directory_on_rewind_failure` or
 * `remove_data_directory_on_diverged_timelines` is set, as Patroni does (e.g. PostgreSQL 15's pg_rewind cannot
 * rewind a replica stopped before it replayed a checkpoint of the timeline it streamed: it takes the target's
 * timeline from pg_control's latest checkpoint and looks for the fork point in the older timeline's WAL, which
 * ends there); else stay stopped until an operator runs `hactl reinit`.
 */
function afterFailedRewind(
  error: string | undefined,
  mem: Cycle["mem"],
  ctx: Cycle["ctx"],
  upstream: Upstream | null,
): Decision {
  const key = ctx.removeDataOnRewindFailure
    ? "remove_data_directory_on_rewind_failure"
    : ctx.removeDataOnDivergedTimelines
    ? "remove_data_directory_on_diverged_timelines"
    : null;
  if (key && upstream) {
    return noChange(
      mem,
      `pg_rewind failed (${error ?? "?"}); reinitializing from '${upstream.name}' (${key} is set)`,
      [{ type: "start_job", job: { kind: "clone", upstream } }],
    );
  }
  return noChange(
    { ...mem, rewindFailed: true },
    `pg_rewind failed (${error ?? "?"}); not starting postgres: run 'hactl reinit' or set ` +
      "remove_data_directory_on_rewind_failure",
  );
}

/**
 * How a diverged member is brought back: pg_rewind from the read-write leader (once `wait`, the leader's checkpoint
 * after its promotion, is null; until then no job), or a fresh clone when allowed.
 */
function repairDivergence(
  dv: Extract<Divergence, { kind: "diverged" }>,
  source: Upstream | null,
  upstream: Upstream,
  ctx: Cycle["ctx"],
  wait: string | null,
):
  | {
    reason: string;
    job: { type: "start_job"; job: { kind: "rewind" | "clone"; upstream: Upstream } } | null;
  }
  | null {
  const removeData = ctx.removeDataOnDivergedTimelines;
  if (ctx.dynamic.usePgRewind && source && wait) {
    return { reason: `diverged: rewind needed (${dv.why}); ${wait}`, job: null };
  }
  if (ctx.dynamic.usePgRewind && source) {
    return {
      reason: `diverged: rewind needed (${dv.why}); running pg_rewind from '${source.name}'`,
      job: { type: "start_job", job: { kind: "rewind", upstream: source } },
    };
  }
  if (removeData) {
    return {
      reason: `diverged: reinitializing from '${upstream.name}' (${dv.why}; ` +
        "remove_data_directory_on_diverged_timelines is set)",
      job: { type: "start_job", job: { kind: "clone", upstream } },
    };
  }
  return null;
}

/**
 * A member on the leader's timeline number but another history: pg_rewind cannot repair it (it compares timeline
 * numbers), so it is re-cloned when `remove_data_directory_on_diverged_timelines` allows, else it stays stopped:
 * it must never stream a history that is not its own.
 */
function renumberedHistory(
  obs: Cycle["obs"],
  upstream: Upstream | null,
  removeData: boolean | undefined,
): { reason: string; actions: Action[] } | null {
  const dv = divergence(obs);
  if (dv?.kind !== "renumbered") return null;
  if (removeData && upstream) {
    return {
      reason: `diverged: reinitializing from '${upstream.name}' (${dv.why})`,
      actions: [{ type: "start_job", job: { kind: "clone", upstream } }],
    };
  }
  return {
    reason:
      `diverged (${dv.why}); pg_rewind cannot repair two histories with one timeline number: not starting ` +
      "postgres: run 'hactl reinit' or set remove_data_directory_on_diverged_timelines",
    actions: [],
  };
}

/** What a diverged member that cannot be repaired automatically says. */
function dvNote(dv: Extract<Divergence, { kind: "diverged" }>): string {
  return `diverged (${dv.why}): use_pg_rewind is off and remove_data_directory_on_diverged_timelines is not ` +
    "set: run 'hactl reinit'";
}

/**
 * Postgres answers and another member holds the key: demote a primary; rewind (or re-clone) a replica whose history
 * left the leader's; else follow the upstream, saying so when it has not streamed for a while.
 */
export function decideAsReplica({ obs, mem, ctx, view }: Cycle): Decision {
  const leader = view.leader!.name;
  if (obs.pg.role === "primary") {
    return noChange(
      mem,
      `demoting self because I do not have the lock and I was a leader (leader is '${leader}')`,
      [
        { type: "demote", mode: "immediate" },
      ],
    );
  }
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  const renumbered = renumberedHistory(obs, upstream, ctx.removeDataOnDivergedTimelines);
  if (renumbered) {
    return noChange(streamingAgain(mem), `${renumbered.reason}; stopping postgres`, [
      { type: "demote", mode: "fast" },
      ...renumbered.actions,
    ]);
  }
  const dv = divergence(obs);
  if (dv?.kind === "diverged" && upstream) {
    const source = readWriteLeader(view, ctx.name);
    const repair = repairDivergence(
      dv,
      source,
      upstream,
      ctx,
      source && rewindCheckpointWait(obs, view, source),
    );
    if (repair?.job) {
      // A clean (fast) shutdown in recovery first: pg_rewind and pg_basebackup need a stopped server.
      return noChange(streamingAgain(mem), `${repair.reason}; stopping postgres first`, [
        { type: "demote", mode: "fast" },
        repair.job,
      ]);
    }
    // Still running until the leader's checkpoint lets pg_rewind see its new timeline.
    if (repair) return noChange(mem, repair.reason);
  }
  const since = obs.pg.replicationState === "streaming" ? undefined : mem.notStreamingSince ?? obs.now;
  const next = since === undefined ? streamingAgain(mem) : { ...mem, notStreamingSince: since };
  const quietMs = since === undefined ? 0 : obs.now - since;
  if (dv?.kind === "foreign-target" && upstream && quietMs > 2 * ctx.dynamic.loopWait * 1000) {
    // Postgres picks the newest timeline it can follow again when it starts.
    return noChange(
      streamingAgain(mem),
      `not streaming for ${Math.round(quietMs / 1000)} s: ${dv.why} on it; restarting postgres to follow it`,
      [{ type: "demote", mode: "fast" }, {
        type: "start_job",
        job: { kind: "start", role: "replica", upstream },
      }],
    );
  }
  const slots = replicaSlotActions(ctx, view, obs.pg, mem, upstream);
  if (!upstream) {
    return noChange(next, `no action. I am (${ctx.name}), a secondary, and the leader is (${leader})`, slots);
  }
  const reason = dv?.kind === "diverged"
    ? `I am (${ctx.name}), a secondary following a leader (${leader}) but not streaming: ${dvNote(dv)}`
    : quietMs > 2 * ctx.dynamic.loopWait * 1000
    ? `I am (${ctx.name}), a secondary following '${upstream.name}' (leader ${leader}) but not streaming for ` +
      `${Math.round(quietMs / 1000)} s (in archive recovery)${dv ? `; ${dv.why}` : ""}`
    : `no action. I am (${ctx.name}), a secondary, and following a leader (${leader})`;
  const copying = slots.find((a) => a.type === "sync_slots" && a.copy);
  const said = copying?.type === "sync_slots"
    ? `Copying logical slots ${copying.copy!.join(", ")} from the primary`
    : reason;
  return noChange(next, said, [{ type: "follow", upstream }, ...slots]);
}

/**
 * A replica that may become primary keeps the permanent physical slots, advanced to the positions the leader
 * publishes in `status` (as Patroni does), so they exist, holding the WAL their consumers need, after a failover;
 * likewise the member slots of src/core/member_slots.ts (with `member_slots_ttl` above 0, one for every other
 * member), and drops other inactive slots that are not ignored, as Patroni does. Asked only when there is
 * something to create or advance, or a slot it does not know.
 */
function replicaSlotActions(
  ctx: Cycle["ctx"],
  view: Cycle["view"],
  pg: PgObservation,
  mem: Memory,
  upstream: Upstream | null,
): Action[] {
  if (!ctx.dynamic.useSlots) return [];
  const plan = memberSlotPlan(view, ctx.name, "replica", {
    nofailover: isNoFailover(ctx.tags),
    memberSlotsTtl: ctx.dynamic.memberSlotsTtl,
    seen: mem.membersSeen,
  });
  const keep = plan.keep;
  const published = view.status?.slots ?? {};
  const fields: SlotSyncFields = slotSyncFields(
    ctx.dynamic,
    "replica",
    isNoFailover(ctx.tags),
    published,
    slotNameOnPrimary(view, ctx.name, ctx.tags) === null,
    keep,
  );
  if (plan.create.length > 0) fields.memberCreate = plan.create;
  if (Object.keys(plan.inactive).length > 0) fields.memberInactive = plan.inactive;
  const known = new Set([...keep, ...(fields.permanent ?? []), ...(fields.logical ?? []).map((l) => l.name)]);
  const unknown = [...pg.slots, ...(pg.logicalSlots ?? [])].some((n) => !known.has(n));
  const memberWork = plan.create.some((n) => !pg.slots.includes(n)) ||
    Object.entries(plan.inactive).some(([n, at]) =>
      pg.slotPositions?.[n] !== undefined && Math.min(at, pg.replayLsn ?? at) > pg.slotPositions[n]!
    );
  if (!fields.permanent && !fields.logical && !unknown && !memberWork) return [];
  const copy = logicalSlotsToCopy(fields.logical ?? [], pg.logicalSlots ?? [], published);
  const leader = view.leader && view.members.find((m) => m.name === view.leader!.name);
  if (copy.length === 0 || !upstream || !leader?.data.conn_url) {
    return [{ type: "sync_slots", slots: keep, ...fields }];
  }
  // Copied while Postgres runs, installed while it is stopped: PostgreSQL 15 reads slots only when it starts.
  return [
    {
      type: "sync_slots",
      slots: keep,
      ...fields,
      copy,
      copyFrom: { name: leader.name, connUrl: leader.data.conn_url },
    },
    { type: "start_job", job: { kind: "restart", role: "replica", upstream } },
  ];
}

/** The memory without a not-streaming mark. */
function streamingAgain(mem: Memory): Memory {
  const { notStreamingSince: _, ...rest } = mem;
  return rest;
}
