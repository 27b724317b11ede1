/**
 * The fencing supervisor: a small process beside the agent (`hactl fence-supervisor`, started by `hactl agent`)
 * that holds the primary's fence deadline outside the agent's event loop. The agent sends `arm-until <uptime-ms>`
 * after each successful lease renewal and `disarm` when Postgres cannot accept writes (or in pause), and `ping`
 * when it has nothing else to say; every line is acknowledged on stdout (`ok <command> <deadline>`), after a first
 * `ready <pid>` line, so the agent knows its supervisor runs and holds the deadline it sent.
 *
 * The deadline is absolute, on the host's uptime clock (`/proc/uptime`), which every process reads alike and
 * which does not jump with the wall clock: a line that waited in the pipe while the supervisor was stopped
 * (SIGSTOP, then SIGCONT) still means the instant the agent meant, and one whose deadline has already passed fires
 * at once. (A relative `arm <ms>`, still understood, counts from when it is read: only for a hand-run supervisor.)
 * When the deadline passes without a newer one — the agent is frozen (SIGSTOP), stuck, or was killed while Postgres runs — the supervisor
 * stops Postgres at once (SIGQUIT to the postmaster: immediate shutdown; SIGKILL when it does not go), strictly
 * before the lease can expire.
 *
 * The deadline also lives in `<data_dir>.hactl-fence` on the system-wide monotonic clock (`/proc/uptime`), so a
 * restarted agent's new supervisor adopts a running deadline (and retires the old supervisor) instead of losing it:
 * when the agent and its supervisor are both killed while Postgres runs as primary, the next agent's supervisor
 * still stops Postgres at the old deadline, even if that agent freezes before it arms. A deadline that cannot be
 * written there would be lost in that case, so the supervisor holds it (and fires at it) but acknowledges it as
 * `ok <command> <deadline> unpersisted <why>`, and the agent does not lead on it (`./fence_client.ts`); each `ping`
 * writes the file again until it can. With no deadline held, a file that cannot be written loses nothing (the
 * directory's parent may not exist before the first initdb).
 *
 * This module holds the logic with its I/O passed in (a clock, the state file, the postmaster stop), so it is
 * tested without processes; `cli/fence_supervisor.ts` wires it to stdin and the real data directory.
 *
 * @module
 */

/** What the supervisor needs from the world. */
export interface FenceIo {
  /** Milliseconds on a clock shared by every process on the host (`/proc/uptime`). */
  uptimeMs(): number;
  readState(): FenceState | null;
  /** Write the state file; returns why it could not (a message naming the file), else nothing. */
  writeState(state: FenceState | null): string | null | void;
  /** Stop the postmaster now (immediate); returns what happened, for the log. */
  stopPostgres(): Promise<string>;
  log(message: string): void;
  /** Whether a process (an older supervisor) is alive. */
  alive(pid: number): boolean;
  /** Ask an older supervisor to go. */
  retire(pid: number): void;
}

/** The persisted deadline: which supervisor owns it and when (uptime ms) it fires. */
export interface FenceState {
  pid: number;
  deadlineUptimeMs: number | null;
}

/** A parsed line from the agent. */
export type FenceCommand =
  | { kind: "arm-until"; uptimeMs: number }
  | { kind: "arm"; inMs: number }
  | { kind: "disarm" }
  | { kind: "ping" };

/** `arm-until <uptime-ms>`, `arm <ms>`, `disarm` or `ping`; anything else is ignored (null). */
export function parseFenceCommand(line: string): FenceCommand | null {
  const parts = line.trim().split(/\s+/);
  if (parts[0] === "disarm" && parts.length === 1) return { kind: "disarm" };
  if (parts[0] === "ping" && parts.length === 1) return { kind: "ping" };
  if (parts[0] === "arm-until" && parts.length === 2 && /^\d+$/.test(parts[1]!)) {
    return { kind: "arm-until", uptimeMs: Number(parts[1]) };
  }
  if (parts[0] === "arm" && parts.length === 2 && /^\d+$/.test(parts[1]!)) {
    return { kind: "arm", inMs: Number(parts[1]) };
  }
  return null;
}

/** The supervisor's state machine. Call `apply()` for each line and `tick()` at (or after) the deadline. */
export class FenceSupervisor {
  #deadline: number | null = null;
  #fired = false;

  /** Why the state on disk is not the state held (the last write failed), or null. */
  #unpersisted: string | null = null;

  constructor(private readonly io: FenceIo, private readonly pid: number) {
    // Adopt the deadline an older supervisor (of an agent that was restarted) still holds, and retire it.
    const old = io.readState();
    if (old && old.pid !== pid) {
      this.#deadline = old.deadlineUptimeMs;
      if (io.alive(old.pid)) io.retire(old.pid);
      if (this.#deadline !== null) io.log(`adopted the fence deadline of supervisor ${old.pid}`);
    }
    this.#persist();
  }

  get deadline(): number | null {
    return this.#deadline;
  }

  get fired(): boolean {
    return this.#fired;
  }

  /**
   * Carry out one line of the agent and return the acknowledgement written back to it: `ok <command> <deadline>`,
   * the deadline this supervisor now holds (uptime ms, or `none`), followed by `unpersisted <why>` while that state
   * is not in the state file. A `ping` changes nothing but writes the file again when the last write failed: it
   * shows the agent that the supervisor still reads and answers.
   */
  apply(cmd: FenceCommand): string {
    if (cmd.kind !== "ping") {
      this.#deadline = cmd.kind === "arm-until"
        ? cmd.uptimeMs
        : cmd.kind === "arm"
        ? this.io.uptimeMs() + cmd.inMs
        : null;
      this.#fired = false;
      this.#persist();
    } else if (this.#unpersisted !== null) this.#persist();
    const ack = `ok ${cmd.kind} ${this.#deadline ?? "none"}`;
    return this.#unpersisted === null ? ack : `${ack} unpersisted ${this.#unpersisted}`;
  }

  /** The deadline has passed and has not fired yet. */
  due(): boolean {
    return this.#deadline !== null && !this.#fired && this.io.uptimeMs() >= this.#deadline;
  }

  /** Fires once when the deadline has passed; true when it stopped Postgres in this tick. */
  async tick(): Promise<boolean> {
    if (this.#deadline === null || this.#fired || this.io.uptimeMs() < this.#deadline) return false;
    this.#fired = true;
    const overdue = Math.round(this.io.uptimeMs() - this.#deadline);
    const what = await this.io.stopPostgres();
    this.io.log(
      `fence deadline passed ${overdue} ms ago without a lease renewal from the agent; ${what}`,
    );
    this.#deadline = null;
    this.#persist();
    return true;
  }

  /** Write the state; a failure is remembered, and logged once per spell with and without a deadline held. */
  #persist(): void {
    const failed = this.io.writeState({ pid: this.pid, deadlineUptimeMs: this.#deadline }) || null;
    const was = this.#unpersisted;
    this.#unpersisted = failed;
    if (failed === null) {
      if (was !== null) this.io.log("the state file is written again");
      this.#failureLogged = null;
      return;
    }
    const held = this.#deadline === null ? "idle" : "armed";
    if (this.#failureLogged === held) return;
    this.#failureLogged = held;
    this.io.log(
      held === "idle"
        ? `${failed}: no deadline is held yet, so none is lost; until the file can be written, a deadline armed ` +
          "here is acknowledged as not persisted and the agent does not lead on it"
        : `${failed}: a supervisor started after this one could not adopt the deadline; it is still held here, ` +
          "and the agent is told it is not persisted (it does not lead on it)",
    );
  }

  /** Whether a failed write was logged while idle or armed (null: the last write succeeded). */
  #failureLogged: "idle" | "armed" | null = null;
}
