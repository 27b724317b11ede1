/**
 * The Patroni-compatible REST API as a plain fetch handler (`Request -> Response`), plus a thin listener wrapper
 * (`Deno.serve`, or `node:https` when client certificates are asked for). Endpoints:
 * `GET /patroni`, the health checks, `/liveness`, `/readiness`, `/cluster`,
 * `/history`, `/config`, `/metrics`, and the unsafe ones (`/switchover`, `/failover`, `/reinitialize`,
 * `/restart`, `/reload`, `PATCH|PUT /config`).
 *
 * Routing follows Patroni: only the first path segment picks a handler (`GET /patroni/x` is `/patroni`);
 * `GET`/`HEAD`/`OPTIONS` without a dedicated handler fall back to the health-check rules (`src/api/health.ts`);
 * other unknown methods answer 501. Unsafe methods pass Patroni's access check first: `restapi.allowlist` (403),
 * the client certificate under `verify_client: optional` (403), Basic auth (401).
 *
 * Health checks answer from the in-memory {@link NodeSnapshot} only (no SQL per request). The handler never
 * prints and never includes secrets. Imports `types.ts`, `health.ts`, `api_control.ts`, `allowlist.ts`,
 * `metrics.ts`; `Deno.serve` and `node:https` are used by {@link serveApi} only.
 *
 * @module
 */
import type { ClusterView, Member, NodeSnapshot } from "../core/types.ts";
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
import { createServer as createHttpsServer } from "node:https";
import { addressAllowed, isNetworkEntry } from "./allowlist.ts";
import { renderMetrics } from "./metrics.ts";
import { formatLsn, HACTL_VERSION } from "../core/types.ts";
import {
  buildStatus as buildStatusBody,
  healthCheckCode,
  isListedSyncStandby,
  isStandbyCluster,
  livenessCode,
  readinessCode,
  synchronousMode,
} from "./health.ts";

export { parseLag, STALE_STATUS_MS } from "./health.ts";

/** What the API needs from the agent. */
export interface ApiDeps {
  /** The latest published node snapshot. */
  snapshot(): NodeSnapshot;
  /** Monotonic ms, the same clock as the snapshot's `pgObservedAt`, `leaderExpiresAt`, `nextRunAt`. */
  now(): number;
  /** Wall clock, epoch ms. */
  wallNow(): number;
  /** A fresh DCS read for `/cluster` (and `/history` before the first cached view). May throw. */
  loadCluster(): Promise<ClusterView>;
  scope: string;
  name: string;
  /** `restapi.http_extra_headers`, added to every JSON/text response. */
  extraHeaders?: Record<string, string>;
  /** The control endpoints (`/switchover`, `/failover`); absent: they answer 501. */
  control?: ControlDeps;
  /** `restapi.authentication`: Basic credentials required on every unsafe method. */
  auth?: { username: string; password: string };
  /** The role-change phase histogram for `GET /metrics`. */
  roleChangeHistogram?: () => ReadonlyMap<string, { buckets: number[]; sum: number; count: number }>;
  /**
   * The access rules in effect (they change with a reload); when given, they replace `auth` and `extraHeaders`.
   */
  security?: () => ApiSecurity;
  /** Resolve a hostname (allowlist entries, members' API hosts) to addresses; absent: only `localhost` resolves. */
  resolveHost?: (host: string) => Promise<string[]>;
}

/** The REST API's access rules. */
export interface ApiSecurity {
  /** `restapi.authentication`: Basic credentials required on every unsafe method. */
  auth?: { username: string; password: string };
  /** `restapi.allowlist`: IPs, CIDRs or hostnames admitted to unsafe methods. */
  allowlist: readonly string[];
  /** `restapi.allowlist_include_members`: also admit the hosts of the members' `api_url`. */
  allowlistIncludeMembers: boolean;
  /** `restapi.verify_client` (only with TLS); `optional` refuses unsafe methods without a valid certificate. */
  verifyClient: "none" | "optional" | "required";
  /** `http_extra_headers`, plus `https_extra_headers` when TLS is on. */
  extraHeaders: Record<string, string>;
}

/** Connection details the server passes along with each request. */
export interface RequestInfo {
  remoteAddr?: string;
  /** The client presented a certificate the server verified against `restapi.cafile`. */
  clientCertVerified?: boolean;
}

/** The handler type produced by {@link createApiHandler}. */
export type ApiHandler = (req: Request, info?: RequestInfo) => Promise<Response>;

/** The `Server` header value. */
export const SERVER_HEADER = `hactl/${HACTL_VERSION}`;

/** Methods that fall back to the health-check logic when no dedicated handler exists. */
const STATUS_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The `GET /patroni` document for `snapshot` at monotonic time `now`.
 *
 * @example
 * ```ts
 * const body = buildStatus(snapshot, performance.now());
 * body.patroni; // { version, scope, name }
 * ```
 */
export function buildStatus(snapshot: NodeSnapshot, now: number): Record<string, unknown> {
  return buildStatusBody(snapshot, now);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** host and port of a member's `conn_url` (`postgres://user@host:port/db`), when it has them. */
function connHostPort(connUrl: unknown): { host?: string; port?: number } {
  if (typeof connUrl !== "string" || connUrl === "") return {};
  try {
    const url = new URL(connUrl);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (!host) return {};
    const port = url.port === "" ? undefined : parseInt(url.port, 10);
    return port === undefined || !Number.isFinite(port) ? { host } : { host, port };
  } catch {
    return {};
  }
}

const OPTIONAL_MEMBER_FIELDS = [
  "timeline",
  "pending_restart",
  "pending_restart_reason",
  "scheduled_restart",
  "tags",
] as const;

/** One member of `GET /cluster`. */
function memberAsJson(member: Member, view: ClusterView, optime: number): Record<string, unknown> {
  const data = (member.data ?? {}) as Record<string, unknown>;
  const leaderName = view.leader?.name ?? null;
  const mode = synchronousMode(view);
  let role: string;
  if (member.name === leaderName) role = isStandbyCluster(view) ? "standby_leader" : "leader";
  else if (mode !== "off" && isListedSyncStandby(view, member.name)) {
    role = mode === "quorum" ? "quorum_standby" : "sync_standby";
  } else role = "replica";
  const state = (role !== "leader" ? str(data.replication_state) : undefined) || str(data.state) || "";
  const out: Record<string, unknown> = { name: member.name, role, state, api_url: data.api_url ?? null };
  const { host, port } = connHostPort(data.conn_url);
  if (host !== undefined) {
    out.host = host;
    if (port !== undefined) out.port = port;
  }
  for (const key of OPTIONAL_MEMBER_FIELDS) {
    if (data[key] !== undefined) out[key] = data[key];
  }
  if (member.name !== leaderName) {
    const lsns: [string, string, unknown][] = [
      ["receive_lsn", "receive_lag", data.receive_lsn],
      ["replay_lsn", "replay_lag", data.replay_lsn],
      ["lsn", "lag", data.xlog_location],
    ];
    for (const [lsnKey, lagKey, value] of lsns) {
      if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
        out[lsnKey] = formatLsn(value);
        out[lagKey] = Math.max(optime - value, 0);
      } else {
        out[lsnKey] = "unknown";
        out[lagKey] = "unknown";
      }
    }
  }
  return out;
}

/** The `GET /cluster` document: members sorted by name, scope, pause, scheduled switchover. */
export function clusterAsJson(view: ClusterView, scope: string): Record<string, unknown> {
  const optime = typeof view.status?.optime === "number" ? view.status.optime : 0;
  const members = [...(view.members ?? [])]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => memberAsJson(m, view, optime));
  const out: Record<string, unknown> = { members, scope };
  const pause = view.config?.value?.pause;
  if (pause === true || (typeof pause === "string" && ["true", "on", "yes"].includes(pause.toLowerCase()))) {
    out.pause = true;
  }
  const failover = view.failover;
  if (failover?.scheduledAt) {
    const sw: Record<string, unknown> = { at: failover.scheduledAt };
    if (failover.leader) sw.from = failover.leader;
    if (failover.member) sw.to = failover.member;
    out.scheduled_switchover = sw;
  }
  return out;
}

/**
 * Build the REST API handler. The handler never throws: an unexpected exception becomes a 500 with a short
 * message, and no client input (path, query, method) can provoke one.
 */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const security = (): ApiSecurity =>
    deps.security?.() ?? {
      ...(deps.auth ? { auth: deps.auth } : {}),
      allowlist: [],
      allowlistIncludeMembers: false,
      verifyClient: "none",
      extraHeaders: deps.extraHeaders ?? {},
    };
  const baseHeaders = (contentType?: string): Headers => {
    const h = new Headers();
    h.set("Server", SERVER_HEADER);
    if (contentType) h.set("Content-Type", contentType);
    for (const [k, v] of Object.entries(security().extraHeaders)) {
      try {
        h.set(k, v);
      } catch {
        // an invalid header from the config is skipped rather than failing every response
      }
    }
    return h;
  };
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: baseHeaders("application/json") });
  const text = (status: number, body: string): Response =>
    new Response(body, { status, headers: baseHeaders("text/plain; charset=utf-8") });
  const statusOnly = (status: number): Response => new Response(null, { status, headers: baseHeaders() });

  const health = (method: string, path: string, query: URLSearchParams): Response => {
    const snapshot = deps.snapshot();
    const now = deps.now();
    const status = buildStatusBody(snapshot, now);
    const code = healthCheckCode(snapshot, status, path, query, now);
    return method === "GET" ? json(code, status) : statusOnly(code);
  };

  const getRoutes: Record<string, (path: string, query: URLSearchParams) => Promise<Response> | Response> = {
    patroni: () => json(200, buildStatusBody(deps.snapshot(), deps.now())),
    config: async () => {
      if (!deps.control) return text(501, "config is not available");
      const r = await getConfig(deps.control);
      return typeof r.body === "string" ? text(r.status, r.body) : json(r.status, r.body);
    },
    metrics: () =>
      new Response(renderMetrics(deps.snapshot(), deps.now(), deps.roleChangeHistogram?.()), {
        status: 200,
        headers: baseHeaders("text/plain; version=0.0.4; charset=utf-8"),
      }),
    liveness: () => statusOnly(livenessCode(deps.snapshot(), deps.now())),
    readiness: (_path, query) => statusOnly(readinessCode(deps.snapshot(), query, deps.now())),
    cluster: async () => {
      let view: ClusterView;
      try {
        view = await deps.loadCluster();
      } catch {
        return text(503, "DCS is not accessible");
      }
      return json(200, clusterAsJson(view, deps.scope));
    },
    history: async (_path, query) => {
      let view = deps.snapshot().cluster;
      if (view === null) {
        try {
          view = await deps.loadCluster();
        } catch {
          return text(503, "DCS is not accessible");
        }
      }
      const history = Array.isArray(view.history) ? view.history : [];
      if (!query.has("detail")) return json(200, history);
      // hactl extension: the switches this member made carry its role-change record as a 6th element.
      const records = deps.snapshot().roleChanges ?? [];
      return json(
        200,
        history.map((e) => {
          const r = records.find((x) => e[4] === deps.name && x.timeline === e[0] + 1);
          return r ? [e[0], e[1], e[2], e[3] ?? null, e[4], r] : e;
        }),
      );
    },
  };

  const html = (r: { status: number; body: string }): Response =>
    new Response(r.body, { status: r.status, headers: baseHeaders("text/html") });

  const resolveCache = new Map<string, { at: number; addresses: string[] }>();
  const resolve = async (host: string): Promise<string[]> => {
    const cached = resolveCache.get(host);
    if (cached && deps.now() - cached.at < 60_000) return cached.addresses;
    let addresses: string[] = host === "localhost" ? ["127.0.0.1", "::1"] : [];
    if (deps.resolveHost) addresses = await deps.resolveHost(host).catch(() => addresses);
    resolveCache.set(host, { at: deps.now(), addresses });
    return addresses;
  };

  /**
   * Patroni's access check for unsafe methods, in its order: the allowlist (403 `Access is denied`), the client
   * certificate under `verify_client: optional` (403 `client certificate required`), Basic auth (401).
   */
  const checkAccess = async (req: Request, info: RequestInfo | undefined): Promise<Response | null> => {
    const sec = security();
    if (sec.allowlist.length > 0 || sec.allowlistIncludeMembers) {
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
      if (!info?.remoteAddr || !addressAllowed(info.remoteAddr, sec.allowlist, resolved)) {
        return html({ status: 403, body: "Access is denied" });
      }
    }
    if (sec.verifyClient === "optional" && info?.clientCertVerified !== true) {
      return html({ status: 403, body: "client certificate required" });
    }
    const denied = checkBasicAuth(req, sec.auth);
    if (denied) {
      const h = baseHeaders("text/plain; charset=utf-8");
      h.set("WWW-Authenticate", 'Basic realm="Patroni"');
      return new Response(denied, { status: 401, headers: h });
    }
    return null;
  };

  /** Unsafe methods: the access check first, then the control endpoints. */
  const unsafe = async (
    req: Request,
    method: string,
    segment: string,
    info: RequestInfo | undefined,
  ): Promise<Response> => {
    const control = deps.control;
    const known = (method === "POST" &&
      ["switchover", "failover", "reinitialize", "restart", "reload"].includes(segment)) ||
      (method === "DELETE" && (segment === "switchover" || segment === "restart")) ||
      ((method === "PATCH" || method === "PUT") && segment === "config");
    if (!known || !control) return text(501, `Unsupported method (${method})`);
    const refused = await checkAccess(req, info);
    if (refused) return refused;
    if (method === "DELETE" && segment === "restart") return html(deleteRestart(control));
    if (method === "DELETE") return html(await deleteSwitchover(control));
    if (segment === "reload") return html(postReload(control));
    if (segment === "restart") {
      // The body is optional: an empty one means "restart now, no conditions".
      const body = req.headers.get("content-length") === "0" || !req.body
        ? { value: {} }
        : await readJsonObject(req);
      if ("error" in body && body.status !== 411) return html({ status: body.status, body: body.error });
      return html(await postRestart(control, "value" in body ? body.value : {}));
    }
    if (segment === "config") {
      const body = await readJsonObject(req);
      if ("error" in body) return html({ status: body.status, body: body.error });
      const r = method === "PATCH"
        ? await patchConfig(control, body.value)
        : await putConfig(control, body.value);
      return typeof r.body === "string" ? html({ status: r.status, body: r.body }) : json(r.status, r.body);
    }
    if (segment === "reinitialize") {
      // The body is optional here (patronictl sends `{"force": ...}`).
      const body = req.headers.get("content-length") === "0" || !req.body
        ? { value: {} }
        : await readJsonObject(req);
      if ("error" in body && body.status !== 411) return html({ status: body.status, body: body.error });
      return html(postReinitialize(control, "value" in body ? body.value : {}));
    }
    const body = await readJsonObject(req);
    if ("error" in body) return html({ status: body.status, body: body.error });
    return html(await postSwitchover(control, body.value, segment === "failover"));
  };

  return async (req: Request, info?: RequestInfo): Promise<Response> => {
    try {
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
      const segment = path.replace(/^\/+/, "").split("/")[0] ?? "";
      if (!STATUS_METHODS.has(method)) return await unsafe(req, method, segment, info);
      const route = method === "GET" && Object.hasOwn(getRoutes, segment) ? getRoutes[segment] : undefined;
      if (route) return await route(path, query);
      return health(method, path, query);
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      return text(500, `internal error (${name})`);
    }
  };
}

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
  opts: { hostname: string; port: number; signal: AbortSignal; tls?: ApiTls },
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
  opts: { hostname: string; port: number; signal: AbortSignal; tls: ApiTls },
): Promise<ApiServer> {
  const verify = opts.tls.verifyClient ?? "none";
  const server = createHttpsServer({
    cert: opts.tls.cert,
    key: opts.tls.key,
    ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
    requestCert: true,
    rejectUnauthorized: verify === "required",
  }, async (req, res) => {
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
      const request = new Request(`https://${host || "localhost"}${req.url ?? "/"}`, {
        method,
        headers,
        body,
      });
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => resolve());
  });
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
  opts.signal.addEventListener("abort", () => void shutdown(), { once: true });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return { addr: { hostname: opts.hostname, port }, finished, shutdown };
}

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

const MAX_BODY_BYTES = 64 * 1024;
const MAX_BODY_DEPTH = 64;

/** How deeply objects and arrays nest in a parsed JSON value (iterative: any depth is safe to measure). */
function jsonDepth(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) max = depth;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return max;
}

/** The request body as a JSON object, or the 400/411 Patroni answers for an unusable one. */
export async function readJsonObject(
  req: Request,
): Promise<{ value: Record<string, unknown> } | { status: number; error: string }> {
  let text: string;
  const tooLarge = { status: 400, error: `request body over ${MAX_BODY_BYTES} bytes` };
  if (Number(req.headers.get("content-length") ?? "0") > MAX_BODY_BYTES) return tooLarge;
  try {
    // Read at most MAX_BODY_BYTES, whatever the client claims: a body never fills the agent's memory.
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req.body ?? []) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return tooLarge;
      chunks.push(chunk);
    }
    const buf = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      buf.set(c, at);
      at += c.length;
    }
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    return { status: 400, error: "request body is not UTF-8 text" };
  }
  if (text.trim() === "") return { status: 411, error: "request body is empty" };
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return { status: 400, error: "request body must be a JSON object" };
    }
    // Merging walks the body recursively: a body nested thousands deep would overflow the stack (found by the fuzz).
    if (jsonDepth(v) > MAX_BODY_DEPTH) {
      return { status: 400, error: `request body is nested deeper than ${MAX_BODY_DEPTH} levels` };
    }
    return { value: v as Record<string, unknown> };
  } catch {
    return { status: 400, error: "request body is not valid JSON" };
  }
}
