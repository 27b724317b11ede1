/**
 * Feedback while a command waits for the cluster (`switchover --wait`, `failover --wait`): poll a condition until
 * it holds or a deadline passes, showing what it sees. On a terminal one status line is rewritten in place with
 * the seconds waited (a new line when the state changes); otherwise (a pipe, a log) one timestamped line per state
 * change, so a script's log shows each step once.
 *
 * Imports nothing from src; the clock, the sleep and the output are the caller's.
 *
 * @module
 */

/** What waiting needs from the world. */
export interface WaitDeps {
  sleep(ms: number): Promise<void>;
  now(): Date;
  out(text: string): void;
  /** Whether stdout is a terminal (then the status line is rewritten in place). */
  isTerminal(): boolean;
}

/** One look at the cluster: whether the wait is over, and a short description of what was seen. */
export interface WaitObservation {
  done: boolean;
  state: string;
}

/** How a wait ended: `ok` when the condition held in time; `last` is the last state seen. */
export interface WaitResult {
  ok: boolean;
  last: string;
  waitedMs: number;
}

function clock(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Poll `observe` every `intervalMs` until it reports `done` or `timeoutMs` has passed since the start; an
 * observation that throws counts as the state `error: <message>` (a member or etcd may be away for a moment
 * during a switchover) and the wait goes on.
 */
export async function waitWithProgress(
  deps: WaitDeps,
  timeoutMs: number,
  intervalMs: number,
  observe: () => Promise<WaitObservation>,
): Promise<WaitResult> {
  const started = deps.now().getTime();
  const tty = deps.isTerminal();
  let last = "";
  let lineOpen = false;
  for (;;) {
    let seen: WaitObservation;
    try {
      seen = await observe();
    } catch (err) {
      seen = { done: false, state: `error: ${err instanceof Error ? err.message : String(err)}` };
    }
    const now = deps.now();
    const waitedMs = now.getTime() - started;
    if (tty) {
      if (seen.state !== last && lineOpen) deps.out("\n");
      deps.out(`\r\x1b[2K${clock(now)} ${seen.state} (${Math.round(waitedMs / 1000)} s)`);
      lineOpen = true;
    } else if (seen.state !== last) deps.out(`${clock(now)} ${seen.state}\n`);
    last = seen.state;
    if (seen.done || waitedMs >= timeoutMs) {
      if (lineOpen) deps.out("\n");
      return { ok: seen.done, last, waitedMs };
    }
    await deps.sleep(Math.min(intervalMs, Math.max(0, timeoutMs - waitedMs)));
  }
}
