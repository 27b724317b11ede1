/**
 * How control commands call a member's REST API: JSON POST (or DELETE) with the `ctl` credentials (Basic auth,
 * UTF-8), and GET without any (the read-only endpoints need none, so no member is sent a password it did not ask
 * for); both with the CA (`ctl.cacert`, else `restapi.cafile`) and client certificate (`ctl.certfile`/`keyfile`)
 * and a deadline. Throws when the member cannot be reached.
 *
 * @module
 */
import type { CtlSettings } from "./ctl_config.ts";
import { basicAuth } from "../src/peers.ts";

/** The HTTP client for `settings.ctl`'s CA and client certificate, or undefined when neither is set. */
async function httpClientFor(settings: CtlSettings): Promise<Deno.HttpClient | undefined> {
  const ca = settings.ctl.cacert ? [await Deno.readTextFile(settings.ctl.cacert)] : undefined;
  const cert = settings.ctl.certfile && settings.ctl.keyfile
    ? {
      cert: await Deno.readTextFile(settings.ctl.certfile),
      key: await Deno.readTextFile(settings.ctl.keyfile),
    }
    : null;
  return ca || cert ? Deno.createHttpClient({ ...(ca ? { caCerts: ca } : {}), ...(cert ?? {}) }) : undefined;
}

export async function postJson(
  url: string,
  body: unknown,
  settings: CtlSettings,
  timeoutMs: number,
  method = "POST",
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const auth = settings.ctl.authentication;
  if (auth) headers.authorization = basicAuth(auth.username, auth.password);
  const client = await httpClientFor(settings);
  try {
    const res = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
      ...(client ? { client } : {}),
    });
    return { status: res.status, text: await res.text() };
  } finally {
    client?.close();
  }
}

/** GET `url` (no credentials): the status, the JSON body (throws when it is not JSON) and the `Server` header. */
export async function getJson(
  url: string,
  settings: CtlSettings,
  timeoutMs: number,
): Promise<{ status: number; body: unknown; server: string | null }> {
  const client = await httpClientFor(settings);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), ...(client ? { client } : {}) });
    return { status: res.status, body: await res.json(), server: res.headers.get("server") };
  } finally {
    client?.close();
  }
}
