/**
 * The simulated fencing supervisor of one host: a process of its own beside the agent, as
 * `src/host/fence_supervisor.ts` is. It reads `arm <ms>` / `disarm` from the agent's pipe and sets its deadline to
 * `its now + ms` when it reads the line; when the deadline passes without a newer `arm` it stops Postgres
 * (immediate). It can be missing (it could not start), dead, or frozen (SIGSTOP): a frozen one reads the lines the
 * agent sent meanwhile only at SIGCONT (so an old `arm` is then measured from SIGCONT) and checks its deadline
 * only then. The deadline outlives a restarted agent (the real one keeps it in `hactl.fence` and a new supervisor
 * adopts it), not the host.
 *
 * `requested` is the deadline as the agent meant it (the time the line was sent + ms): the agent's own fence timer
 * lies half a margin before it. The invariant `fenceBeforeLeaseExpiry` compares both with the lease.
 *
 * Imports nothing of hactl.
 *
 * @module
 */

/** What the supervisor needs from the simulator. */
export interface SupervisorHost {
  now(): number;
  /** Run `fn` at virtual time `at`. */
  at(at: number, fn: () => void | Promise<void>): void;
  /** Stop the host's Postgres at once (immediate), if it runs; says whether it did. */
  stopPostgres(): Promise<boolean>;
  event(text: string): void;
}

export type SupervisorState = "running" | "frozen" | "dead";

type Command = { arm: number } | { disarm: true };

export class SimSupervisor {
  state: SupervisorState = "running";
  /** The deadline the supervisor itself holds (virtual ms), or null. */
  deadline: number | null = null;
  /** The deadline the agent last asked for (when it sent `arm` + ms), or null after `disarm`. */
  requested: number | null = null;
  /** Whether a new supervisor can start on this host (false: "supervisor missing"). */
  canStart = true;
  #buffer: Command[] = [];

  constructor(private readonly host: SupervisorHost) {}

  /** The agent writes `arm <ms>`. A dead supervisor's pipe takes it silently (as the real client does). */
  arm(ms: number): void {
    this.requested = this.host.now() + ms;
    this.#send({ arm: ms });
  }

  disarm(): void {
    this.requested = null;
    this.#send({ disarm: true });
  }

  #send(cmd: Command): void {
    if (this.state === "dead") return;
    if (this.state === "frozen") this.#buffer.push(cmd);
    else this.#apply(cmd);
  }

  #apply(cmd: Command): void {
    if ("disarm" in cmd) {
      this.deadline = null;
      return;
    }
    const at = this.host.now() + cmd.arm;
    this.deadline = at;
    this.host.at(at, () => this.#tick(at));
  }

  async #tick(at: number): Promise<void> {
    if (this.state !== "running" || this.deadline !== at || this.host.now() < at) return;
    this.deadline = null;
    if (await this.host.stopPostgres()) {
      this.host.event("fence-supervisor: deadline passed without a renewal; stopped postgres (immediate)");
    }
  }

  /** A new agent starts its supervisor: it adopts the deadline an older one left, unless it cannot start. */
  start(): void {
    if (this.state === "frozen") return; // the old one is still there, stopped; the new one would retire it
    this.state = this.canStart ? "running" : "dead";
    if (this.state === "running" && this.deadline !== null) {
      this.host.at(this.deadline, () => this.#tick(this.deadline!));
    }
  }

  /** The supervisor process dies (its deadline stays in the state file for a successor). */
  kill(): void {
    this.state = "dead";
    this.#buffer = [];
  }

  freeze(): void {
    if (this.state === "running") this.state = "frozen";
  }

  /** SIGCONT: read what the agent sent meanwhile (relative deadlines from now), then check the deadline. */
  thaw(): void {
    if (this.state !== "frozen") return;
    this.state = "running";
    for (const cmd of this.#buffer.splice(0)) this.#apply(cmd);
    if (this.deadline !== null) void this.#tick(this.deadline);
  }

  /** The host went down: the process and its deadline's file are gone with Postgres. */
  hostDown(): void {
    this.state = "dead";
    this.deadline = null;
    this.requested = null;
    this.#buffer = [];
  }
}
