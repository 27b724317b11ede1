/**
 * The job runner: long Postgres operations (bootstrap, clone, rewind, start, stop, restart, a switchover's clean
 * shutdown, a promotion) run one at a time in the background, so the HA loop keeps renewing its lease meanwhile;
 * their state appears in the next observation. The checkpoint after a promotion is no job: it runs beside the loop
 * (checkpoint_runner.ts).
 *
 * I/O through the `PostgresPort` it is given.
 *
 * @module
 */
import type { Clock } from "../core/ports.ts";
import { type PostgresPort, type StopOptions, UpstreamUnavailableError } from "../core/ports.ts";
import type { JobRequest, JobState } from "../core/types.ts";
import { PrePromoteRefusedError } from "../core/pre_promote.ts";

/** Runs one long operation at a time and reports it in the next observation. */
export class JobRunner {
  #state: JobState | null = null;
  /** Settles once the running job's state is final (never rejects). */
  #running: Promise<void> = Promise.resolve();
  /** Why the running job was cancelled (its next step does not run), or null. */
  #cancelled: string | null = null;
  constructor(
    private readonly pg: PostgresPort,
    private readonly clock: Clock,
    private readonly wake: () => void,
    private readonly done: (req: JobRequest, ok: boolean) => void,
    /** Called at a switchover shutdown's safe point (the shell closes the watchdog there). */
    private readonly safepoint: () => void = () => {},
    /** The options of a demotion's stop (`primary_stop_timeout`), read when the job starts. */
    private readonly demotionStop: () => StopOptions = () => ({}),
  ) {}

  get busy(): boolean {
    return this.#state?.status === "running";
  }

  /** The job as it is, without consuming a finished one. */
  peek(): JobState | null {
    return this.#state ? { ...this.#state } : null;
  }

  /** The job as it should appear in an observation; a finished job is reported exactly once. */
  take(): JobState | null {
    const s = this.#state;
    if (s && s.status !== "running") this.#state = null;
    return s ? { ...s } : null;
  }

  /** Report a finished job `take` handed out once more, unless another job started since (a cycle that decided nothing). */
  giveBack(state: JobState): void {
    if (this.#state === null && state.status !== "running") this.#state = { ...state };
  }

  start(req: JobRequest): void {
    if (this.busy) throw new Error(`a job is already running: ${this.#state!.description}`);
    const state: JobState = {
      kind: req.kind,
      description: describeJob(req),
      startedAt: this.clock.now(),
      status: "running",
    };
    this.#state = state;
    this.#cancelled = null;
    // A port that throws instead of rejecting must still end the job (else it reads "running" for good).
    let job: Promise<void>;
    try {
      job = this.run(req);
    } catch (err) {
      job = Promise.reject(err);
    }
    job.then(
      () => {
        state.status = "ok";
        this.done(req, true);
      },
      (err: unknown) => {
        state.status = "failed";
        state.error = err instanceof Error ? err.message : String(err);
        if (err instanceof UpstreamUnavailableError) state.retryable = true;
        if (err instanceof PrePromoteRefusedError) state.prePromoteRefused = true;
        this.done(req, false);
      },
    ).finally(this.wake);
    // Registered after the handlers above, so the state is final when it settles.
    this.#running = job.then(() => {}, () => {});
  }

  /**
   * Cancel the running job: a step it has not begun does not run (a restart whose stop is under way does not start
   * Postgres again), and the job fails with `cancelled: <why>`. Resolves once the job has ended: true when it was
   * one that may have started Postgres meanwhile (start, restart, bootstrap), so the caller stops it again.
   */
  async cancel(why: string): Promise<boolean> {
    const state = this.#state;
    if (state?.status !== "running") return false;
    this.#cancelled = why;
    await this.settle();
    return state.kind === "start" || state.kind === "restart" || state.kind === "bootstrap";
  }

  /** Wait for a running job (used on shutdown and by the simulator); no timer: it awaits the job itself. */
  async settle(): Promise<void> {
    while (this.busy) await this.#running;
  }

  private run(req: JobRequest): Promise<void> {
    switch (req.kind) {
      case "bootstrap":
        return this.pg.bootstrap();
      case "clone":
        return req.fromLeader
          ? this.pg.createReplica(req.upstream, { fromLeader: true })
          : this.pg.createReplica(req.upstream);
      case "rewind":
        return this.pg.rewind(req.upstream);
      case "start":
        return this.pg.start(req.role, req.upstream);
      case "stop":
        return this.pg.stop(req.mode);
      case "restart":
        return this.pg.stop("fast").then(() => {
          if (this.#cancelled !== null) throw new Error(`cancelled: ${this.#cancelled}`);
          return this.pg.start(req.role, req.upstream);
        });
      case "demote":
        return this.pg.stop(
          "fast",
          this.safepoint,
          req.archiveCheckpoint ? { archiveShutdownCheckpoint: true } : this.demotionStop(),
        );
      case "promote":
        return this.pg.promote(req.history);
    }
  }
}

function describeJob(req: JobRequest): string {
  switch (req.kind) {
    case "bootstrap":
      return "bootstrap";
    case "clone":
      return req.upstream ? `bootstrap from leader '${req.upstream.name}'` : "bootstrap (without leader)";
    case "rewind":
      return `running pg_rewind from '${req.upstream.name}'`;
    case "start":
      return req.role === "primary" ? "starting primary after failure" : "starting as a secondary";
    case "stop":
      return `stopping postgres (${req.mode})`;
    case "restart":
      return "restart";
    case "demote":
      return "switchover: demoting myself";
    case "promote":
      return "promoting postgres";
  }
}
