/**
 * The etcd endpoints of one adapter: one `npm:etcd3` client per endpoint, the endpoint calls currently go to, and
 * the deadline of every call. The `retry_timeout` budget is split across the endpoints, as Patroni does, and a call
 * moves on to the next endpoint when one fails it; every failure becomes a `DcsError` with the original error as
 * `cause`. Closing marks the endpoints closed (every later call fails at once) and closes the clients.
 *
 * May import: `etcd3`, `src/core/` (ports).
 *
 * @module
 */
import { type Etcd3, isRecoverableError } from "etcd3";
import { DcsError } from "../core/ports.ts";
import { secondsToMs } from "../core/settings.ts";

/** The options every etcd call of the adapter passes to `npm:etcd3`: the gRPC deadline of its attempt. */
export type CallOpts = { deadline: Date };

/** `Name: message` of an error, or the thrown value as text. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** One client per endpoint; calls go to the current one and move on to the next endpoint when it fails them. */
export class EtcdEndpoints {
  readonly #clients: Etcd3[];
  #current = 0;
  #timeoutMs: number;
  #closed = false;
  readonly #onFailure: () => void;
  /** The highest revision in the header of any answer etcd gave these endpoints (src/core/watch_view.ts). */
  highestRevision: string | null = null;
  /** Told of every call's duration (seconds, retries included) and outcome: the latency metrics. */
  onCallDone: ((what: string, seconds: number, ok: boolean) => void) | null = null;

  /** `onFailure` runs after any failed call, before its error is thrown (the adapter's caches may lie then). */
  constructor(clients: Etcd3[], retryTimeout: number, onFailure: () => void) {
    this.#clients = clients;
    if (this.#clients.length === 0) throw new DcsError("etcd3.hosts: no endpoint given");
    this.#timeoutMs = secondsToMs(Math.max(1, retryTimeout));
    this.#onFailure = onFailure;
  }

  /** The client of the endpoint calls currently go to. */
  get client(): Etcd3 {
    return this.#clients[this.#current]!;
  }

  /** Whether `markClosed` was called: every call fails at once. */
  get closed(): boolean {
    return this.#closed;
  }

  setRetryTimeout(seconds: number): void {
    this.#timeoutMs = secondsToMs(Math.max(1, seconds));
  }

  /**
   * Run one etcd operation under the deadline; every failure becomes a `DcsError`.
   *
   * The `retry_timeout` budget is split across the endpoints, as Patroni does: one attempt gets at most
   * `retry_timeout / hosts` (and at least 1 s), and an attempt that timed out or found its endpoint unavailable is
   * tried again on the next endpoint while the budget lasts; later calls stay on the endpoint that answered.
   * Otherwise one etcd member that drops packets (cut off, or rejoining after a partition) would hang a third of
   * the calls for the whole budget and make a healthy leader demote itself although two members answer. A retried
   * write is safe: every write is a CAS or an idempotent put, and a CAS that already went through reads as "not
   * won", which the next cycle corrects from the fresh view.
   */
  async call<T>(what: string, fn: (opts: CallOpts) => Promise<T>): Promise<T> {
    if (this.#closed) throw new DcsError(`etcd ${what}: the DCS client is closed`);
    const started = performance.now();
    let ok = false;
    try {
      const result = await this.#callWithRetries(what, fn);
      ok = true;
      this.noteRevision(headerRevision(result));
      return result;
    } finally {
      this.onCallDone?.(what, (performance.now() - started) / 1000, ok);
    }
  }

  async #callWithRetries<T>(what: string, fn: (opts: CallOpts) => Promise<T>): Promise<T> {
    const until = Date.now() + this.#timeoutMs;
    const perAttempt = Math.max(1000, Math.floor(this.#timeoutMs / this.#clients.length));
    let lastError: unknown = null;
    try {
      for (;;) {
        const deadline = Math.min(until, Date.now() + perAttempt);
        try {
          return await this.#attempt(what, fn, deadline);
        } catch (err) {
          // A retry the client's circuit breaker refused says nothing new: report the failure that opened it.
          if (!(lastError !== null && isBrokenCircuit(err))) lastError = err;
          if (!retryableDcsFailure(err)) break;
          // This endpoint failed us: later calls (and the watch, when it reopens) go to the next one.
          this.#current = (this.#current + 1) % this.#clients.length;
          if (until - Date.now() < 500) break;
        }
      }
      if (lastError instanceof AttemptTimeout) {
        throw new DcsError(`etcd ${what}: no answer within ${this.#timeoutMs} ms`, { cause: lastError });
      }
      throw lastError;
    } catch (err) {
      // After any failure the caches may lie: the next writes go through.
      this.#onFailure();
      if (err instanceof DcsError) throw err;
      throw new DcsError(`etcd ${what} failed: ${describe(err)}`, { cause: err });
    }
  }

  /** One attempt with its own deadline (a gRPC deadline plus a timer race). */
  async #attempt<T>(what: string, fn: (opts: CallOpts) => Promise<T>, deadline: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AttemptTimeout(what)), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([fn({ deadline: new Date(deadline) }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Count `revision` (from an answer's header) in {@linkcode highestRevision}. */
  noteRevision(revision: string | null): void {
    if (revision === null || !/^[0-9]+$/.test(revision)) return;
    if (this.highestRevision === null || BigInt(revision) > BigInt(this.highestRevision)) {
      this.highestRevision = revision;
    }
  }

  /** From now on every call fails at once (the clients stay open until `closeClients`). */
  markClosed(): void {
    this.#closed = true;
  }

  closeClients(): void {
    for (const c of this.#clients) c.close();
  }
}

/** The revision in an etcd answer's response header, or null when the answer has none. */
function headerRevision(result: unknown): string | null {
  if (typeof result !== "object" || result === null || !("header" in result)) return null;
  const header = (result as { header?: { revision?: unknown } }).header;
  return header && header.revision !== undefined ? String(header.revision) : null;
}

/** An attempt of one etcd call ran out of its share of the deadline. */
class AttemptTimeout extends Error {
  constructor(what: string) {
    super(`etcd ${what}: no answer in time`);
    this.name = "AttemptTimeout";
  }
}

function isBrokenCircuit(err: unknown): boolean {
  return err instanceof Error && /circuit breaker is open/i.test(err.message);
}

/** A failure worth another attempt on (probably) another endpoint: a timeout or an unreachable member. */
function retryableDcsFailure(err: unknown): boolean {
  if (err instanceof AttemptTimeout) return true;
  if (!(err instanceof Error)) return false;
  if (isRecoverableError(err)) return true;
  const text = `${err.name} ${err.message}`;
  // "circuit breaker is open": the client's breaker shut the endpoint it picked; another pick may be healthy.
  return /DEADLINE_EXCEEDED|DeadlineExceeded|UNAVAILABLE|Unavailable|no leader|circuit breaker is open/i.test(
    text,
  );
}
