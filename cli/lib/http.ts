/**
 * How control commands call a member's REST API, all through `ctlRequest`: the `ctl` credentials (Basic auth,
 * UTF-8; never on GET: the read-only endpoints need none, so no member is sent a password it did not ask for), the
 * CA (`ctl.cacert`, else `restapi.cafile`) and client certificate (`ctl.certfile`/`keyfile`), a deadline, and a
 * cap on the answer's size; it returns the status, the text and the `Server` header of the answer, and throws when
 * the member cannot be reached (the message says why, e.g. `invalid peer certificate: UnknownIssuer`).
 *
 * With `ctl.insecure` (`-k/--insecure`) an `https://` request does not verify the server's certificate (nor its
 * name), as patronictl's `cert_reqs=CERT_NONE`, while still presenting the client certificate. `fetch` cannot do
 * that (`Deno.createHttpClient` has no switch for it), so those requests go through `node:https` with
 * `rejectUnauthorized: false`; everything else goes through `fetch`. Both paths share the deadline, the size cap
 * and the error wording.
 *
 * @module
 */
import type { CtlSettings } from "./config.ts";
import { basicAuth } from "../../src/api/peer_client.ts";
import { insecureHttpsRequest } from "../../src/api/peer_get.ts";

/** The most of an answer a control command reads; a member's answers are a few kilobytes. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** A member's answer. */
export interface CtlResponse {
  status: number;
  text: string;
  /** The `Server` header (`hactl/...` or `BaseHTTP/... Python/...`), or null. */
  server: string | null;
}

interface ClientCert {
  cert: string;
  key: string;
}

async function readSetting(key: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(`${key}: cannot read ${path}: ${err instanceof Error ? err.message : err}`);
  }
}

function timeoutError(timeoutMs: number): Error {
  return new Error(`no answer within ${timeoutMs / 1000} s`);
}

function tooLargeError(): Error {
  return new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
}

/**
 * Send `method url` (with `body` as JSON unless undefined) to a member's REST API with the `ctl` settings, and
 * read the answer within `timeoutMs`. Throws when there is no answer (unreachable, TLS refused, deadline).
 *
 * @example
 * ```ts
 * const res = await ctlRequest("POST", "https://10.0.0.1:8008/reload", {}, settings, 30_000);
 * // res: { status: 202, text: "reload scheduled", server: "hactl/0.1.0" }
 * ```
 */
export async function ctlRequest(
  method: string,
  url: string,
  body: unknown,
  settings: CtlSettings,
  timeoutMs: number,
): Promise<CtlResponse> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const auth = settings.ctl.authentication;
  if (auth && method !== "GET") headers.authorization = basicAuth(auth.username, auth.password);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const cert: ClientCert | null = settings.ctl.certfile && settings.ctl.keyfile
    ? {
      cert: await readSetting("ctl.certfile", settings.ctl.certfile),
      key: await readSetting("ctl.keyfile", settings.ctl.keyfile),
    }
    : null;
  if (settings.ctl.insecure && new URL(url).protocol === "https:") {
    return await insecureRequest(method, url, headers, payload, cert, timeoutMs);
  }
  const ca = settings.ctl.cacert ? [await readSetting("ctl.cacert", settings.ctl.cacert)] : undefined;
  const client = ca || cert
    ? Deno.createHttpClient({ ...(ca ? { caCerts: ca } : {}), ...(cert ?? {}) })
    : undefined;
  try {
    const res = await fetch(url, {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
      signal: AbortSignal.timeout(timeoutMs),
      ...(client ? { client } : {}),
    });
    return { status: res.status, text: await readCapped(res.body), server: res.headers.get("server") };
  } catch (err) {
    throw fetchError(err, timeoutMs);
  } finally {
    client?.close();
  }
}

/** `ctlRequest` for the commands that only want the status and text (POST by default). */
export async function postJson(
  url: string,
  body: unknown,
  settings: CtlSettings,
  timeoutMs: number,
  method = "POST",
): Promise<{ status: number; text: string }> {
  const { status, text } = await ctlRequest(method, url, body, settings, timeoutMs);
  return { status, text };
}

/** The body as text, refusing more than `MAX_ANSWER_BYTES`. */
async function readCapped(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!stream) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) throw tooLargeError();
    chunks.push(chunk);
  }
  return decode(chunks, size);
}

function decode(chunks: Uint8Array[], size: number): string {
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** fetch's `TypeError: fetch failed` carries the reason in `cause`; a deadline is a `TimeoutError`. */
function fetchError(err: unknown, timeoutMs: number): Error {
  if (err instanceof DOMException && err.name === "TimeoutError") return timeoutError(timeoutMs);
  if (err instanceof TypeError && err.cause instanceof Error) return new Error(err.cause.message);
  return err instanceof Error ? err : new Error(String(err));
}

/** One request over `node:https` without verifying the server (`rejectUnauthorized: false`). */
function insecureRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  payload: string | undefined,
  cert: ClientCert | null,
  timeoutMs: number,
): Promise<CtlResponse> {
  const body = payload === undefined ? undefined : new TextEncoder().encode(payload);
  if (body) headers["content-length"] = String(body.length);
  return insecureRequestAnswer({
    method,
    url,
    headers,
    ...(body ? { body } : {}),
    cert,
    timeoutMs,
    maxBytes: MAX_ANSWER_BYTES,
    tooLarge: tooLargeError,
    timedOut: () => timeoutError(timeoutMs),
  });
}

/** The answer without its headers (a ctl command reads the status, the body and the `Server` header). */
async function insecureRequestAnswer(opts: Parameters<typeof insecureHttpsRequest>[0]): Promise<CtlResponse> {
  const { status, text, server } = await insecureHttpsRequest(opts);
  return { status, text, server };
}
