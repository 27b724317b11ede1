/**
 * The agent's side of the fencing supervisor: starts `hactl fence-supervisor --data-dir <dir>` (the same program:
 * the compiled binary itself, or under `deno run` the same repository's supervisor module with the same Deno,
 * whatever the executable is called: `supervisorInvocation`) in a session and process group of its own, so a stop signal to the agent's group or session (Ctrl-Z,
 * `kill -STOP -PGID`) does not stop it. It gives the HA loop a `FenceChannel` that writes `arm-until <uptime-ms>` /
 * `disarm` / `ping` lines to the supervisor's stdin and reads the acknowledgements on its stdout, and says when the
 * supervisor is not usable: not running, or a line unanswered for `FENCE_ACK_TIMEOUT_MS` (frozen, stuck). A
 * supervisor that exits is started again with a backoff, and told the deadline the agent holds. The supervisor's
 * own logic is `./fence_supervisor.ts`.
 *
 * May import: `src/core/` (the `FenceChannel` port).
 *
 * @module
 */
import type { FenceChannel } from "../core/ports.ts";

/** A line the supervisor has not answered for this long makes it count as not running (frozen, or stuck). */
export const FENCE_ACK_TIMEOUT_MS = 2000;
/** An idle line is pinged this often, so a supervisor that froze while disarmed is noticed too. */
export const PING_EVERY_MS = 1000;
/** Delays before each attempt to start a supervisor that exited (the last one repeats). */
export const RESTART_BACKOFF_MS = [0, 1000, 2000, 5000, 10_000, 30_000];
/** How long `close()` waits for the supervisor to exit. */
const CLOSE_WAIT_MS = 10_000;
/** A supervisor that ran this long before it exited starts the backoff over. */
export const STABLE_AFTER_MS = 60_000;

/** Where the client logs (the agent's logger). */
export interface FenceClientLog {
  info(message: string): void;
  error(message: string): void;
}

/** What `GET /patroni` and `/metrics` report of the supervisor. */
export interface FenceSupervisorStatus {
  /** `running`, `starting`, `not running`, `not answering`, `not persisting` (its deadline is not on disk). */
  state: "running" | "starting" | "not running" | "not answering" | "not persisting";
  pid: number | null;
  /** How many times it was started again after it exited. */
  restarts: number;
  /** Why it is not usable, or null. */
  problem: string | null;
  /** Lines (and the start's `ready`) not answered yet. */
  unanswered: number;
}

/** A started fencing supervisor: the line the agent arms and disarms it through, and a way to let it go. */
export interface FenceSupervisorClient {
  channel: FenceChannel;
  /** Resolves true once the supervisor said it is ready, false after `ms` without it. */
  ready(ms: number): Promise<boolean>;
  status(): FenceSupervisorStatus;
  /**
   * Call `fn` (the agent wakes its loop) as soon as the supervisor becomes not usable: it exited, could not start,
   * or left a line unanswered past the timeout. A leader then gives the key up at once rather than at its next
   * cycle, up to `loop_wait` later, while nothing outside the agent would stop Postgres.
   */
  whenUnusable(fn: (why: string) => void): void;
  /** Close the supervisor's stdin (it disarms and exits) and wait for it to end; no restart after this. */
  close(): Promise<void>;
}

/** What `startFenceSupervisor` is given. */
export interface FenceSupervisorOptions {
  dataDir: string;
  log: FenceClientLog;
  /**
   * The program (and its first arguments) to run instead of this program's own `fence-supervisor`, from
   * `HACTL_FENCE_SUPERVISOR_CMD` (split on spaces); `fence-supervisor --data-dir DIR` is appended.
   */
  command?: string[];
  /** Monotonic ms, the agent's clock (`performance.now()`; tests). */
  now?: () => number;
  /** Milliseconds on the host's uptime clock (`/proc/uptime`; tests). */
  uptimeMs?: () => number;
  /** The timers the client sleeps on (tests count and fire them); default: unref'd `setTimeout`. */
  timers?: FenceClientTimers;
}

/** One-shot timers: `set` runs `fn` once after `ms`, `clear` cancels it. */
export interface FenceClientTimers {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

const realTimers: FenceClientTimers = {
  set(fn, ms) {
    const id = setTimeout(fn, ms);
    Deno.unrefTimer(id);
    return id;
  },
  clear: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/**
 * The host's uptime clock in ms, truncated to its 10 ms resolution. The supervisor's deadlines live on this clock
 * rather than on CLOCK_MONOTONIC through the libc FFI: every process reads the same value from a plain file (no
 * `--allow-ffi`, the same under `deno run` and in the compiled binary), it does not jump with the wall clock
 * (it is CLOCK_BOOTTIME), and the supervisor's state file already keeps its deadline on it.
 */
export function hostUptimeMs(): number {
  return Math.floor(Number(Deno.readTextFileSync("/proc/uptime").split(/\s+/)[0]) * 100) * 10;
}

/**
 * The command line that starts the fencing supervisor, up to its `--data-dir DIR`. The compiled binary runs itself
 * as `hactl fence-supervisor` (main.ts imports the command's module only when it runs, and the binary embeds
 * modules already compiled). Under `deno run`, Deno runs the supervisor's own module with no deno.json: started as
 * `deno run main.ts`, Deno would first read and analyse every module main.ts can import (the agent's whole graph,
 * some 180 files, and the project's npm lockfile) before the supervisor ran, about 6 MB resident for nothing
 * (`scripts/bench/memory_breakdown.sh`). The supervisor imports only modules of this repository by relative path,
 * so it needs no configuration. Both command lines name `fence-supervisor`, which is how a supervisor recognises
 * another one (and the bench finds it).
 */
export function supervisorInvocation(): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), "fence-supervisor"];
  const path = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    "--allow-all",
    "--no-config",
    path("../../cli/fence_supervisor.ts"),
    "fence-supervisor",
  ];
}

/** `HACTL_FENCE_SUPERVISOR_CMD` split into a command line, or undefined when unset or blank. */
export function supervisorCommandFromEnv(env: Record<string, string | undefined>): string[] | undefined {
  const parts = (env["HACTL_FENCE_SUPERVISOR_CMD"] ?? "").trim().split(/\s+/).filter((p) => p !== "");
  return parts.length > 0 ? parts : undefined;
}

/** Start the fencing supervisor for this data directory; the client keeps it running until `close()`. */
export function startFenceSupervisor(o: FenceSupervisorOptions): FenceSupervisorClient {
  return new SupervisorProcess(o);
}

/** The last deadline sent: `at` on the uptime clock. */
type LastCommand = { kind: "arm"; at: number } | { kind: "disarm" } | null;

class SupervisorProcess implements FenceSupervisorClient {
  readonly #argv: string[];
  readonly #now: () => number;
  readonly #uptime: () => number;
  #child: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  /** When each line not yet answered was sent; the start itself waits for `ready`. */
  #pending: number[] = [];
  #ready = false;
  #startedAt = 0;
  #lastSentAt = 0;
  /** Why the supervisor's deadline is not on disk (see `#notePersisted`), or null. Kept across restarts. */
  #persistProblem: string | null = null;
  /** Why no supervisor runs now, or null while one does. */
  #down: string | null = null;
  /** The last deadline the agent asked for, resent to a supervisor started again. */
  #last: LastCommand = null;
  #attempt = 0;
  #restarts = 0;
  #closing = false;
  #restartTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #timers: FenceClientTimers;
  /** Fires when the oldest unanswered line reaches `FENCE_ACK_TIMEOUT_MS`; none while every line is answered. */
  #ackTimer: unknown = null;
  /** Fires `PING_EVERY_MS` after the last line sent, once every line is answered. */
  #pingTimer: unknown = null;
  #waiters: (() => void)[] = [];
  #onUnusable: ((why: string) => void) | null = null;
  /** The problem last reported to `#onUnusable`, or null once usable again. */
  #reported: string | null = null;
  readonly #enc = new TextEncoder();

  constructor(private readonly o: FenceSupervisorOptions) {
    this.#argv = [
      ...(o.command ? [...o.command, "fence-supervisor"] : supervisorInvocation()),
      "--data-dir",
      o.dataDir,
    ];
    this.#now = o.now ?? (() => performance.now());
    this.#uptime = o.uptimeMs ?? hostUptimeMs;
    this.#timers = o.timers ?? realTimers;
    this.#spawn();
  }

  /**
   * Sleep until the oldest unanswered line has waited past `FENCE_ACK_TIMEOUT_MS` (then the agent is told at once),
   * or not at all while every line is answered: an idle client wakes only to ping. Re-armed whenever the oldest
   * unanswered line changes (a line sent, an answer, a start, an exit).
   */
  #armAckTimer(): void {
    if (this.#ackTimer !== null) this.#timers.clear(this.#ackTimer);
    this.#ackTimer = null;
    const oldest = this.#pending[0];
    if (oldest === undefined || this.#closing) return;
    const waited = this.#now() - oldest;
    if (waited > FENCE_ACK_TIMEOUT_MS) return; // already past: reported when it was found so
    this.#ackTimer = this.#timers.set(() => {
      this.#ackTimer = null;
      this.#report(this.#problem());
      this.#armAckTimer(); // a timer that fired early (coarse clocks) sleeps again for the rest
    }, Math.floor(FENCE_ACK_TIMEOUT_MS - waited) + 1);
  }

  /** Once every line is answered: ping `PING_EVERY_MS` after the last line sent (a frozen supervisor is noticed). */
  #armPingTimer(): void {
    if (this.#pingTimer !== null) this.#timers.clear(this.#pingTimer);
    this.#pingTimer = null;
    if (!this.#ready || this.#pending.length > 0 || this.#closing || this.#writer === null) return;
    const due = Math.max(0, Math.ceil(this.#lastSentAt + PING_EVERY_MS - this.#now()));
    this.#pingTimer = this.#timers.set(() => {
      this.#pingTimer = null;
      if (this.#ready && this.#pending.length === 0) this.#send("ping");
    }, due);
  }

  readonly channel: FenceChannel = {
    arm: (ms, from) => {
      this.#last = { kind: "arm", at: this.#toUptime((from ?? this.#now()) + ms) };
      this.#send(`arm-until ${this.#last.at}`);
    },
    disarm: () => {
      this.#last = { kind: "disarm" };
      this.#send("disarm");
    },
    unusable: () => this.#problem(),
    answered: () => this.#child !== null && this.#ready && this.#pending.length === 0,
  };

  whenUnusable(fn: (why: string) => void): void {
    this.#onUnusable = fn;
  }

  /** Tell the agent when the supervisor has just become not usable (once per spell). */
  #report(problem: string | null): void {
    if (problem === null || this.#closing) {
      this.#reported = null;
      return;
    }
    if (this.#reported !== null) return;
    this.#reported = problem;
    this.#onUnusable?.(problem);
  }

  ready(ms: number): Promise<boolean> {
    if (this.#ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.#ready), ms);
      this.#waiters.push(() => (clearTimeout(timer), resolve(true)));
    });
  }

  status(): FenceSupervisorStatus {
    const problem = this.#problem();
    const state = this.#down !== null
      ? "not running"
      : problem !== null && problem === this.#persistProblem
      ? "not persisting"
      : problem !== null
      ? "not answering"
      : this.#ready
      ? "running"
      : "starting";
    return {
      state,
      pid: this.#child?.pid ?? null,
      restarts: this.#restarts,
      problem,
      unanswered: this.#pending.length,
    };
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#armAckTimer();
    this.#armPingTimer();
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    const child = this.#child;
    await this.#writer?.close().catch(() => {});
    if (!child) return;
    // A disarmed supervisor exits at once; an armed one keeps guarding its deadline in its own session after the
    // agent is gone (as does a frozen one): the agent does not wait for it longer than this.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gone = await Promise.race([
      child.status.then(() => true, () => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!gone) {
      await this.#reader?.cancel().catch(() => {});
      child.unref();
    }
  }

  /**
   * A deadline on the agent's monotonic clock, on the uptime clock. The two clocks' offset is read uptime first,
   * so a pause between the two readings (and the uptime clock's 10 ms truncation) can only make it smaller: the
   * deadline sent is never later than the one meant.
   */
  #toUptime(monotonicMs: number): number {
    const uptime = this.#uptime();
    const offset = uptime - this.#now();
    return Math.max(0, Math.floor(monotonicMs + offset));
  }

  /** Null while a supervisor runs and has answered every line within the timeout; else why it is not usable. */
  #problem(): string | null {
    if (this.#down !== null) return this.#down;
    const oldest = this.#pending[0];
    if (oldest === undefined) return this.#persistProblem;
    const waited = this.#now() - oldest;
    if (waited <= FENCE_ACK_TIMEOUT_MS) return this.#persistProblem;
    const s = (waited / 1000).toFixed(1);
    return this.#ready
      ? `it has not answered for ${s} s`
      : `it has not said it is ready ${s} s after its start`;
  }

  #send(line: string): void {
    const writer = this.#writer;
    if (!writer) return; // not running: the deadline is sent again when it is back
    const now = this.#now();
    this.#pending.push(now);
    this.#lastSentAt = now;
    if (this.#pending.length === 1) this.#armAckTimer();
    this.#armPingTimer(); // none while a line waits: the answer arms it
    writer.write(this.#enc.encode(line + "\n")).catch(() => {/* its exit is reported by #spawn's watcher */});
  }

  #spawn(): void {
    this.#restartTimer = null;
    if (this.#closing) return;
    const [cmd, ...args] = this.#argv;
    let child: Deno.ChildProcess;
    try {
      // detached: the child calls setsid(), a session and process group of its own.
      child = new Deno.Command(cmd!, {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
        detached: true,
      })
        .spawn();
    } catch (err) {
      this.#gone(`could not start ${cmd}: ${err instanceof Error ? err.message : err}`);
      return;
    }
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#down = null;
    this.#ready = false;
    this.#startedAt = this.#now();
    this.#pending = [this.#startedAt];
    this.#lastSentAt = this.#startedAt;
    this.#armAckTimer();
    void this.#readAnswers(child);
    child.status.then((s) => {
      if (this.#child !== child) return;
      this.#child = null;
      this.#writer = null;
      this.#ready = false;
      this.#pending = [];
      this.#armAckTimer();
      this.#armPingTimer();
      if (this.#closing) return;
      if (this.#now() - this.#startedAt >= STABLE_AFTER_MS) this.#attempt = 0;
      this.#gone(s.signal ? `it was killed by ${s.signal}` : `it exited with code ${s.code}`);
    });
    // A supervisor started again takes the deadline the agent holds now (it also adopts its file's).
    const last = this.#last;
    if (last?.kind === "arm") this.#send(`arm-until ${last.at}`);
    else if (last?.kind === "disarm") this.#send("disarm");
  }

  /** No supervisor runs: say why, and start one again after the backoff. */
  #gone(why: string): void {
    this.#down = why;
    this.#reported = null; // every exit is news, even one right after another
    this.#report(why);
    const delay = RESTART_BACKOFF_MS[Math.min(this.#attempt, RESTART_BACKOFF_MS.length - 1)]!;
    this.#attempt++;
    this.o.log.error(
      `the fencing supervisor is not running (${why}); starting it again in ${delay / 1000} s ` +
        "(until it answers, this member does not take or keep the leader key)",
    );
    const timer = setTimeout(() => {
      this.#restarts++;
      this.#spawn();
    }, delay);
    Deno.unrefTimer(timer);
    this.#restartTimer = timer;
  }

  async #readAnswers(child: Deno.ChildProcess): Promise<void> {
    const dec = new TextDecoder();
    const reader = child.stdout.getReader();
    this.#reader = reader;
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          if (this.#child === child) this.#answer(buf.slice(0, nl).trim());
          buf = buf.slice(nl + 1);
        }
      }
    } catch { /* the pipe closed with the process: its exit is reported */ }
  }

  /**
   * From an acknowledgement `ok <command> <deadline> [unpersisted <why>]`: a deadline held but not written to the
   * supervisor's state file makes the supervisor not usable (a supervisor started after it, when the agent and it
   * were killed, could not adopt that deadline, and nothing would stop Postgres if the new agent froze); a plain
   * acknowledgement (the file written) makes it usable again. An unpersisted acknowledgement without a deadline
   * changes nothing: it loses no deadline, and proves nothing about the next arm.
   */
  #notePersisted(line: string): void {
    const m = /^ok \S+ (\S+)(?: unpersisted (.*))?$/.exec(line);
    if (!m) return;
    if (m[2] === undefined) this.#persistProblem = null;
    else if (m[1] !== "none") this.#persistProblem = `it cannot keep its deadline on disk (${m[2]})`;
  }

  #answer(line: string): void {
    this.#answerLine(line);
    this.#armAckTimer();
    this.#armPingTimer();
    this.#report(this.#problem());
  }

  #answerLine(line: string): void {
    if (line.startsWith("ready ")) {
      this.#ready = true;
      this.#pending.shift();
      if (this.#restarts > 0 || this.#attempt > 0) this.o.log.info(`the fencing supervisor is running again`);
      for (const w of this.#waiters.splice(0)) w();
    } else if (line.startsWith("ok ")) {
      this.#pending.shift();
      this.#notePersisted(line);
    } else if (line === "fired") {
      this.o.log.error("the fencing supervisor's deadline passed: it stopped postgres");
    }
  }
}
