/**
 * What the REST API is given: its deps from the agent ({@link ApiDeps}), the access rules in effect
 * ({@link ApiSecurity}), the connection details the listener passes along with each request
 * ({@link RequestInfo}), and the handler type both sides agree on ({@link ApiHandler}). Types only.
 *
 * May import: `src/core/` (types), `src/api/control.ts` and `src/api/runtime_metrics.ts` (types).
 *
 * @module
 */
import type { ClusterView, NodeSnapshot } from "../core/types.ts";
import type { ControlDeps } from "./control.ts";
import type { RuntimeMetrics } from "./runtime_metrics.ts";

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
  /** hactl's measurements of the agent itself for `GET /metrics` (cycle and etcd durations, fence, watchdog). */
  runtimeMetrics?: () => RuntimeMetrics;
  /**
   * The access rules in effect (they change with a reload); when given, they replace `auth` and `extraHeaders`.
   */
  security?: () => ApiSecurity;
  /**
   * Whether the postmaster still runs now (its `postmaster.pid` names a live, not zombie, postgres process: two
   * small reads of files, no SQL). Asked only while the snapshot says Postgres runs: a postmaster killed since
   * the snapshot (up to a second old) is then answered as not running, as Patroni answers when its query per
   * request fails. Absent: the snapshot is trusted.
   */
  postmasterAlive?: () => boolean;
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

/** The handler type produced by `createApiHandler`. */
export type ApiHandler = (req: Request, info?: RequestInfo) => Promise<Response>;
