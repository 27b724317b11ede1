/**
 * The early isolation monitor, beside the loop: after every status refresh it feeds the primary's replication
 * sample to the core's bookkeeping, asks the core (`src/core/isolation.ts`) whether this primary has heard from
 * neither etcd nor any replica for `isolation_fence_timeout`, and carries the verdict out. It also keeps the record
 * of etcd's answers that the verdict is measured against.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import { isolationVerdict, ReplicaConfirmations, shouldProbe } from "../core/isolation.ts";
import { isolationInput, replicationSample } from "../core/isolation_input.ts";
import type { ClusterView, DynamicSettings, PgObservation } from "../core/types.ts";
import type { AgentDeps } from "./deps.ts";

/** The replica confirmations and etcd's answers, and the isolation fence that acts on them. */
export class IsolationMonitor {
  #confirmations = new ReplicaConfirmations();
  /** The last etcd success (monotonic ms), or null. */
  #dcsLastSuccess: number | null = null;
  /** When the oldest etcd call since the last success started (null: none unanswered). */
  #dcsUnansweredSince: number | null = null;
  #fencing = false;
  /** Failsafe mode: the start of the last round every member accepted (monotonic ms), or null. */
  #failsafeConfirmedAt: number | null = null;

  constructor(private readonly deps: AgentDeps, private readonly wake: () => void) {}

  /** An etcd call of the loop starts at `at` (the oldest unanswered one counts). */
  callStarted(at: number): void {
    this.#dcsUnansweredSince ??= at;
  }

  /** An etcd call of the loop was answered (a failed one leaves the unanswered time running). */
  answered(): void {
    this.#dcsUnansweredSince = null;
    this.#dcsLastSuccess = this.deps.clock.now();
  }

  /** Failsafe mode: every member of the `failsafe` key accepted the round that started at `since`. */
  failsafeConfirmed(since: number): void {
    this.#failsafeConfirmedAt = since;
  }

  /**
   * The early isolation fence, checked after every status refresh (about once a second, beside the loop): a
   * primary that has heard from neither etcd nor any replica for `isolation_fence_timeout` stops Postgres
   * (immediate) at once, bounding the writes a failover elsewhere would discard; when the replicas have gone quiet,
   * it runs a cycle now, so etcd's silence is measured without waiting out loop_wait. After the fence, the ordinary
   * rules restart Postgres (as primary if the lock is still ours, else as a replica) once etcd answers again.
   */
  async check(pg: PgObservation, view: ClusterView | null, dynamic: DynamicSettings): Promise<void> {
    const { clock, log } = this.deps;
    const sample = replicationSample(pg, clock.now());
    if (sample) this.#confirmations.observe(sample);
    else this.#confirmations.reset();
    const input = isolationInput({
      now: clock.now(),
      me: this.deps.name,
      dynamic,
      pg,
      view,
      unconfirmedSince: this.#confirmations.unconfirmedSince,
      dcsLastSuccess: this.#dcsLastSuccess,
      dcsUnansweredSince: this.#dcsUnansweredSince,
      failsafeConfirmedAt: this.#failsafeConfirmedAt,
    });
    const why = isolationVerdict(input);
    if (why === null) {
      if (shouldProbe(input)) this.wake();
      return;
    }
    if (this.#fencing) return;
    this.#fencing = true;
    log.error(`isolation fence: ${why}; stopping postgres (immediate)`);
    try {
      await this.deps.pg.stop("immediate", undefined, { emergency: true });
      this.#confirmations.reset();
    } catch (err) {
      log.error("the isolation fence could not stop postgres", { error: String(err) });
    } finally {
      this.#fencing = false;
    }
    this.wake();
  }
}
