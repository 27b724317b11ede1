/**
 * The REST API's routing table: (method, first path segment) -> handler, as Patroni routes (`GET /patroni/x` is
 * `/patroni`). Read routes answer from the snapshot or a fresh DCS read; control routes (the unsafe methods)
 * parse their body and map the domain results of `control.ts` to Patroni's status codes and messages. What is
 * not in the table (the health checks, 501) and the access check before every control route are the handler's.
 *
 * May import: `src/core/` (types), `src/api/control.ts`, `src/api/health.ts`, `src/api/metrics.ts`,
 * `src/api/status.ts`, `src/api/request_body.ts`, `src/api/deps.ts` (types), `src/api/respond.ts` (types).
 *
 * @module
 */
import type { ClusterView } from "../core/types.ts";
import {
  type ControlDeps,
  deleteRestart,
  deleteSwitchover,
  getConfig,
  patchConfig,
  postReinitialize,
  postReload,
  postRestart,
  postSwitchover,
  putConfig,
} from "./control.ts";
import type { ApiDeps } from "./deps.ts";
import { livenessCode, readinessCode } from "./health.ts";
import { renderMetrics } from "./metrics.ts";
import { readJsonObject } from "./request_body.ts";
import type { Responses } from "./respond.ts";
import { buildStatus, clusterAsJson, historyAsJson } from "./status.ts";

/** A read route gets the path and the query; a control route the request and the control deps. */
export type Route =
  | { kind: "read"; handle: (path: string, query: URLSearchParams) => Promise<Response> | Response }
  | { kind: "control"; handle: (req: Request, control: ControlDeps) => Promise<Response> | Response };

/** The table's key for a request: its (upper-case) method and the first segment of its path. */
export function routeKey(method: string, segment: string): string {
  return `${method} /${segment}`;
}

/** The routing table of one handler. */
export function routeTable(deps: ApiDeps, r: Responses): Map<string, Route> {
  const read = (handle: Extract<Route, { kind: "read" }>["handle"]): Route => ({ kind: "read", handle });
  const control = (handle: Extract<Route, { kind: "control" }>["handle"]): Route => ({
    kind: "control",
    handle,
  });
  return new Map<string, Route>([
    [routeKey("GET", "patroni"), read(() => r.json(200, buildStatus(deps.snapshot(), deps.now())))],
    [routeKey("GET", "config"), read(() => getConfigRoute(deps, r))],
    [routeKey("GET", "metrics"), read(() => metricsRoute(deps, r))],
    [routeKey("GET", "liveness"), read(() => r.statusOnly(livenessCode(deps.snapshot(), deps.now())))],
    [
      routeKey("GET", "readiness"),
      read((_path, query) => r.statusOnly(readinessCode(deps.snapshot(), query, deps.now()))),
    ],
    [routeKey("GET", "cluster"), read(() => clusterRoute(deps, r))],
    [routeKey("GET", "history"), read((_path, query) => historyRoute(deps, r, query))],
    [routeKey("POST", "switchover"), control((req, c) => switchoverRoute(r, req, c, false))],
    [routeKey("POST", "failover"), control((req, c) => switchoverRoute(r, req, c, true))],
    [routeKey("POST", "reinitialize"), control((req, c) => reinitializeRoute(r, req, c))],
    [routeKey("POST", "restart"), control((req, c) => restartRoute(r, req, c))],
    [routeKey("POST", "reload"), control((_req, c) => r.html(postReload(c)))],
    [routeKey("GET", "failsafe"), read(() => failsafeKeyRoute(deps, r))],
    [routeKey("POST", "failsafe"), control((req, c) => failsafeCallRoute(r, req, c))],
    [routeKey("DELETE", "switchover"), control(async (_req, c) => r.html(await deleteSwitchover(c)))],
    [routeKey("DELETE", "restart"), control((_req, c) => r.html(deleteRestart(c)))],
    [routeKey("PATCH", "config"), control((req, c) => changeConfigRoute(r, req, c, "PATCH"))],
    [routeKey("PUT", "config"), control((req, c) => changeConfigRoute(r, req, c, "PUT"))],
  ]);
}

async function getConfigRoute(deps: ApiDeps, r: Responses): Promise<Response> {
  if (!deps.control) return r.text(501, "config is not available");
  const res = await getConfig(deps.control);
  return typeof res.body === "string" ? r.text(res.status, res.body) : r.json(res.status, res.body);
}

function metricsRoute(deps: ApiDeps, r: Responses): Response {
  return new Response(
    renderMetrics(deps.snapshot(), deps.now(), deps.roleChangeHistogram?.(), deps.runtimeMetrics?.()),
    {
      status: 200,
      headers: r.headers("text/plain; version=0.0.4; charset=utf-8"),
    },
  );
}

/** `GET /failsafe`: the `failsafe` key as last read (Patroni's 502 when it is not set). */
function failsafeKeyRoute(deps: ApiDeps, r: Responses): Response {
  const key = deps.snapshot().cluster?.failsafe;
  return key ? r.json(200, key) : r.text(502, "failsafe mode is not active (no failsafe key)");
}

/** `POST /failsafe`: a leader without etcd asks whether it may keep running (src/shell/failsafe.ts answers). */
async function failsafeCallRoute(r: Responses, req: Request, c: ControlDeps): Promise<Response> {
  if (!c.failsafeCall) return r.text(502, "failsafe mode is not available");
  let body: unknown = null;
  try {
    body = JSON.parse(await req.text());
  } catch {
    return r.text(400, "the request body is not JSON");
  }
  const reply = c.failsafeCall(body);
  const res = r.text(reply.status, reply.body);
  if (reply.lsn !== undefined) res.headers.set("lsn", String(reply.lsn));
  if (reply.ttl !== undefined) res.headers.set("ttl", String(reply.ttl));
  return res;
}

async function clusterRoute(deps: ApiDeps, r: Responses): Promise<Response> {
  let view: ClusterView;
  try {
    view = await deps.loadCluster();
  } catch {
    return r.text(503, "DCS is not accessible");
  }
  return r.json(200, clusterAsJson(view, deps.scope));
}

async function historyRoute(deps: ApiDeps, r: Responses, query: URLSearchParams): Promise<Response> {
  let view = deps.snapshot().cluster;
  if (view === null) {
    try {
      view = await deps.loadCluster();
    } catch {
      return r.text(503, "DCS is not accessible");
    }
  }
  const records = query.has("detail") ? deps.snapshot().roleChanges ?? [] : undefined;
  return r.json(200, historyAsJson(view, deps.name, records));
}

/** A body that may be absent (empty: `{}`); an unusable one other than an empty one is answered as Patroni does. */
async function readOptionalBody(r: Responses, req: Request): Promise<Record<string, unknown> | Response> {
  const body = req.headers.get("content-length") === "0" || !req.body
    ? { value: {} }
    : await readJsonObject(req);
  if ("error" in body && body.status !== 411) return r.html({ status: body.status, body: body.error });
  return "value" in body ? body.value : {};
}

async function restartRoute(r: Responses, req: Request, control: ControlDeps): Promise<Response> {
  // The body is optional: an empty one means "restart now, no conditions".
  const body = await readOptionalBody(r, req);
  if (body instanceof Response) return body;
  return r.html(await postRestart(control, body));
}

async function reinitializeRoute(r: Responses, req: Request, control: ControlDeps): Promise<Response> {
  // The body is optional here (patronictl sends `{"force": ...}`).
  const body = await readOptionalBody(r, req);
  if (body instanceof Response) return body;
  return r.html(postReinitialize(control, body));
}

async function changeConfigRoute(
  r: Responses,
  req: Request,
  control: ControlDeps,
  method: "PATCH" | "PUT",
): Promise<Response> {
  const body = await readJsonObject(req);
  if ("error" in body) return r.html({ status: body.status, body: body.error });
  const res = method === "PATCH"
    ? await patchConfig(control, body.value)
    : await putConfig(control, body.value);
  return typeof res.body === "string"
    ? r.html({ status: res.status, body: res.body })
    : r.json(res.status, res.body);
}

async function switchoverRoute(
  r: Responses,
  req: Request,
  control: ControlDeps,
  failover: boolean,
): Promise<Response> {
  const body = await readJsonObject(req);
  if ("error" in body) return r.html({ status: body.status, body: body.error });
  return r.html(await postSwitchover(control, body.value, failover));
}
