/**
 * How control commands call a member's REST API: JSON POST (or DELETE) with the `ctl` credentials (Basic auth),
 * CA (`ctl.cacert`, else `restapi.cafile`) and client certificate (`ctl.certfile`/`keyfile`), a deadline, the
 * status and text of the answer. Throws when the member cannot be reached.
 *
 * @module
 */
import type { CtlSettings } from "./ctl_config.ts";

export async function postJson(
  url: string,
  body: unknown,
  settings: CtlSettings,
  timeoutMs: number,
  method = "POST",
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const auth = settings.ctl.authentication;
  if (auth) headers.authorization = `Basic ${btoa(`${auth.username}:${auth.password}`)}`;
  const ca = settings.ctl.cacert ? [await Deno.readTextFile(settings.ctl.cacert)] : undefined;
  const cert = settings.ctl.certfile && settings.ctl.keyfile
    ? {
      cert: await Deno.readTextFile(settings.ctl.certfile),
      key: await Deno.readTextFile(settings.ctl.keyfile),
    }
    : null;
  const client = ca || cert
    ? Deno.createHttpClient({ ...(ca ? { caCerts: ca } : {}), ...(cert ?? {}) })
    : undefined;
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
