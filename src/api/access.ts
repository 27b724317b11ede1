/**
 * Patroni's access check for the unsafe methods, in its order: `restapi.allowlist` (and, with
 * `allowlist_include_members`, the hosts of the members' `api_url`), then the client certificate under
 * `verify_client: optional`, then Basic auth. Hostnames are resolved through the agent's resolver and cached for
 * a minute.
 *
 * May import: `src/api/allowlist.ts`, `src/api/deps.ts` (types), `src/api/respond.ts` (types).
 *
 * @module
 */
import { addressAllowed, isNetworkEntry } from "./allowlist.ts";
import type { ApiDeps, ApiSecurity, RequestInfo } from "./deps.ts";
import type { Responses } from "./respond.ts";

/** Null when the request may go on; else the 401 message. Without configured credentials nothing is checked. */
export function checkBasicAuth(
  req: Request,
  auth: { username: string; password: string } | undefined,
): string | null {
  if (!auth) return null;
  const header = req.headers.get("authorization");
  if (!header) return "no auth header received";
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  let given = "";
  try {
    given = m ? new TextDecoder().decode(Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0))) : "";
  } catch {
    given = "";
  }
  return given === `${auth.username}:${auth.password}` ? null : "not authenticated";
}

/** What the access check reads from the agent: the snapshot (members' API hosts), the clock, a resolver. */
export type AccessDeps = Pick<ApiDeps, "snapshot" | "now" | "resolveHost">;

/** The access check: null when the request may go on, else the 403 or 401 response. */
export type AccessCheck = (req: Request, info: RequestInfo | undefined) => Promise<Response | null>;

/**
 * A resolver over the agent's (`localhost` is `127.0.0.1` and `::1` without one, or when it fails) that caches
 * every answer for a minute.
 */
function cachedResolver(deps: AccessDeps): (host: string) => Promise<string[]> {
  const resolveCache = new Map<string, { at: number; addresses: string[] }>();
  return async (host: string): Promise<string[]> => {
    const cached = resolveCache.get(host);
    if (cached && deps.now() - cached.at < 60_000) return cached.addresses;
    let addresses: string[] = host === "localhost" ? ["127.0.0.1", "::1"] : [];
    if (deps.resolveHost) addresses = await deps.resolveHost(host).catch(() => addresses);
    resolveCache.set(host, { at: deps.now(), addresses });
    return addresses;
  };
}

/**
 * Patroni's access check for unsafe methods, in its order: the allowlist (403 `Access is denied`), the client
 * certificate under `verify_client: optional` (403 `client certificate required`), Basic auth (401).
 */
export function createAccessCheck(deps: AccessDeps, security: () => ApiSecurity, r: Responses): AccessCheck {
  const resolve = cachedResolver(deps);
  /** Whether the client's address is admitted by the allowlist (and the members' API hosts). */
  const admitted = async (sec: ApiSecurity, info: RequestInfo | undefined): Promise<boolean> => {
    const hosts = sec.allowlist.filter((e) => !isNetworkEntry(e));
    if (sec.allowlistIncludeMembers) {
      for (const m of deps.snapshot().cluster?.members ?? []) {
        try {
          hosts.push(new URL(String(m.data.api_url)).hostname.replace(/^\[(.*)\]$/, "$1"));
        } catch {
          // a member without a usable api_url admits nobody
        }
      }
    }
    const resolved: string[] = [];
    for (const h of new Set(hosts)) resolved.push(...(isNetworkEntry(h) ? [h] : await resolve(h)));
    const addr = info?.remoteAddr;
    return !!addr && addressAllowed(addr, sec.allowlist, resolved);
  };
  return async (req, info) => {
    const sec = security();
    if (sec.allowlist.length > 0 || sec.allowlistIncludeMembers) {
      if (!await admitted(sec, info)) return r.html({ status: 403, body: "Access is denied" });
    }
    if (sec.verifyClient === "optional" && info?.clientCertVerified !== true) {
      return r.html({ status: 403, body: "client certificate required" });
    }
    const denied = checkBasicAuth(req, sec.auth);
    if (denied) {
      const h = r.headers("text/plain; charset=utf-8");
      h.set("WWW-Authenticate", 'Basic realm="Patroni"');
      return new Response(denied, { status: 401, headers: h });
    }
    return null;
  };
}
