/**
 * The simulated fencing supervisor of one host and the agent's client of it.
 *
 * `SimSupervisor` is a process of its own beside the agent, as `src/host/fence_supervisor.ts` is (in a session of
 * its own: a stop signal to the agent's process group does not reach it). It reads `arm <ms>` / `disarm` from the
 * agent's pipe and sets its deadline to `its now + ms` when it reads the line; when the deadline passes without a
 * newer `arm` it stops Postgres (immediate). It can be missing (it cannot start), dead, or frozen (SIGSTOP): a
 * frozen one reads the lines the agent sent meanwhile only at SIGCONT (so an old `arm` is then measured from
 * SIGCONT) and checks its deadline only then. The deadline outlives a restarted agent and a restarted supervisor
 * (the real one keeps it in `hactl.fence`; a new supervisor adopts it and retires an older one, frozen or not),
 * not the host.
 *
 * `SimFenceClient` is the agent's side (src/host/fence_client.ts), one per agent process: the `FenceChannel` the
 * agent arms and disarms, whose `unusable()` says, as the real client does, why the supervisor cannot be relied
 * on: not running (missing, dead), or a line unanswered for longer than `FENCE_ACK_TIMEOUT_MS` (frozen; an idle
 * line is pinged every `PING_EVERY_MS`). A supervisor that exits is started again after the client's backoff (on
 * the agent process's timers: not while it is frozen, never after it died) and told the deadline the agent holds.
 *
 * `requested` is the deadline as the agent meant it (the time the line was sent + ms): the agent's own fence timer
 * lies half a margin before it. Invariant (g) compares both with the lease; invariant (e)
 * reads `downSince`.
 *
 * Imports the `FenceChannel` port and the client's timing constants only.
 *
 * @module
 */
import type { FenceChannel } from "../../src/core/ports.ts";
import {
  FENCE_ACK_TIMEOUT_MS,
  PING_EVERY_MS,
  RESTART_BACKOFF_MS,
  STABLE_AFTER_MS,
} from "../../src/host/fence_client.ts";

/** What the supervisor needs from the simulator. */
export interface SupervisorHost {
  now(): number;
  /** Run `fn` at virtual time `at`. */
  at(at: number, fn: () => void | Promise<void>): void;
  /** Stop the host's Postgres at once (immediate), if it runs; says whether it did. */
  stopPostgres(): Promise<boolean>;
  event(text: string): void;
  /** The supervisor came back or went down on its own account (a restart by the client): a fault change. */
  changed(): void;
}

export type SupervisorState = "running" | "frozen" | "dead";

type Command = { arm: number; sentAt: number } | { disarm: true; sentAt: number };

export class SimSupervisor {
  state: SupervisorState = "running";
  /** The deadline the supervisor itself holds (virtual ms), or null. */
  deadline: number | null = null;
  /** The deadline the agent last asked for (when it sent `arm` + ms), or null after `disarm`. */
  requested: number | null = null;
  /** Whether a new supervisor can start on this host (false: "supervisor missing"). */
  canStart = true;
  /** Since when it has been down (dead, missing or frozen), or null while it runs. */
  downSince: number | null = null;
  /** Why it is not running (dead, missing), as the client says it. */
  why = "";
  /** When it was (last) started. */
  startedAt = 0;
  /** When the agent last wrote a line to it (the client pings an idle line). */
  lastSentAt = 0;
  #buffer: Command[] = [];
  /** The client of the agent that runs it now: told when the supervisor exits. */
  #onExit: (() => void) | null = null;

  constructor(private readonly host: SupervisorHost) {}

  /** The agent writes `arm <ms>`. A dead supervisor's pipe takes nothing (the client resends at the restart). */
  arm(ms: number): void {
    this.requested = this.host.now() + ms;
    this.#send({ arm: ms, sentAt: this.host.now() });
  }

  disarm(): void {
    this.requested = null;
    this.#send({ disarm: true, sentAt: this.host.now() });
  }

  #send(cmd: Command): void {
    if (this.state === "dead") return;
    this.lastSentAt = cmd.sentAt;
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

  /**
   * A client starts a supervisor: unless it cannot start, the new one runs, adopts the deadline its file holds
   * (firing at once when it has passed) and retires an older one (frozen or not). Says whether it runs.
   */
  start(onExit: (() => void) | null): boolean {
    this.#onExit = onExit;
    const wasDown = this.downSince !== null;
    if (!this.canStart) {
      this.#down("dead", "could not start hactl: No such file or directory");
      return false;
    }
    this.state = "running";
    this.downSince = null;
    this.why = "";
    this.#buffer = [];
    this.startedAt = this.host.now();
    this.lastSentAt = this.startedAt;
    if (this.deadline !== null) {
      const at = this.deadline;
      this.host.at(Math.max(at, this.host.now()), () => this.#tick(at));
    }
    if (wasDown) this.host.changed();
    return true;
  }

  /** The supervisor process dies (its deadline stays in the state file for a successor); its client notices. */
  kill(): void {
    if (this.state === "dead") return;
    this.#down("dead", "it was killed by SIGKILL");
    this.#buffer = [];
    const onExit = this.#onExit;
    this.#onExit = null;
    onExit?.();
  }

  freeze(): void {
    if (this.state !== "running") return;
    this.state = "frozen";
    this.downSince = this.host.now();
  }

  /** SIGCONT: read what the agent sent meanwhile (relative deadlines from now), then check the deadline. */
  thaw(): void {
    if (this.state !== "frozen") return;
    this.state = "running";
    this.downSince = null;
    for (const cmd of this.#buffer.splice(0)) this.#apply(cmd);
    if (this.deadline !== null) void this.#tick(this.deadline);
  }

  /** The host went down: the process and its deadline's file are gone with Postgres. */
  hostDown(): void {
    this.#down("dead", "the host went down");
    this.deadline = null;
    this.requested = null;
    this.#buffer = [];
    this.#onExit = null;
  }

  #down(state: SupervisorState, why: string): void {
    if (this.downSince === null || this.state !== state) this.downSince = this.host.now();
    this.state = state;
    this.why = why;
  }

  /**
   * Why the agent's client finds the supervisor not usable now, or null (src/host/fence_client.ts): not running,
   * or its oldest unanswered line (the first sent while it is frozen, or the client's next idle ping) waited longer
   * than the answer timeout.
   */
  problem(): string | null {
    if (this.state === "dead") return this.why;
    if (this.state !== "frozen") return null;
    const ping = Math.max(this.downSince!, this.lastSentAt) + PING_EVERY_MS;
    const oldest = Math.min(this.#buffer[0]?.sentAt ?? Infinity, ping);
    const waited = this.host.now() - oldest;
    return waited > FENCE_ACK_TIMEOUT_MS ? `it has not answered for ${(waited / 1000).toFixed(1)} s` : null;
  }
}

/** What the client needs of the agent process that runs it. */
export interface ClientHost {
  now(): number;
  /** A timer of the agent process: it dies with the process, and fires only at SIGCONT while it is frozen. */
  after(ms: number, fn: () => void): void;
}

/** The agent's client of its fencing supervisor: starts it, restarts it after an exit, resends the deadline. */
export class SimFenceClient {
  #attempt = 0;
  #last: { arm: number } | "disarm" | null = null;

  constructor(private readonly sup: SimSupervisor, private readonly host: ClientHost) {
    this.#spawn();
  }

  readonly channel: FenceChannel = {
    arm: (ms) => {
      this.#last = { arm: this.host.now() + ms };
      this.sup.arm(ms);
    },
    disarm: () => {
      this.#last = "disarm";
      this.sup.disarm();
    },
    unusable: () => this.sup.problem(),
  };

  #spawn(): void {
    const exited = () => {
      // A supervisor that ran long enough before it exited starts the backoff over.
      if (this.host.now() - this.sup.startedAt >= STABLE_AFTER_MS) this.#attempt = 0;
      this.#gone();
    };
    if (!this.sup.start(exited)) {
      this.#gone();
      return;
    }
    // A supervisor started again takes the deadline the agent holds now (it also adopted its file's).
    const last = this.#last;
    if (last === "disarm") this.sup.disarm();
    else if (last !== null) this.sup.arm(Math.max(0, last.arm - this.host.now()));
  }

  /** The supervisor exited or could not start: start it again after the backoff. */
  #gone(): void {
    const delay = RESTART_BACKOFF_MS[Math.min(this.#attempt, RESTART_BACKOFF_MS.length - 1)]!;
    this.#attempt++;
    this.host.after(delay, () => this.#spawn());
  }
}
