/**
 * `postgresql.pre_promote`, as Patroni acts on it: the script runs in the promotion job, after this member took the
 * leader key and before `pg_ctl promote`. When it exits non-zero the promotion is cancelled (Postgres stays a
 * replica), the member releases the leader key voluntarily, and it stays out of the leader race for one `ttl`, so
 * another member can take over meanwhile. A member that still holds the key in that window (its release was
 * refused or etcd did not answer) releases it again rather than promote.
 *
 * Pure. May import: `src/core/` (types, context, ports' error classes, settings, history reservation).
 *
 * @module
 */
import type { Decision } from "./types.ts";
import { type Cycle, noChange } from "./ha_context.ts";
import { PostgresError } from "./ports.ts";
import { secondsToMs } from "./settings.ts";
import { withdrawnReservation } from "./history_reservation.ts";

/** The pre_promote script exited non-zero (or could not run): this promotion does not happen. */
export class PrePromoteRefusedError extends PostgresError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PrePromoteRefusedError";
  }
}

/** True while the member is inside the ttl that follows its last refused promotion. */
function inBackoff({ obs, mem, ctx }: Cycle): boolean {
  const at = mem.prePromoteFailedAt;
  return at !== undefined && obs.now - at < secondsToMs(ctx.dynamic.ttl);
}

/**
 * The promotion job reports that the pre_promote script refused it (once), or this member still holds the key in
 * the window after such a refusal while Postgres was not promoted: release the leader key.
 */
export function prePromoteRefused(c: Cycle): Decision | null {
  const { obs, mem, holdsLock } = c;
  const job = obs.job;
  if (job?.kind === "promote" && job.status === "failed" && job.prePromoteRefused) {
    const next = { ...mem, prePromoteFailedAt: obs.now };
    const why = `promotion cancelled because the pre_promote script failed (${job.error ?? "non-zero exit"})`;
    if (!holdsLock) return noChange(next, `${why}; the leader key is not mine any more`);
    // `pg_ctl promote` never ran: the timeline number reserved for it goes back (history_reservation.ts).
    const history = withdrawnReservation(c.view, c.ctx.name);
    return noChange(
      { ...next, isLeader: false, primaryDownSince: null },
      `${why}; released the leader key voluntarily`,
      [...(history ? [{ type: "write_history" as const, history }] : []), { type: "release_leader" }],
    );
  }
  if (!holdsLock || !inBackoff(c) || obs.pg.role === "primary") return null;
  return noChange(
    { ...mem, isLeader: false, primaryDownSince: null },
    "releasing the leader key again: the pre_promote script refused the promotion and the key is still mine",
    [{ type: "release_leader" }],
  );
}

/** With no leader, a member whose pre_promote script refused a promotion less than a ttl ago does not race. */
export function prePromoteBackoff(c: Cycle): Decision | null {
  if (c.view.leader || !inBackoff(c)) return null;
  return noChange(
    c.mem,
    "backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily",
  );
}
