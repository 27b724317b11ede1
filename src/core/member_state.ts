/**
 * What a member is, as others see it: the Postgres state and role it publishes (`members/<name>`, `GET /patroni`),
 * Patroni's failover tag semantics (`nofailover`, `failover_priority`) and the `initialize` key's sysid check.
 *
 * Pure. May import: `src/core/types.ts` only.
 *
 * @module
 */
import type { Observation, Tags } from "./types.ts";

/** A sysid written into `initialize` is valid when it has at least 10 digits (as Patroni checks). */
export function isValidSysid(value: string | null | undefined): value is string {
  return typeof value === "string" && /^[0-9]{10,}$/.test(value);
}

/** Patroni's tag semantics: an explicit `nofailover` wins; otherwise `failover_priority <= 0` means nofailover. */
export function isNoFailover(tags: Tags): boolean {
  if (typeof tags.nofailover === "boolean") return tags.nofailover;
  const priority = tagInt(tags.failover_priority);
  return priority !== null && priority <= 0;
}

/** `failover_priority` with Patroni's default of 1 (0 when nofailover). */
export function failoverPriority(tags: Tags): number {
  if (tags.nofailover === true) return 0;
  return tagInt(tags.failover_priority) ?? 1;
}

/**
 * A priority tag's integer value, as Patroni's `parse_int` reads it: a number, or a string holding an integer
 * (the YAML's `failover_priority: '1'`, kept as written in the member key); null otherwise.
 */
export function tagInt(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : null;
  if (typeof value !== "string" || !/^\s*[+-]?[0-9]+\s*$/.test(value)) return null;
  return parseInt(value.trim(), 10);
}

/** The Postgres state string to publish in `members/<name>` and `GET /patroni`. */
export function postgresStateName(obs: Observation): string {
  const job = obs.job;
  if (job?.status === "running") {
    switch (job.kind) {
      case "bootstrap":
        return "initializing new cluster";
      case "clone":
        return "creating replica";
      case "start":
        return "starting";
      case "stop":
      case "demote":
        return "stopping";
      case "restart":
        return "restarting";
      case "promote":
        return obs.pg.running ? "running" : "starting";
    }
  }
  if (job?.status === "failed") {
    if (job.kind === "bootstrap") return "initdb failed";
    if (job.kind === "start") return "start failed";
  }
  if (obs.pg.running) return obs.pg.queryable ? "running" : "starting";
  return "stopped";
}

/** The member role to publish: what Postgres is, or `uninitialized` without a data directory. */
export function memberRole(
  obs: Observation,
  holdsLock: boolean,
): "primary" | "replica" | "uninitialized" | "demoted" {
  if (obs.pg.dataDir !== "initialized") return "uninitialized";
  if (obs.pg.running && obs.pg.role) return obs.pg.role;
  if (!obs.pg.standbySignal && holdsLock) return "primary";
  return obs.pg.standbySignal ? "replica" : "demoted";
}
