/**
 * The simulated fencing supervisor of one host and the agent's client of it, speaking the real protocol.
 *
 * `SimSupervisor` is a process of its own beside the agent, as `hactl fence-supervisor` is (in a session of its
 * own: a stop signal to the agent's process group does not reach it). It reads the agent's lines (`arm-until
 * <uptime-ms>`, `disarm`, parsed by the real `parseFenceCommand`) and runs them through the real state machine
 * (`FenceSupervisor` of src/host/fence_supervisor.ts) on the virtual clock, which stands for the host's uptime
 * clock: the deadline is absolute, so a line read late (by a supervisor frozen by SIGSTOP, read at SIGCONT) still
 * means the instant the agent meant, and one already past fires at once. Otherwise it fires at its first look
 * after the deadline (it looks every `SUPERVISOR_TICK_MS`, as cli/fence_supervisor.ts does): it stops Postgres
 * (immediate). It can be missing (it cannot start), dead, or frozen. Its deadline lives in a state file that
 * outlives a restarted agent and a restarted supervisor (a new supervisor adopts it and retires an older one,
 * frozen or not, through the real constructor), not the host.
 *
 * `SimFenceClient` is the agent's side (src/host/fence_client.ts), one per agent process: the `FenceChannel` the
 * agent arms (`arm(ms, from)`: the deadline `from + ms`, sent as `arm-until`) and disarms, whose `unusable()` says,
 * as the real client does, why the supervisor cannot be relied on: not running (missing, dead), or a line
 * unanswered for longer than `FENCE_ACK_TIMEOUT_MS` (frozen; an idle line is pinged every `PING_EVERY_MS`).
 * `whenUnusable(fn)` is told, on the agent process's timers, as soon as the supervisor exits, cannot start, or
 * (within a quarter of a ping interval, the real client's polling) leaves a line unanswered past the timeout: the
 * agent wakes its loop then. A supervisor that exits is started again after the client's backoff (on the agent
 * process's timers: not while it is frozen, never after it died) and told the deadline the agent holds.
 *
 * `requested` is the deadline as the agent meant it (the instant in its last `arm-until`): the agent's own fence
 * timer lies half a margin before it. Invariant (g) compares both with the lease; invariant (e) reads `downSince`.
 * `lines` keeps the last lines sent, for the contract test that holds them to what the real client writes.
 *
 * Imports the `FenceChannel` port, the real client's timing constants and the real supervisor's state machine.
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
import {
  type FenceCommand,
  type FenceState,
  FenceSupervisor,
  parseFenceCommand,
} from "../../src/host/fence_supervisor.ts";

/** How often the real supervisor looks at its deadline (cli/fence_supervisor.ts): it fires at most this late. */
export const SUPERVISOR_TICK_MS = 100;

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

/** What the running supervisor's client hears from it: its exit, and a line it stopped answering. */
interface Listener {
  exited(): void;
  stalled(): void;
}

export class SimSupervisor {
  state: SupervisorState = "running";
  /** The deadline the agent last asked for (its last `arm-until`), or null after `disarm`. */
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
  /** The last lines the agent sent (the protocol, for the contract test). */
  readonly lines: string[] = [];
  #buffer: { cmd: FenceCommand; sentAt: number }[] = [];
  /** The real state machine of the supervisor process that runs (or is frozen) now; null while none does. */
  #machine: FenceSupervisor | null = null;
  /** `<data_dir>.hactl-fence`: survives the processes, not the host. */
  #file: FenceState | null = null;
  #pid = 1000;
  #listener: Listener | null = null;

  constructor(private readonly host: SupervisorHost) {}

  /** The deadline the supervisor holds (its process's, else its state file's), or null. */
  get deadline(): number | null {
    return this.#machine ? this.#machine.deadline : this.#file?.deadlineUptimeMs ?? null;
  }

  /** The agent writes a line. A dead supervisor's pipe takes nothing (the client resends at the restart). */
  send(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 64) this.lines.splice(0, this.lines.length - 32);
    const cmd = parseFenceCommand(line);
    if (cmd === null) {
      throw new Error(`the simulated client sent a line the supervisor does not read: ${line}`);
    }
    if (cmd.kind === "arm-until") this.requested = cmd.uptimeMs;
    else if (cmd.kind === "disarm") this.requested = null;
    if (this.state === "dead") return;
    this.lastSentAt = this.host.now();
    if (this.state === "frozen") {
      this.#buffer.push({ cmd, sentAt: this.host.now() });
      this.#listener?.stalled();
    } else this.#apply(cmd);
  }

  #apply(cmd: FenceCommand): void {
    this.#machine!.apply(cmd);
    this.#watchDeadline();
  }

  /** Fire at once when the deadline has passed (the real one checks right after reading), else at its next look. */
  #watchDeadline(): void {
    const at = this.#machine?.deadline ?? null;
    if (at === null) return;
    if (at <= this.host.now()) void this.#tick();
    else this.host.at(at + SUPERVISOR_TICK_MS, () => this.#tick());
  }

  async #tick(): Promise<void> {
    const machine = this.#machine;
    if (this.state !== "running" || !machine?.due()) return;
    await machine.tick();
  }

  /** The real supervisor's I/O on the simulated host. */
  #io(pid: number) {
    return {
      uptimeMs: () => this.host.now(),
      readState: () => this.#file,
      writeState: (s: FenceState | null) => void (this.#file = s),
      stopPostgres: async () => {
        if (!(await this.host.stopPostgres())) return "postgres was not running";
        this.host.event("fence-supervisor: deadline passed without a renewal; stopped postgres (immediate)");
        return "stopped postgres (immediate)";
      },
      log: () => {},
      alive: (other: number) => other !== pid && this.#machine !== null,
      retire: () => {}, // the older process is replaced below
    };
  }

  /**
   * A client starts a supervisor: unless it cannot start, the new one runs, adopts the deadline its file holds
   * (firing at once when it has passed) and retires an older one (frozen or not). Says whether it runs.
   */
  start(listener: Listener | null): boolean {
    this.#listener = listener;
    const wasDown = this.downSince !== null;
    if (!this.canStart) {
      this.#down("dead", "could not start hactl: No such file or directory");
      return false;
    }
    const pid = ++this.#pid;
    this.#machine = new FenceSupervisor(this.#io(pid), pid);
    this.state = "running";
    this.downSince = null;
    this.why = "";
    this.#buffer = [];
    this.startedAt = this.host.now();
    this.lastSentAt = this.startedAt;
    this.#watchDeadline();
    if (wasDown) this.host.changed();
    return true;
  }

  /** The supervisor process dies (its deadline stays in the state file for a successor); its client notices. */
  kill(): void {
    if (this.state === "dead") return;
    this.#down("dead", "it was killed by SIGKILL");
    this.#buffer = [];
    this.#machine = null;
    const listener = this.#listener;
    this.#listener = null;
    listener?.exited();
  }

  freeze(): void {
    if (this.state !== "running") return;
    this.state = "frozen";
    this.downSince = this.host.now();
    this.#listener?.stalled();
  }

  /** SIGCONT: read what the agent sent meanwhile (absolute deadlines), then look at the deadline. */
  thaw(): void {
    if (this.state !== "frozen") return;
    this.state = "running";
    this.downSince = null;
    for (const { cmd } of this.#buffer.splice(0)) this.#machine!.apply(cmd);
    this.#watchDeadline();
  }

  /** The host went down: the process and its deadline's file are gone with Postgres. */
  hostDown(): void {
    this.#down("dead", "the host went down");
    this.#machine = null;
    this.#file = null;
    this.requested = null;
    this.#buffer = [];
    this.#listener = null;
  }

  #down(state: SupervisorState, why: string): void {
    if (this.downSince === null || this.state !== state) this.downSince = this.host.now();
    this.state = state;
    this.why = why;
  }

  /** When a frozen supervisor's oldest unanswered line (a line sent, or the client's next idle ping) was sent. */
  #oldestUnanswered(): number {
    const ping = Math.max(this.downSince!, this.lastSentAt) + PING_EVERY_MS;
    return Math.min(this.#buffer[0]?.sentAt ?? Infinity, ping);
  }

  /**
   * Why the agent's client finds the supervisor not usable now, or null (src/host/fence_client.ts): not running,
   * or its oldest unanswered line waited longer than the answer timeout.
   */
  problem(): string | null {
    if (this.state === "dead") return this.why;
    if (this.state !== "frozen") return null;
    const waited = this.host.now() - this.#oldestUnanswered();
    return waited > FENCE_ACK_TIMEOUT_MS ? `it has not answered for ${(waited / 1000).toFixed(1)} s` : null;
  }

  /**
   * Whether the client has an answer to every line it sent (the real client's `answered()`): a running supervisor
   * answers at once; a frozen one only while no line (nor the client's idle ping) waits for it; a dead one never.
   */
  answeredAll(): boolean {
    if (this.state === "running") return true;
    return this.state === "frozen" && this.host.now() < this.#oldestUnanswered();
  }

  /**
   * When a frozen supervisor's client finds it not answering (the real client's timer for its oldest unanswered
   * line fires 1 ms past the answer timeout), or null.
   */
  noticedStalledAt(): number | null {
    if (this.state !== "frozen") return null;
    return this.#oldestUnanswered() + FENCE_ACK_TIMEOUT_MS + 1;
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
  #last: string | null = null;
  #onUnusable: ((why: string) => void) | null = null;
  /** The spell (when the supervisor went down) last reported: once per spell, as the real client. */
  #reported: number | null = null;

  constructor(private readonly sup: SimSupervisor, private readonly host: ClientHost) {
    this.#spawn();
  }

  readonly channel: FenceChannel = {
    // The deadline as an instant (the real client converts it to the uptime clock, never later than meant).
    arm: (ms, from) => this.#send(`arm-until ${Math.max(0, Math.floor((from ?? this.host.now()) + ms))}`),
    disarm: () => this.#send("disarm"),
    unusable: () => this.sup.problem(),
    answered: () => this.sup.answeredAll(),
  };

  /** Call `fn` (the agent wakes its loop) as soon as the supervisor becomes not usable. */
  whenUnusable(fn: (why: string) => void): void {
    this.#onUnusable = fn;
  }

  #send(line: string): void {
    this.#last = line;
    this.sup.send(line);
  }

  /** Tell the agent, on its own timers, once per spell. */
  #report(why: string): void {
    const spell = this.sup.downSince ?? this.host.now();
    if (this.#reported === spell) return;
    this.#reported = spell;
    this.host.after(0, () => this.#onUnusable?.(why));
  }

  /** A frozen supervisor: look again when the client would find a line unanswered past the timeout. */
  #stalled(): void {
    const at = this.sup.noticedStalledAt();
    if (at === null) return;
    this.host.after(at - this.host.now(), () => {
      const why = this.sup.problem();
      if (why !== null && this.sup.state === "frozen") this.#report(why);
    });
  }

  #spawn(): void {
    const exited = () => {
      // A supervisor that ran long enough before it exited starts the backoff over.
      if (this.host.now() - this.sup.startedAt >= STABLE_AFTER_MS) this.#attempt = 0;
      this.#gone();
    };
    if (!this.sup.start({ exited, stalled: () => this.#stalled() })) {
      this.#gone();
      return;
    }
    // A supervisor started again takes the deadline the agent holds now (it also adopted its file's).
    if (this.#last !== null) this.sup.send(this.#last);
  }

  /** The supervisor exited or could not start: say so, and start it again after the backoff. */
  #gone(): void {
    this.#reported = null; // every exit is news, even one right after another
    this.#report(this.sup.why);
    const delay = RESTART_BACKOFF_MS[Math.min(this.#attempt, RESTART_BACKOFF_MS.length - 1)]!;
    this.#attempt++;
    this.host.after(delay, () => this.#spawn());
  }
}
