/**
 * The REST API's listener: serves an {@link ApiHandler} on a host and port, over HTTP or HTTPS, until a signal
 * aborts. `Deno.serve` in the common case; `node:https` when client certificates are asked for
 * (`verify_client: optional|required`), since `Deno.serve` cannot ask for them.
 *
 * May import: `node:https`, `src/api/deps.ts` (types).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { ApiHandler } from "./deps.ts";

/** A running REST listener: its bound address, a promise for its end, and a way to stop it. */
export interface ApiServer {
  addr: { hostname: string; port: number };
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** TLS for the listener: PEM text of `restapi.certfile`/`keyfile`, and for client certificates `cafile`. */
export interface ApiTls {
  cert: string;
  key: string;
  /** `restapi.cafile` (PEM): the CA client certificates must chain to. */
  ca?: string;
  /** `restapi.verify_client`: `required` refuses the handshake without a valid certificate. */
  verifyClient?: "none" | "optional" | "required";
}

type ListenOptions = { hostname: string; port: number; signal: AbortSignal };

/**
 * Serve `handler` on `hostname:port` until `signal` aborts, over HTTPS when `tls` is given. Quiet on listen;
 * passes the client's IP address as `info.remoteAddr`. The returned server's `addr.port` is the bound port (use
 * port 0 in tests).
 *
 * `Deno.serve` (Deno 2.9) cannot ask for client certificates, so with `verify_client: optional|required` the
 * listener is `node:https` with `requestCert` (and `rejectUnauthorized` for `required`: the TLS handshake itself
 * fails without a certificate signed by `ca`, for every request, as Patroni's). Whether the client presented a
 * verified certificate reaches the handler as `info.clientCertVerified`.
 */
export function serveApi(
  handler: ApiHandler,
  opts: ListenOptions & { tls?: ApiTls },
): Promise<ApiServer> {
  const verify = opts.tls?.verifyClient ?? "none";
  if (opts.tls && verify !== "none") return serveWithClientCerts(handler, { ...opts, tls: opts.tls });
  const listen = { hostname: opts.hostname, port: opts.port, signal: opts.signal, onListen: () => {} };
  const server = Deno.serve(
    opts.tls ? { ...listen, cert: opts.tls.cert, key: opts.tls.key } : listen,
    (req, info) => {
      const addr = info.remoteAddr as Deno.Addr;
      return handler(req, { remoteAddr: "hostname" in addr ? addr.hostname : undefined });
    },
  );
  return Promise.resolve({
    addr: { hostname: server.addr.hostname, port: server.addr.port },
    finished: server.finished,
    shutdown: () => server.shutdown(),
  });
}

/** The largest request body the node:https listener buffers before giving up on the request. */
const MAX_NODE_BODY_BYTES = 1024 * 1024;

async function serveWithClientCerts(
  handler: ApiHandler,
  opts: ListenOptions & { tls: ApiTls },
): Promise<ApiServer> {
  const verify = opts.tls.verifyClient ?? "none";
  const server = createHttpsServer({
    cert: opts.tls.cert,
    key: opts.tls.key,
    ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
    requestCert: true,
    rejectUnauthorized: verify === "required",
  }, (req, res) => answerNodeRequest(handler, opts, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => resolve());
  });
  const { finished, shutdown } = shutdownOf(server);
  opts.signal.addEventListener("abort", () => void shutdown(), { once: true });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return { addr: { hostname: opts.hostname, port }, finished, shutdown };
}

/** One request of the node:https listener: buffered (up to a limit), handled, and its response written back. */
async function answerNodeRequest(
  handler: ApiHandler,
  opts: ListenOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Uint8Array).length;
      if (size > MAX_NODE_BODY_BYTES) {
        res.writeHead(400, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("request body too large");
        return;
      }
      chunks.push(new Uint8Array(chunk as Uint8Array));
    }
    const request = toFetchRequest(opts, req, chunks);
    const socket = req.socket as unknown as { remoteAddress?: string; authorized?: boolean };
    const remote = socket.remoteAddress?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
    const response = await handler(request, {
      ...(remote ? { remoteAddr: remote } : {}),
      clientCertVerified: socket.authorized === true,
    });
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => (out[k] = v));
    res.writeHead(response.status, out);
    res.end(new Uint8Array(await response.arrayBuffer()));
  } catch {
    try {
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("internal error");
    } catch {
      // the connection is gone
    }
  }
}

/** The fetch `Request` of a node request whose body was read into `chunks`. */
function toFetchRequest(
  opts: ListenOptions,
  req: IncomingMessage,
  chunks: Uint8Array<ArrayBuffer>[],
): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    try {
      headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    } catch {
      // a header Headers refuses is dropped
    }
  }
  const method = (req.method ?? "GET").toUpperCase();
  const body = method === "GET" || method === "HEAD" ? undefined : new Blob(chunks);
  const host = (req.headers.host ?? `${opts.hostname}:${opts.port}`).replace(/[^A-Za-z0-9.:[\]-]/g, "");
  return new Request(`https://${host || "localhost"}${req.url ?? "/"}`, {
    method,
    headers,
    body,
  });
}

/** The end of a node:https listener: a promise for it, and the shutdown that ends every connection. */
function shutdownOf(server: Server): { finished: Promise<void>; shutdown: () => Promise<void> } {
  // Idle keep-alive connections would hold `close` for minutes: track every socket and end them on shutdown.
  const sockets = new Set<{ destroy(): void; once(event: "close", fn: () => void): void }>();
  server.on("secureConnection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  // The listening socket is released at once; a client that keeps a connection half-open (Deno's node:https can
  // wait out a client's idle timeout even after destroy) does not hold the shutdown up for more than a second.
  const shutdown = () =>
    new Promise<void>((r) => {
      const end = () => {
        clearTimeout(timer);
        done();
        r();
      };
      const timer = setTimeout(end, 1000);
      server.close(end);
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });
  return { finished, shutdown };
}
