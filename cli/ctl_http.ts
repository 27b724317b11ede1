/**
 * How control commands call a member's REST API: JSON POST with the `ctl` credentials (Basic auth) and CA, a
 * deadline, the status and text of the answer. Throws when the member cannot be reached.
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
  const client = ca ? Deno.createHttpClient({ caCerts: ca }) : undefined;
  try {
    const res = await fetch(url, {
      method,
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      ...(client ? { client } : {}),
    });
    return { status: res.status, text: await res.text() };
  } finally {
    client?.close();
  }
}
