/**
 * An in-test TCP proxy on loopback, for network faults without root or network namespaces: point a client at the
 * proxy instead of its server, then `cut()` the link (a partition) and `heal()` it again.
 *
 * - `cut()` (mode `"refuse"`, the default) closes every open connection at once and, until `heal()`, accepts new
 *   connections only to close them: the client sees resets and immediate refusals, as when a firewall rejects.
 * - `cut({ mode: "blackhole" })` keeps every connection open but drops every byte in both directions, and accepts
 *   new connections without ever connecting them upstream: the client's calls hang until its own deadlines, as
 *   when packets are dropped. `heal()` then closes the blackholed connections (their byte streams are torn) and
 *   new connections pass again.
 * - `delay(ms)` holds every chunk for `ms` before forwarding it (0: no delay).
 *
 * Listens on a free `127.0.0.1` port and forwards only to loopback targets. `close()` stops listening, closes every
 * connection and waits until every copy loop has ended, so nothing outlives it.
 *
 * @example
 * ```ts
 * await using proxy = await startProxy({ hostname: "127.0.0.1", port: 2379 });
 * // clients use `127.0.0.1:${proxy.port}`
 * proxy.cut(); // partition
 * proxy.heal(); // back
 * ```
 *
 * @module
 */

/** Where the proxy forwards to: a loopback address. */
export interface ProxyTarget {
  hostname: string;
  port: number;
}

/** How a cut link behaves (see the module comment). */
export type CutMode = "refuse" | "blackhole";

/** A running proxy started by `startProxy`. */
export interface TcpProxy extends AsyncDisposable {
  /** The loopback port clients connect to. */
  readonly port: number;
  /** `127.0.0.1:<port>`, ready for a `hosts:` list. */
  readonly address: string;
  readonly target: ProxyTarget;
  /** Null while the link is up, else how it is cut. */
  readonly cutMode: CutMode | null;
  /** Connections currently open through the proxy (client side). */
  readonly openConnections: number;
  /** Connections refused (accepted and closed) while cut in `"refuse"` mode. */
  readonly refused: number;
  /** Partition the link until `heal()`; see the module comment. */
  cut(opts?: { mode?: CutMode }): void;
  /** Undo `cut()`: new connections pass again. */
  heal(): void;
  /** Hold every forwarded chunk for `ms` (0: none). */
  delay(ms: number): void;
  /** Stop listening, close every connection, wait for every copy loop. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1)$/;

/** One client connection and, unless blackholed from the start, its upstream connection. */
interface Link {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn | null;
  closed: boolean;
  /** Resolves when both copy loops (or the drain loop) have ended. */
  done: Promise<void>;
}

function closeQuietly(c: Deno.Conn | null): void {
  try {
    c?.close();
  } catch {
    // already closed
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Start a proxy to `target` on a free loopback port. Throws when `target` is not a loopback address. */
export function startProxy(target: ProxyTarget): Promise<TcpProxy> {
  if (!LOOPBACK.test(target.hostname)) {
    return Promise.reject(
      new Error(`startProxy: expected a loopback target (127.x.x.x, localhost, ::1), got ${target.hostname}`),
    );
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const port = (listener.addr as Deno.NetAddr).port;
  const links = new Set<Link>();
  let mode: CutMode | null = null;
  let delayMs = 0;
  let refused = 0;
  let closing = false;

  const closeLink = (l: Link) => {
    if (l.closed) return;
    l.closed = true;
    closeQuietly(l.client);
    closeQuietly(l.upstream);
  };

  /** Copy `src` to `dst` chunk by chunk; drop chunks while blackholed. Ends on EOF or any error. */
  const pump = async (l: Link, src: Deno.TcpConn, dst: Deno.TcpConn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await src.read(buf);
        if (n === null) break;
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        if (l.closed) break;
        if (mode === "blackhole") continue;
        await writeAll(dst, buf.subarray(0, n));
      }
      // Pass the half-close on; the other direction may still have bytes to deliver.
      if (!l.closed) await dst.closeWrite().catch(() => closeLink(l));
    } catch {
      closeLink(l);
    }
  };

  /** Read and discard everything a blackholed client sends, until it or the proxy closes. */
  const drain = async (l: Link) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (!l.closed && (await l.client.read(buf)) !== null) {
        // dropped
      }
    } catch {
      // closed under us
    }
    closeLink(l);
  };

  const serve = async (client: Deno.TcpConn) => {
    if (mode === "refuse" || closing) {
      refused++;
      closeQuietly(client);
      return;
    }
    const l: Link = { client, upstream: null, closed: false, done: Promise.resolve() };
    links.add(l);
    let settle!: () => void;
    l.done = new Promise<void>((r) => (settle = r));
    try {
      if (mode === "blackhole") {
        await drain(l);
        return;
      }
      try {
        l.upstream = await Deno.connect({ hostname: target.hostname, port: target.port, transport: "tcp" });
      } catch {
        closeLink(l);
        return;
      }
      // Cut (or closed) while connecting.
      if (l.closed || mode === "refuse") {
        closeLink(l);
        return;
      }
      await Promise.all([pump(l, client, l.upstream), pump(l, l.upstream, client)]);
      closeLink(l);
    } finally {
      links.delete(l);
      settle();
    }
  };

  const served = new Set<Promise<void>>();
  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept() as Deno.TcpConn;
      } catch {
        return; // listener closed
      }
      const p = serve(conn).catch(() => {});
      served.add(p);
      p.finally(() => served.delete(p));
    }
  })();

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      await acceptLoop;
      for (const l of links) closeLink(l);
      await Promise.all([...served]);
    })();
    return closed;
  };

  const proxy: TcpProxy = {
    port,
    address: `127.0.0.1:${port}`,
    target: { ...target },
    get cutMode() {
      return mode;
    },
    get openConnections() {
      return links.size;
    },
    get refused() {
      return refused;
    },
    cut(opts = {}) {
      mode = opts.mode ?? "refuse";
      // Blackholed links stay open and silent; refused ones go at once.
      if (mode === "refuse") { for (const l of links) closeLink(l); }
    },
    heal() {
      // A blackholed byte stream has holes in it: close those links, clients reconnect.
      if (mode === "blackhole") { for (const l of links) closeLink(l); }
      mode = null;
    },
    delay(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`delay: expected ms >= 0, got ${ms}`);
      delayMs = ms;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return Promise.resolve(proxy);
}
