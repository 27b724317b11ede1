/**
 * A GET to another member's REST API without verifying its certificate, for `ctl.insecure`, as Patroni's members
 * make their calls to each other with it (Patroni still checks the chain when a client certificate is configured;
 * hactl's TLS stack refuses some certificates OpenSSL accepts, such as a self-signed CA certificate used as the
 * server's, so `insecure` here verifies nothing). The client certificate (`ctl.certfile`/`keyfile`) is presented
 * all the same. Over `node:https` (`rejectUnauthorized: false`); `http://` URLs go through `fetch`.
 *
 * I/O: the network. May import: nothing of `src/`.
 *
 * @module
 */
import https from "node:https";

/**
 * One GET (or, with `post`, one POST of that body): the status, the body as text and the answer's headers (lower-case
 * names); rejects on a network error or after `timeoutMs`.
 */
export type PeerGet = (
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  post?: { body: string },
) => Promise<{ status: number; text: string; headers?: Record<string, string> }>;

/** The largest answer read from a peer. */
const MAX_BYTES = 1 << 20;

/** An answer read over `node:https`: the status, the body as text and the `Server` header. */
export interface InsecureAnswer {
  status: number;
  text: string;
  server: string | null;
  /** The answer's headers with a single value, names in lower case. */
  headers: Record<string, string>;
}

/** One request to `url` over `node:https` without verifying the server, presenting `cert` when given. */
export function insecureHttpsRequest(opts: {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  cert: { cert: string; key: string } | null;
  timeoutMs: number;
  maxBytes: number;
  tooLarge: () => Error;
  timedOut: () => Error;
}): Promise<InsecureAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: InsecureAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const req = https.request(opts.url, {
      method: opts.method,
      headers: opts.headers,
      rejectUnauthorized: false,
      agent: false,
      ...(opts.cert ?? {}),
    }, (res) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      res.on("data", (chunk: Uint8Array) => {
        size += chunk.length;
        if (size > opts.maxBytes) finish(opts.tooLarge());
        else chunks.push(chunk);
      });
      res.on("end", () => {
        const buf = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          buf.set(c, at);
          at += c.length;
        }
        const server = res.headers.server;
        const text = new TextDecoder().decode(buf);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers[k] = v;
        finish(null, {
          status: res.statusCode ?? 0,
          text,
          server: typeof server === "string" ? server : null,
          headers,
        });
      });
      res.on("error", (e: Error) => finish(e));
    });
    const timer = setTimeout(() => finish(opts.timedOut()), Math.max(1, opts.timeoutMs));
    req.on("error", (e: Error) => finish(e));
    req.end(opts.body);
  });
}

/** A `PeerGet` that does not verify `https://` servers and presents `cert` (PEM texts) when given. */
export function insecurePeerGet(cert: { cert: string; key: string } | null): PeerGet {
  return async (url, headers, timeoutMs, post) => {
    const method = post ? "POST" : "GET";
    if (new URL(url).protocol !== "https:") {
      const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
      const res = await fetch(url, { method, headers, signal, ...(post ? { body: post.body } : {}) });
      return { status: res.status, text: await res.text(), headers: Object.fromEntries(res.headers) };
    }
    // With Content-Length: Patroni's REST API reads a body only by it (not chunked).
    const body = post ? new TextEncoder().encode(post.body) : undefined;
    const answer = await insecureHttpsRequest({
      method,
      url,
      headers: body ? { ...headers, "content-length": String(body.length) } : headers,
      ...(body ? { body } : {}),
      cert,
      timeoutMs,
      maxBytes: MAX_BYTES,
      tooLarge: () => new Error(`answer over ${MAX_BYTES} bytes`),
      timedOut: () => new Error(`timed out after ${timeoutMs} ms`),
    });
    return { status: answer.status, text: answer.text, headers: answer.headers };
  };
}
