/**
 * A stand-in member for tests that need a real REST API listener (TLS, client certificates, the CLI's HTTP paths)
 * without an agent: a primary's snapshot and control dependencies that answer nothing but what a test overrides.
 * The handler itself is the real one (src/api/handler.ts createApiHandler).
 *
 * @module
 */
import type { ApiDeps, ApiSecurity } from "../../src/api/handler.ts";
import type { ControlDeps } from "../../src/api/control.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { NodeSnapshot } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

/** A running PostgreSQL 15 primary holding the leader key of `scope`, observed at `now`. */
export function primarySnapshot(scope: string, now: number): NodeSnapshot {
  return {
    name: "pg1",
    scope,
    state: "running",
    role: "primary",
    pg: {
      ...emptyPgObservation(),
      dataDir: "initialized",
      running: true,
      queryable: true,
      role: "primary",
      serverVersion: 150008,
    },
    pgObservedAt: now,
    cluster: null,
    dcsLastSeen: 0,
    isLeader: true,
    leaderExpiresAt: now + 30_000,
    dynamic: { ...DYNAMIC_DEFAULTS },
    tags: {},
    nextRunAt: now + 10_000,
    watchdogFailed: false,
  };
}

/** Control dependencies that refuse DCS reads and writes, never sleep, and are not paused; `over` replaces any. */
export function stubControl(over: Partial<ControlDeps> = {}): ControlDeps {
  return {
    readCluster: () => Promise.reject(new Error("not needed")),
    setFailover: () => Promise.resolve(false),
    setConfig: () => Promise.resolve(false),
    fetchStatuses: () => Promise.resolve([]),
    sleep: () => Promise.resolve(),
    wallNow: () => Date.now(),
    paused: () => false,
    loopWait: () => 10,
    warn: () => {},
    wake: () => {},
    ...over,
  };
}

/** The handler's dependencies for member `pg1` of `scope`, a primary, with `security` and `control` as given. */
export function stubApiDeps(
  scope: string,
  security: Partial<ApiSecurity>,
  control: Partial<ControlDeps> = {},
  loadCluster: ApiDeps["loadCluster"] = () => Promise.reject(new Error("not needed")),
): ApiDeps {
  return {
    snapshot: () => primarySnapshot(scope, performance.now()),
    now: () => performance.now(),
    wallNow: () => Date.now(),
    loadCluster,
    scope,
    name: "pg1",
    security: () => ({
      allowlist: [],
      allowlistIncludeMembers: false,
      verifyClient: "none",
      extraHeaders: {},
      ...security,
    }),
    control: stubControl(control),
  };
}
