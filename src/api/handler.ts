/**
 * The Patroni-compatible REST API as a plain fetch handler (`Request -> Response`). Endpoints:
 * `GET /patroni`, the health checks, `/liveness`, `/readiness`, `/cluster`,
 * `/history`, `/config`, `/metrics`, and the unsafe ones (`/switchover`, `/failover`, `/reinitialize`,
 * `/restart`, `/reload`, `PATCH|PUT /config`).
 *
 * Routing follows Patroni: only the first path segment picks a handler (`GET /patroni/x` is `/patroni`; the
 * table is `routes.ts`); `GET`/`HEAD`/`OPTIONS` without a dedicated handler fall back to the health-check rules
 * (`src/api/health.ts`); other unknown methods answer 501. Unsafe methods pass Patroni's access check first
 * (`access.ts`): `restapi.allowlist` (403), the client certificate under `verify_client: optional` (403), Basic
 * auth (401).
 *
 * Health checks answer from the in-memory `NodeSnapshot` only (no SQL per request), refined by one check made at
 * each request: when the snapshot says the postmaster runs, `deps.postmasterAlive` is asked whether it still does
 * (a process check), so a postmaster killed since the snapshot is not reported healthy for up to a second. The
 * handler never prints and never includes secrets. The listener around it is `listener.ts`; the status documents are `status.ts`.
 *
 * May import: `src/core/` (types), the other `src/api/` files.
 *
 * @module
 */
import type { NodeSnapshot } from "../core/types.ts";
import { createAccessCheck } from "./access.ts";
import type { ApiDeps, ApiHandler, ApiSecurity, RequestInfo } from "./deps.ts";
import { buildStatus as buildStatusBody, healthCheckCode } from "./health.ts";
import { responses } from "./respond.ts";
import { routeKey, routeTable } from "./routes.ts";

export { parseLag, STALE_STATUS_MS } from "./health.ts";
export { checkBasicAuth } from "./access.ts";
export type { ApiDeps, ApiHandler, ApiSecurity, RequestInfo } from "./deps.ts";
export { type ApiServer, type ApiTls, serveApi } from "./listener.ts";
export { readJsonObject } from "./request_body.ts";
export { SERVER_HEADER } from "./respond.ts";
export { buildStatus, clusterAsJson } from "./status.ts";

/** Methods that fall back to the health-check logic when no dedicated handler exists. */
const STATUS_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The method, path and query of a request (blank query values dropped, as Python's `parse_qs` does). */
function parseRequest(req: Request): { method: string; path: string; query: URLSearchParams } {
  const method = req.method.toUpperCase();
  let path = "/";
  let query = new URLSearchParams();
  try {
    const url = new URL(req.url);
    path = url.pathname || "/";
    // Like Python's parse_qs (as Patroni uses it): parameters with blank values are dropped.
    query = new URLSearchParams([...url.searchParams].filter(([, value]) => value !== ""));
  } catch {
    // Request URLs are always absolute; keep the defaults if one is not.
  }
  return { method, path, query };
}

/**
 * The snapshot, with Postgres marked not running when the snapshot says its postmaster runs but the process check
 * finds it gone (killed since the snapshot was taken): the status document then says `state: unknown`, as Patroni
 * says when its query fails, and the health checks answer 503.
 */
function withPostmasterNow(deps: ApiDeps): NodeSnapshot {
  const snapshot = deps.snapshot();
  if (deps.postmasterAlive === undefined || !snapshot.pg.running || deps.postmasterAlive()) return snapshot;
  return { ...snapshot, pg: { ...snapshot.pg, running: false, queryable: false } };
}

/**
 * Build the REST API handler. The handler never throws: an unexpected exception becomes a 500 with a short
 * message, and no client input (path, query, method) can provoke one.
 */
export function createApiHandler(given: ApiDeps): ApiHandler {
  const deps: ApiDeps = { ...given, snapshot: () => withPostmasterNow(given) };
  const security = (): ApiSecurity =>
    deps.security?.() ?? {
      ...(deps.auth ? { auth: deps.auth } : {}),
      allowlist: [],
      allowlistIncludeMembers: false,
      verifyClient: "none",
      extraHeaders: deps.extraHeaders ?? {},
    };
  const r = responses(() => security().extraHeaders);
  const routes = routeTable(deps, r);
  const checkAccess = createAccessCheck(deps, security, r);

  const health = (method: string, path: string, query: URLSearchParams): Response => {
    const snapshot = deps.snapshot();
    const now = deps.now();
    const status = buildStatusBody(snapshot, now);
    const code = healthCheckCode(snapshot, status, path, query, now);
    return method === "GET" ? r.json(code, status) : r.statusOnly(code);
  };

  /** Unsafe methods: the access check first, then the control route. */
  const unsafe = async (req: Request, key: string, method: string, info?: RequestInfo): Promise<Response> => {
    const route = routes.get(key);
    const control = deps.control;
    if (route?.kind !== "control" || !control) return r.text(501, `Unsupported method (${method})`);
    const refused = await checkAccess(req, info);
    if (refused) return refused;
    return await route.handle(req, control);
  };

  return async (req: Request, info?: RequestInfo): Promise<Response> => {
    try {
      const { method, path, query } = parseRequest(req);
      const segment = path.replace(/^\/+/, "").split("/")[0] ?? "";
      const key = routeKey(method, segment);
      if (!STATUS_METHODS.has(method)) return await unsafe(req, key, method, info);
      const route = routes.get(key);
      if (route?.kind === "read") return await route.handle(path, query);
      return health(method, path, query);
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      return r.text(500, `internal error (${name})`);
    }
  };
}
