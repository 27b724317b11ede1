/**
 * A small HTTP/1.1 load generator for health-check benchmarks, on raw TCP (`Deno.connect`): N concurrent
 * clients send `GET <path>` for a fixed time, each either on a new connection per request (`Connection: close`,
 * as HAProxy checks) or on one kept-alive connection. It parses only what it needs (status line,
 * `Content-Length`; a server that sends none, like Patroni's HTTP/1.0 API, is read to the end of the
 * connection) and records each request's latency.
 *
 * Also a trivial server (`--serve-trivial PORT`) to measure the generator's own ceiling on this machine:
 *   deno run -A scripts/bench/http_load.ts --serve-trivial 18000
 *
 * @module
 */

export interface LoadOptions {
  hostname: string;
  port: number;
  path: string;
  connections: number;
  durationMs: number;
  /** One connection per client for the whole run (true) or a new connection per request (false). */
  keepAlive: boolean;
  /** A request taking longer than this counts as an error (ms). */
  timeoutMs?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Count per HTTP status. */
  statuses: Record<string, number>;
}

const ENC = new TextEncoder();
const CRLFCRLF = ENC.encode("\r\n\r\n");

function indexOf(buf: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= buf.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (buf[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Reads HTTP responses from one connection, keeping bytes that belong to the next response. */
class ResponseReader {
  #buf = new Uint8Array(0);
  #chunk = new Uint8Array(16 * 1024);
  constructor(readonly conn: Deno.Conn) {}

  async #fill(): Promise<boolean> {
    const n = await this.conn.read(this.#chunk);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(this.#chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** One response: its status and whether the connection may be reused. Throws at EOF before a status line. */
  async read(): Promise<{ status: number; reusable: boolean }> {
    let end: number;
    while ((end = indexOf(this.#buf, CRLFCRLF)) < 0) {
      if (!(await this.#fill())) throw new Error("connection closed before a response");
    }
    const head = new TextDecoder().decode(this.#buf.subarray(0, end));
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(head)?.[1] ?? "0");
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const close = /\r\nconnection:\s*close/i.test(head) || head.startsWith("HTTP/1.0");
    if (length) {
      const total = end + 4 + Number(length[1]);
      while (this.#buf.length < total) {
        if (!(await this.#fill())) throw new Error("connection closed inside a body");
      }
      this.#buf = this.#buf.slice(total);
      return { status, reusable: !close };
    }
    // No length: the body ends with the connection.
    do this.#buf = new Uint8Array(0); while (await this.#fill());
    return { status, reusable: false };
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** What one generator thread measured. */
export interface RawLoad {
  latencies: number[];
  statuses: Record<string, number>;
  errors: number;
  elapsedS: number;
}

/** Run the load in this thread and return every latency. */
export async function runLoadRaw(o: LoadOptions): Promise<RawLoad> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const request = ENC.encode(
    `GET ${o.path} HTTP/1.1\r\nHost: ${o.hostname}:${o.port}\r\nUser-Agent: hactl-bench\r\n` +
      (o.keepAlive ? "\r\n" : "Connection: close\r\n\r\n"),
  );
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const until = performance.now() + o.durationMs;

  const client = async () => {
    let conn: Deno.Conn | null = null;
    let reader: ResponseReader | null = null;
    while (performance.now() < until) {
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const attempt = (async () => {
          if (!conn) {
            const tcp = await Deno.connect({ hostname: o.hostname, port: o.port });
            tcp.setNoDelay(true);
            conn = tcp;
            reader = new ResponseReader(conn);
          }
          await conn.write(request);
          return await reader!.read();
        })();
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
        });
        const { status, reusable } = await Promise.race([attempt, timeout]);
        latencies.push(performance.now() - t0);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (!o.keepAlive || !reusable) {
          try {
            (conn as Deno.Conn | null)?.close();
          } catch { /* already closed */ }
          conn = null;
        }
      } catch {
        errors++;
        try {
          (conn as Deno.Conn | null)?.close();
        } catch { /* already closed */ }
        conn = null;
      } finally {
        clearTimeout(timer);
      }
    }
    try {
      (conn as Deno.Conn | null)?.close();
    } catch { /* already closed */ }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: o.connections }, client));
  return { latencies, statuses, errors, elapsedS: (performance.now() - started) / 1000 };
}

/** Merge the measurements of several threads that ran at the same time. */
export function summarise(parts: RawLoad[]): LoadResult {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  }
  const elapsed = Math.max(...parts.map((p) => p.elapsedS));
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    requests: latencies.length,
    errors: parts.reduce((n, p) => n + p.errors, 0),
    rps: Math.round(latencies.length / elapsed),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(latencies[latencies.length - 1] ?? 0),
    statuses,
  };
}

/**
 * Run the load on `threads` generator threads (Web Workers) sharing the connections, so that one JavaScript
 * thread is not the limit; `threads` 1 runs in this thread.
 */
export async function runLoad(o: LoadOptions, threads = 1): Promise<LoadResult> {
  if (threads <= 1) return summarise([await runLoadRaw(o)]);
  const shares = Array.from(
    { length: threads },
    (_, i) => Math.floor(o.connections / threads) + (i < o.connections % threads ? 1 : 0),
  ).filter((n) => n > 0);
  const parts = await Promise.all(shares.map((connections) =>
    new Promise<RawLoad>((resolve, reject) => {
      const worker = new Worker(new URL("./http_load.ts", import.meta.url).href, { type: "module" });
      worker.onmessage = (e: MessageEvent<RawLoad>) => {
        worker.terminate();
        resolve(e.data);
      };
      worker.onerror = (e) => {
        worker.terminate();
        reject(new Error(e.message));
      };
      worker.postMessage({ ...o, connections });
    })
  ));
  return summarise(parts);
}

/** Serve a fixed small JSON answer on `port` (the generator's ceiling on this machine). */
export function serveTrivial(port: number): Deno.HttpServer {
  const body = JSON.stringify({ state: "running", role: "primary" });
  return Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => new Response(body, { headers: { "content-type": "application/json" } }),
  );
}

// In a generator thread: run the share of the load posted by `runLoad` and post the raw measurements back.
const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage?: unknown;
  postMessage?: unknown;
};
if (scope.WorkerGlobalScope !== undefined && typeof scope.postMessage === "function") {
  const post = scope.postMessage as (data: unknown) => void;
  scope.onmessage = async (e: MessageEvent<LoadOptions>) => post(await runLoadRaw(e.data));
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--serve-trivial");
  if (at >= 0) serveTrivial(Number(Deno.args[at + 1]));
}
