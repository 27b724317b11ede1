/**
 * The checkpoint after a promotion, beside the HA loop, as Patroni runs it in a thread of its own. The core asks for
 * it (`checkpoint_after_promote`, src/core/checkpoint_after_promote.ts) every cycle while the primary's pg_control
 * still shows the timeline it was promoted from; this runs CHECKPOINT without waiting for it and without taking the
 * job slot, so the loop keeps renewing, changing synchronous_standby_names, syncing slots, writing status, handing
 * over and demoting meanwhile.
 *
 * - At most one in flight: a request while one runs is skipped (the core asks again next cycle).
 * - Done: the loop is woken, so the member key drops `checkpoint_after_promote: false` at once.
 * - Failed: logged as a warning; the next cycle asks again while pg_control shows the old timeline. A failure after
 *   this agent began stopping Postgres (a demotion, a stop or restart, its shutdown: `stopping`) is what that stop
 *   does to the CHECKPOINT's session, so it is logged at INFO saying so; nothing waits for it.
 *
 * I/O through the `PostgresPort` it is given. May import: `src/core/` only.
 *
 * @module
 */
import type { AgentLog, PostgresPort } from "../core/ports.ts";

/** Runs the CHECKPOINT after a promotion in the background, one at a time. */
export class CheckpointAfterPromote {
  /** Settles (never rejects) when the CHECKPOINT in flight has ended; null when none runs. */
  #inFlight: Promise<void> | null = null;
  /** Why this agent is stopping Postgres under the CHECKPOINT in flight, or null. */
  #stopping: string | null = null;

  constructor(
    private readonly pg: Pick<PostgresPort, "checkpoint">,
    private readonly log: AgentLog,
    private readonly wake: () => void,
  ) {}

  /** A CHECKPOINT runs now. */
  get inFlight(): boolean {
    return this.#inFlight !== null;
  }

  /** Start the CHECKPOINT unless one runs; returns whether it was started. Never waits for it. */
  request(): boolean {
    if (this.#inFlight !== null) return false;
    this.#stopping = null;
    this.log.info?.("CHECKPOINT after promotion started (the loop carries on meanwhile)");
    let run: Promise<void>;
    try {
      run = this.pg.checkpoint();
    } catch (err) {
      run = Promise.reject(err);
    }
    this.#inFlight = run.then(
      () => {
        this.#inFlight = null;
        this.wake(); // the adapter logged how long it took
      },
      (err: unknown) => {
        this.#inFlight = null;
        this.#failed(err);
      },
    );
    return true;
  }

  /** This agent begins stopping Postgres (`why`): the CHECKPOINT in flight, if any, is expected to fail. */
  stopping(why: string): void {
    if (this.#inFlight !== null) this.#stopping = why;
  }

  /** Resolves once no CHECKPOINT is in flight (tests, the simulator); never rejects. */
  async settle(): Promise<void> {
    while (this.#inFlight !== null) await this.#inFlight;
  }

  #failed(err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    if (this.#stopping !== null) {
      this.log.info?.(
        `CHECKPOINT after promotion ended by the stop of postgres (${this.#stopping}); nothing to do`,
        { error },
      );
    } else {
      this.log.warn(
        "CHECKPOINT after promotion did not complete; asked again while pg_control shows the old timeline",
        {
          error,
        },
      );
    }
  }
}
