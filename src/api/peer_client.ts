/**
 * The HTTP client the leader race uses to ask the other members for their status: `GET <api_url>` (normally
 * `/patroni`) in parallel, each with its own deadline, reduced to a {@link PeerStatus}.
 *
 * Failures are data: a refused connection, a timeout, a non-JSON body or a body without `xlog`/`wal` (Postgres not
 * queryable on that member) all yield `reachable: false`. Nothing here throws. Imports `types.ts` and `ports.ts`.
 *
 * @module
 */
import type { PeerGet } from "./peer_get.ts";
import type { PeerClient } from "../core/ports.ts";
import type { PeerStatus } from "../core/types.ts";
import type { FailsafeAnswer } from "../core/failsafe_types.ts";

/** Credentials for the optional `Authorization: Basic` header (from `ctl.authentication`/`restapi`). */
export interface PeerClientOptions {
  auth?: { username: string; password: string };
  /** A client made with `Deno.createHttpClient` for TLS settings (`ctl.cacert`, client certificates). */
  httpClient?: Deno.HttpClient;
  /** Replaces `fetch` (and `httpClient`) when set: `ctl.insecure` (./peer_get.ts). */
  get?: PeerGet;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function finiteNumber(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** An integer from a JSON number or numeric string (tags written by hand may be strings). */
function intValue(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)) return parseInt(v, 10);
  return undefined;
}

/** Python-like truthiness for tag values. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/**
 * Patroni's tag semantics: an explicit `nofailover` wins; otherwise `failover_priority <= 0` means nofailover.
 * The effective priority is 0 for a nofailover member, else the tag value, default 1.
 */
export function failoverTags(tags: unknown): { nofailover: boolean; failoverPriority: number } {
  const t = isObject(tags) ? tags : {};
  const priority = t.failover_priority === undefined || t.failover_priority === null
    ? undefined
    : intValue(t.failover_priority);
  const nofailover = t.nofailover !== undefined && t.nofailover !== null
    ? truthy(t.nofailover)
    : priority !== undefined && priority <= 0;
  return { nofailover, failoverPriority: nofailover ? 0 : priority ?? 1 };
}

/**
 * Reduce a `GET /patroni` body to a {@link PeerStatus}. Without an `xlog` (or newer `wal`) object the peer's
 * Postgres is not queryable and it counts as unreachable.
 */
export function parsePeerStatus(name: string, body: unknown): PeerStatus {
  if (!isObject(body)) return { name, reachable: false };
  const wal = isObject(body.wal) ? body.wal : isObject(body.xlog) ? body.xlog : null;
  if (wal === null) return { name, reachable: false };
  const rawRole = typeof body.role === "string" ? body.role : undefined;
  const role = rawRole === "master" ? "primary" : rawRole;
  const location = finiteNumber(wal.location);
  const received = Math.max(
    finiteNumber(wal.received_location) ?? 0,
    finiteNumber(wal.replayed_location) ?? 0,
  );
  const walPosition = role === "primary" ? location ?? received : received;
  const status: PeerStatus = { name, reachable: true, walPosition };
  if (role !== undefined) status.role = role;
  const timeline = intValue(body.timeline);
  if (timeline !== undefined) status.timeline = timeline;
  const { nofailover, failoverPriority } = failoverTags(body.tags);
  status.nofailover = nofailover;
  status.failoverPriority = failoverPriority;
  status.watchdogFailed = body.watchdog_failed === true;
  const fence = body.fence_supervisor;
  if (fence !== null && typeof fence === "object" && (fence as Record<string, unknown>).usable === false) {
    status.fenceFailed = true;
  }
  if (typeof body.replication_state === "string") status.replicationState = body.replication_state;
  return status;
}

/** An `Authorization: Basic` value; UTF-8 credentials (`btoa` alone throws outside Latin-1). */
export function basicAuth(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/** {@link PeerClient} over HTTP(S) with `fetch`. */
export class HttpPeerClient implements PeerClient {
  readonly #authorization: string | undefined;
  readonly #httpClient: Deno.HttpClient | undefined;
  readonly #get: PeerGet | undefined;

  constructor(options: PeerClientOptions = {}) {
    this.#get = options.get;
    this.#authorization = options.auth ? basicAuth(options.auth.username, options.auth.password) : undefined;
    this.#httpClient = options.httpClient;
  }

  /** Ask every member at once; each answer (or failure) arrives within `timeoutMs`. Never throws. */
  fetchStatuses(members: { name: string; apiUrl: string }[], timeoutMs: number): Promise<PeerStatus[]> {
    return Promise.all(members.map((m) => this.#fetchOne(m.name, m.apiUrl, timeoutMs)));
  }

  /**
   * The leader's failsafe round: `POST /failsafe` (the member's api_url with the path replaced, as Patroni does)
   * to every member at once, each bounded by `timeoutMs`. Accepted: 200 with the body `Accepted`; the member's WAL
   * position comes back in the `lsn` header. Never throws.
   */
  postFailsafe(
    members: { name: string; apiUrl: string }[],
    body: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<FailsafeAnswer[]> {
    return Promise.all(members.map((m) => this.#postFailsafeOne(m.name, m.apiUrl, body, timeoutMs)));
  }

  async #postFailsafeOne(
    name: string,
    apiUrl: string,
    body: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<FailsafeAnswer> {
    try {
      const { status, text, header } = await this.#post(new URL("/failsafe", apiUrl).href, body, timeoutMs);
      const lsn = Number.parseInt(header("lsn") ?? "", 10);
      const ttl = Number.parseInt(header("ttl") ?? "", 10);
      const accepted = status === 200 && text === "Accepted";
      return {
        name,
        accepted,
        lsn: Number.isFinite(lsn) ? lsn : null,
        ...(Number.isFinite(ttl) && ttl > 0 ? { ttl } : {}),
        ...(accepted ? {} : { error: `${status} ${text.slice(0, 200)}` }),
      };
    } catch (err) {
      return { name, accepted: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** One JSON POST, through `ctl.insecure`'s client when set (as the GETs), else `fetch` with the TLS client. */
  async #post(
    url: string,
    body: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<{ status: number; text: string; header: (name: string) => string | undefined }> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.#authorization) headers["Authorization"] = this.#authorization;
    const ms = Math.max(1, Math.floor(timeoutMs));
    if (this.#get) {
      const res = await this.#get(url, headers, ms, { body: JSON.stringify(body) });
      return { status: res.status, text: res.text, header: (n) => res.headers?.[n] };
    }
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method: "POST",
      headers,
      signal: AbortSignal.timeout(ms),
      body: JSON.stringify(body),
    };
    if (this.#httpClient) init.client = this.#httpClient;
    const res = await fetch(url, init);
    const text = await res.text();
    return { status: res.status, text, header: (n) => res.headers.get(n) ?? undefined };
  }

  async #fetchOne(name: string, apiUrl: string, timeoutMs: number): Promise<PeerStatus> {
    try {
      if (this.#get) {
        const h: Record<string, string> = { Accept: "application/json" };
        if (this.#authorization) h["Authorization"] = this.#authorization;
        const { text } = await this.#get(apiUrl, h, Math.max(1, Math.floor(timeoutMs)));
        return parsePeerStatus(name, JSON.parse(text));
      }
      const headers = new Headers({ Accept: "application/json" });
      if (this.#authorization) headers.set("Authorization", this.#authorization);
      const signal = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
      const init: RequestInit & { client?: Deno.HttpClient } = { headers, signal };
      if (this.#httpClient) init.client = this.#httpClient;
      const res = await fetch(apiUrl, init);
      // Patroni reads the body whatever the status code (health-check URLs answer 503 with a full body).
      const body: unknown = JSON.parse(await res.text());
      return parsePeerStatus(name, body);
    } catch {
      return { name, reachable: false };
    }
  }
}
