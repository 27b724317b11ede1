/**
 * `GET /metrics`: Prometheus text with Patroni's metric names, types and labels,
 * computed from the node snapshot (no SQL), plus hactl's `hactl_role_change_phase_seconds` histogram (how long each
 * phase of this member's promotions took, see src/core/role_change.ts).
 *
 * Pure.
 *
 * @module
 */
import { failoverPriority } from "../core/member_state.ts";
import { PHASE_BUCKETS } from "../core/role_change.ts";
import { HACTL_VERSION, type NodeSnapshot, PG_STATE_NAMES } from "../core/types.ts";

type Histogram = ReadonlyMap<string, { buckets: number[]; sum: number; count: number }>;

function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** `0.1.0` -> `000100`: each part zero-padded to two digits (Patroni's `patroni_version`). */
export function versionNumber(version: string): number {
  return Number(version.split(".").slice(0, 3).map((p) => String(Number(p) || 0).padStart(2, "0")).join(""));
}

function epochSeconds(text: string | null): number {
  if (!text) return 0;
  const t = Date.parse(text.replace(" ", "T").replace(/([+-]\d{2})$/, "$1:00"));
  return Number.isNaN(t) ? 0 : t / 1000;
}

/** The whole `/metrics` body. */
export function renderMetrics(s: NodeSnapshot, now: number, histogram: Histogram = new Map()): string {
  const labels = `scope="${escapeLabel(s.scope)}",name="${escapeLabel(s.name)}"`;
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, value: number, extraHelp?: string) => {
    lines.push(`# HELP ${name} ${help}`);
    if (extraHelp) lines.push(extraHelp);
    lines.push(`# TYPE ${name} ${type}`, `${name}{${labels}} ${value}`);
  };
  const b = (x: boolean) => (x ? 1 : 0);
  const pg = s.pg;
  const isLeader = s.isLeader && s.leaderExpiresAt > now;
  const syncOn = s.cluster?.config?.value.synchronous_mode;
  const listed = s.cluster?.sync?.syncStandby.some((n) => n.toLowerCase() === s.name.toLowerCase()) ?? false;
  const replica = s.role === "replica";
  metric("patroni_version", "gauge", "Patroni semver without periods.", versionNumber(HACTL_VERSION));
  metric(
    "patroni_postgres_running",
    "gauge",
    "Value is 1 if Postgres is running, 0 otherwise.",
    b(s.state === "running"),
  );
  metric(
    "patroni_postmaster_start_time",
    "gauge",
    "Epoch seconds since Postgres started.",
    epochSeconds(pg.postmasterStartTime),
  );
  metric(
    "patroni_primary",
    "gauge",
    "Value is 1 if this node is the leader, 0 otherwise.",
    b(s.role === "primary" && isLeader),
  );
  metric(
    "patroni_xlog_location",
    "counter",
    "Current location of the Postgres transaction log, 0 if this node is not the leader.",
    pg.role === "primary" ? pg.walPosition ?? 0 : 0,
  );
  metric("patroni_standby_leader", "gauge", "Value is 1 if this node is the standby_leader, 0 otherwise.", 0);
  metric("patroni_replica", "gauge", "Value is 1 if this node is a replica, 0 otherwise.", b(replica));
  metric(
    "patroni_sync_standby",
    "gauge",
    "Value is 1 if this node is a sync standby, 0 otherwise.",
    b(replica && (syncOn === true || syncOn === "on") && listed),
  );
  metric(
    "patroni_quorum_standby",
    "gauge",
    "Value is 1 if this node is a quorum standby, 0 otherwise.",
    b(replica && syncOn === "quorum" && listed),
  );
  metric(
    "patroni_xlog_received_location",
    "counter",
    "Current location of the received Postgres transaction log, 0 if this node is not a replica.",
    replica ? pg.receiveLsn ?? 0 : 0,
  );
  metric(
    "patroni_xlog_replayed_location",
    "counter",
    "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.",
    replica ? pg.replayLsn ?? 0 : 0,
  );
  metric(
    "patroni_xlog_replayed_timestamp",
    "gauge",
    "Current timestamp of the replayed Postgres transaction log, 0 if null.",
    epochSeconds(pg.replayedTimestamp),
  );
  metric(
    "patroni_xlog_paused",
    "gauge",
    "Value is 1 if the Postgres xlog is paused, 0 otherwise.",
    b(pg.replayPaused),
  );
  metric(
    "patroni_postgres_streaming",
    "gauge",
    "Value is 1 if Postgres is streaming, 0 otherwise.",
    b(pg.replicationState === "streaming"),
  );
  metric(
    "patroni_postgres_in_archive_recovery",
    "gauge",
    "Value is 1 if Postgres is replicating from archive, 0 otherwise.",
    b(pg.replicationState === "in archive recovery"),
  );
  metric(
    "patroni_postgres_server_version",
    "gauge",
    "Version of Postgres (if running), 0 otherwise.",
    pg.serverVersion ?? 0,
  );
  metric(
    "patroni_cluster_unlocked",
    "gauge",
    "Value is 1 if the cluster is unlocked, 0 if locked.",
    b(s.cluster === null || s.cluster.leader === null),
  );
  metric(
    "patroni_failsafe_mode_is_active",
    "gauge",
    "Value is 1 if failsafe mode is active, 0 if inactive.",
    0,
  );
  metric(
    "patroni_failsafe_mode_enabled",
    "gauge",
    "Value is 1 if failsafe mode is enabled, 0 if disabled.",
    b(s.cluster?.config?.value.failsafe_mode === true),
  );
  metric("patroni_failsafe_member", "gauge", "Value is 1 if this node is a failsafe member, 0 otherwise.", 0);
  metric(
    "patroni_postgres_timeline",
    "gauge",
    "Postgres timeline of this node (if running), 0 otherwise.",
    pg.timeline ?? 0,
  );
  metric(
    "patroni_dcs_last_seen",
    "gauge",
    "Epoch timestamp when DCS was last contacted successfully by Patroni.",
    s.dcsLastSeen,
  );
  metric(
    "patroni_pending_restart",
    "gauge",
    "Value is 1 if the node needs a restart, 0 otherwise.",
    b(pg.pendingRestart),
  );
  metric(
    "patroni_is_paused",
    "gauge",
    "Value is 1 if auto failover is disabled, 0 otherwise.",
    b(s.dynamic.pause),
  );
  const stateIndex = PG_STATE_NAMES.indexOf(s.state as (typeof PG_STATE_NAMES)[number]);
  metric(
    "patroni_postgres_state",
    "gauge",
    "Numeric representation of Postgres state.",
    stateIndex,
    `# Values: ${PG_STATE_NAMES.map((n, i) => `${i}=${n.replaceAll(" ", "_")}`).join(", ")}`,
  );
  metric(
    "patroni_failover_priority",
    "gauge",
    "Value is 0 or less if nofailover is enabled, otherwise the failover_priority tag.",
    failoverPriority(s.tags),
  );
  lines.push(
    "# HELP hactl_role_change_phase_seconds Time from the start of a promotion to each of its phases.",
    "# TYPE hactl_role_change_phase_seconds histogram",
  );
  for (const [phase, h] of histogram) {
    const l = `${labels},phase="${escapeLabel(phase)}"`;
    PHASE_BUCKETS.forEach((le, i) =>
      lines.push(`hactl_role_change_phase_seconds_bucket{${l},le="${le}"} ${h.buckets[i]}`)
    );
    lines.push(`hactl_role_change_phase_seconds_bucket{${l},le="+Inf"} ${h.count}`);
    lines.push(`hactl_role_change_phase_seconds_sum{${l}} ${h.sum}`);
    lines.push(`hactl_role_change_phase_seconds_count{${l}} ${h.count}`);
  }
  return lines.join("\n") + "\n";
}
