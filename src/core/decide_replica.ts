/**
 * Without the leader key: follow the leader (or the `replicatefrom` member), demote a primary that lost the key,
 * reinitialize on request, and start a stopped Postgres as a replica, running pg_rewind or cloning afresh first
 * for a former primary (or staying stopped after a failed pg_rewind, as configured).
 *
 * Pure. May import: `src/core/` (types, context, topology).
 *
 * @module
 */
import type { Decision } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { upstreamFor } from "./topology.ts";

/** `hactl reinit` asked for a fresh copy: remove the data directory and clone from the upstream. */
export function reinitRequested({ obs, mem, ctx, view, holdsLock }: Cycle): Decision | null {
  if (!obs.reinitRequested || holdsLock || !view.leader) return null;
  const upstream = upstreamFor(view, ctx.name, ctx.tags);
  if (!upstream) return null;
  return noChange(
    { ...mem, rewindFailed: false },
    `reinitializing: removing the data directory and cloning from '${upstream.name}'`,
    [{ type: "demote", mode: "immediate" }, { type: "start_job", job: { kind: "clone", upstream } }],
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
  if (rewound?.status === "failed") {
    if (ctx.removeDataOnRewindFailure && upstream) {
      return noChange(
        mem,
        `pg_rewind failed (${rewound.error ?? "?"}); reinitializing from '${upstream.name}'`,
        [
          { type: "start_job", job: { kind: "clone", upstream } },
        ],
      );
    }
    return noChange(
      { ...mem, rewindFailed: true },
      `pg_rewind failed (${rewound.error ?? "?"}); not starting postgres: run 'hactl reinit' or set ` +
        "remove_data_directory_on_rewind_failure",
    );
  }
  if (mem.rewindFailed && !rewound) {
    return noChange(mem, "not starting postgres after a failed pg_rewind: run 'hactl reinit'");
  }
  // A stopped former primary (no standby.signal) may hold WAL the new leader never had: let pg_rewind look
  // (it does nothing when the histories did not diverge) before it starts as a replica.
  if (upstream && !pg.standbySignal && ctx.dynamic.usePgRewind && rewound?.status !== "ok") {
    return noChange(mem, `running pg_rewind from '${upstream.name}' before following it`, [
      { type: "start_job", job: { kind: "rewind", upstream } },
    ]);
  }
  // Without pg_rewind there is no telling whether its WAL went past the new leader's switch point: when allowed,
  // clone afresh instead (conservative: also when it had not diverged).
  if (upstream && !pg.standbySignal && !ctx.dynamic.usePgRewind && ctx.removeDataOnDivergedTimelines) {
    return noChange(mem, `reinitializing a former primary from '${upstream.name}' (no pg_rewind)`, [
      { type: "start_job", job: { kind: "clone", upstream } },
    ]);
  }
  const reason = upstream
    ? `starting as a secondary following '${upstream.name}'`
    : "starting as a secondary";
  return noChange({ ...mem, rewindFailed: false }, reason, [
    { type: "start_job", job: { kind: "start", role: "replica", upstream } },
  ]);
}

/** Postgres answers and another member holds the key: demote a primary, else follow the upstream. */
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
  if (!upstream) {
    return noChange(mem, `no action. I am (${ctx.name}), a secondary, and the leader is (${leader})`);
  }
  return noChange(
    mem,
    `no action. I am (${ctx.name}), a secondary, and following a leader (${leader})`,
    [{ type: "follow", upstream }],
  );
}
