/**
 * The REST API's responses: every one carries `Server: hactl/<version>` and the configured extra headers (read
 * anew for each response, since a reload may change them; an invalid one is skipped), in the few shapes the
 * endpoints answer with (JSON, plain text, HTML, status only).
 *
 * May import: `src/core/` (types).
 *
 * @module
 */
import { HACTL_VERSION } from "../core/types.ts";

/** The `Server` header value. */
export const SERVER_HEADER = `hactl/${HACTL_VERSION}`;

/** The response builders of one handler. */
export interface Responses {
  /** `Server`, the content type when given, and the extra headers. */
  headers(contentType?: string): Headers;
  json(status: number, body: unknown): Response;
  text(status: number, body: string): Response;
  html(r: { status: number; body: string }): Response;
  statusOnly(status: number): Response;
}

/** Response builders that add `extraHeaders()` (the headers in effect now) to every response. */
export function responses(extraHeaders: () => Record<string, string>): Responses {
  const headers = (contentType?: string): Headers => {
    const h = new Headers();
    h.set("Server", SERVER_HEADER);
    if (contentType) h.set("Content-Type", contentType);
    for (const [k, v] of Object.entries(extraHeaders())) {
      try {
        h.set(k, v);
      } catch {
        // an invalid header from the config is skipped rather than failing every response
      }
    }
    return h;
  };
  return {
    headers,
    json: (status, body) =>
      new Response(JSON.stringify(body), { status, headers: headers("application/json") }),
    text: (status, body) => new Response(body, { status, headers: headers("text/plain; charset=utf-8") }),
    html: (r) => new Response(r.body, { status: r.status, headers: headers("text/html") }),
    statusOnly: (status) => new Response(null, { status, headers: headers() }),
  };
}
