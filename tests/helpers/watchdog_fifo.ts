/**
 * The other end of the testing watchdog driver: a FIFO the test creates and reads, recording what the agent
 * wrote (`Ctimeout=<n>\n` when it set the timeout, `1` per keepalive, `V` on the magic close) with the time each
 * arrived. Like Patroni's acceptance-test harness, it does nothing itself; it says whether the device *would*
 * have fired: open (not magic-closed) and no keepalive for longer than the timeout.
 *
 * @module
 */

export interface WatchdogEvent {
  kind: "timeout" | "ping" | "close" | "eof";
  /** performance.now() when it was read. */
  at: number;
  /** For `timeout`: the seconds set. */
  seconds?: number;
}

export class FifoWatchdog implements AsyncDisposable {
  readonly events: WatchdogEvent[] = [];
  timeout = 60;
  lastPing: number | null = null;
  /** True from a `V` (or a closed writer) until the next write. */
  closed = true;
  #stopping = false;
  #loop: Promise<void>;

  private constructor(readonly path: string) {
    this.#loop = this.#run();
  }

  /** Create the FIFO at `path` (mode 0600) and start reading it. */
  static async create(path: string): Promise<FifoWatchdog> {
    const made = await new Deno.Command("mkfifo", { args: ["-m", "600", path] }).output();
    if (!made.success) throw new Error(`mkfifo ${path}: ${new TextDecoder().decode(made.stderr)}`);
    return new FifoWatchdog(path);
  }

  /** Whether the device would have fired by `now`: open, and the last keepalive older than the timeout. */
  wouldHaveFired(now = performance.now()): boolean {
    return !this.closed && this.lastPing !== null && now - this.lastPing > this.timeout * 1000;
  }

  /** When it fired (last keepalive + timeout), or null while it has not. */
  firedAt(now = performance.now()): number | null {
    return this.wouldHaveFired(now) ? this.lastPing! + this.timeout * 1000 : null;
  }

  count(kind: WatchdogEvent["kind"], after = -Infinity): number {
    return this.events.filter((e) => e.kind === kind && e.at > after).length;
  }

  /** `1V` for a ping and a close, `T7` for a timeout of 7 s: the story so far, for assertion messages. */
  describe(): string {
    return this.events.map((e) =>
      e.kind === "timeout" ? `T${e.seconds}` : e.kind === "ping" ? "1" : e.kind === "close" ? "V" : "|"
    )
      .join("");
  }

  async #run(): Promise<void> {
    const decoder = new TextDecoder();
    while (!this.#stopping) {
      // Opening for reading waits for a writer (the agent activating the watchdog, or close() below).
      let file: Deno.FsFile;
      try {
        file = await Deno.open(this.path, { read: true });
      } catch {
        return;
      }
      let pending = "";
      try {
        const buf = new Uint8Array(256);
        for (;;) {
          const n = await file.read(buf);
          if (n === null) break;
          pending += decoder.decode(buf.subarray(0, n));
          pending = this.#consume(pending);
          if (this.#stopping) return;
        }
      } finally {
        file.close();
      }
      this.events.push({ kind: "eof", at: performance.now() });
      this.closed = true;
    }
  }

  /** Apply every complete command in `text`; return what is left (a partial `C...` line). */
  #consume(text: string): string {
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      const at = performance.now();
      if (c === "C") {
        const end = text.indexOf("\n", i);
        if (end < 0) return text.slice(i);
        const m = /^Ctimeout=(\d+)$/.exec(text.slice(i, end));
        if (m) {
          this.timeout = Number(m[1]);
          this.events.push({ kind: "timeout", at, seconds: this.timeout });
        }
        i = end + 1;
        continue;
      }
      if (c === "1") {
        this.events.push({ kind: "ping", at });
        this.lastPing = at;
        this.closed = false;
      } else if (c === "V") {
        this.events.push({ kind: "close", at });
        this.closed = true;
      } else if (c === "X") {
        this.#stopping = true;
      }
      i++;
    }
    return "";
  }

  /** Stop reading: write the stop byte ourselves so a pending open or read returns, then remove the FIFO. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stopping = true;
    try {
      // Read-write: opening never waits, whether or not the reader is still there.
      const w = await Deno.open(this.path, { read: true, write: true });
      await w.write(new TextEncoder().encode("X"));
      w.close();
    } catch {
      // gone already
    }
    await this.#loop.catch(() => {});
    await Deno.remove(this.path).catch(() => {});
  }
}
