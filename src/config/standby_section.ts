/**
 * The dynamic `standby_cluster` section, read as the core needs it (`DynamicSettings.standbyCluster`): present only
 * when the section makes the cluster a standby cluster (a non-empty `host`, `port` or `restore_command`, as
 * Patroni's `is_standby_cluster`). Values of the wrong type are warned about and left out (a bad
 * `create_replica_methods` leaves `basebackup`, Patroni's default).
 *
 * Pure and total. May import: `src/core/` (types), `./env.ts`.
 *
 * @module
 */
import type { StandbyClusterPart, StandbyClusterSettings } from "../core/standby_types.ts";
import { type Doc, isDoc } from "./env.ts";

const filled = (v: unknown): boolean => v !== undefined && v !== null && v !== "";

/** `standby_cluster` of a dynamic document; `warn` hears about each bad value. */
export function readStandbyCluster(doc: Doc, warn: (message: string) => void): StandbyClusterPart {
  const raw = doc.standby_cluster;
  if (raw === undefined || raw === null) return {};
  if (!isDoc(raw)) {
    warn(`standby_cluster: ${JSON.stringify(raw)} is not a mapping; ignoring it`);
    return {};
  }
  if (!["host", "port", "restore_command"].some((k) => filled(raw[k]))) return {};
  const out: StandbyClusterSettings = {};
  const text = (key: string): string | undefined => {
    const v = raw[key];
    if (!filled(v)) return undefined;
    if (typeof v === "string" || typeof v === "number") return String(v);
    warn(`standby_cluster.${key}: ${JSON.stringify(v)} is not a string; ignoring it`);
    return undefined;
  };
  const host = text("host");
  if (host !== undefined) out.host = host;
  if (filled(raw.port)) {
    const port = Number(raw.port);
    if (Number.isInteger(port) && port > 0 && port < 65536) out.port = port;
    else warn(`standby_cluster.port: ${JSON.stringify(raw.port)} is not a TCP port; using 5432`);
  }
  const slot = text("primary_slot_name");
  if (slot !== undefined) out.primarySlotName = slot;
  const restore = text("restore_command");
  if (restore !== undefined) out.restoreCommand = restore;
  const cleanup = text("archive_cleanup_command");
  if (cleanup !== undefined) out.archiveCleanupCommand = cleanup;
  const delay = text("recovery_min_apply_delay");
  if (delay !== undefined) out.recoveryMinApplyDelay = delay;
  const methods = replicaMethods(raw.create_replica_methods, warn);
  if (methods !== undefined) out.createReplicaMethods = methods;
  return { standbyCluster: out };
}

/** `create_replica_methods`: a list of method names (a single name is read as a list of one). */
function replicaMethods(v: unknown, warn: (message: string) => void): string[] | undefined {
  if (!filled(v)) return undefined;
  const list = typeof v === "string" ? [v] : v;
  if (Array.isArray(list) && list.every((m) => typeof m === "string" && m.trim() !== "")) {
    return list.map((m: string) => m.trim());
  }
  warn(
    `standby_cluster.create_replica_methods: ${JSON.stringify(v)} is not a list of method names; ` +
      "using basebackup",
  );
  return undefined;
}
