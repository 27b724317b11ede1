/**
 * `GET /metrics`: Prometheus text with Patroni's metric names, types and labels,
 * computed from the node snapshot (no SQL), plus hactl's `hactl_role_change_phase_seconds` histogram (how long each
 * phase of this member's promotions took, see src/core/role_change.ts) and hactl's runtime metrics (HA cycle and
 * etcd call durations, fence and watchdog, build, memory: src/api/runtime_metrics.ts).
 *
 * Pure.
 *
 * @module
 */
import { failoverPriority } from "../core/member_state.ts";
import { PHASE_BUCKETS } from "../core/role_change.ts";
import { type NodeSnapshot, PATRONI_COMPATIBLE_VERSION, PG_STATE_NAMES } from "../core/types.ts";
import { isListedSyncStandby } from "./health.ts";
import { runtimeMetricLines, type RuntimeMetrics } from "./runtime_metrics.ts";

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

/** What the gauges are computed from: the snapshot, and a few facts derived from it once. */
interface MetricInput {
  s: NodeSnapshot;
  pg: NodeSnapshot["pg"];
  /** This node holds an unexpired leader lock. */
  isLeader: boolean;
  /** `synchronous_mode` of the cluster's dynamic configuration, as read. */
  syncOn: unknown;
  /** This node is listed in the `sync` key. */
  listed: boolean;
  replica: boolean;
}

/** One gauge or counter of Patroni's: name, type, help text (and an extra help line), and its value. */
interface MetricDef {
  name: string;
  type: "gauge" | "counter";
  help: string;
  extraHelp?: string;
  value: (m: MetricInput) => number;
}

const b = (x: boolean) => (x ? 1 : 0);

/** Patroni's metrics in Patroni's order. */
const METRICS: readonly MetricDef[] = [
  {
    name: "patroni_version",
    type: "gauge",
    help: "Patroni semver without periods.",
    value: () => versionNumber(PATRONI_COMPATIBLE_VERSION),
  },
  {
    name: "patroni_postgres_running",
    type: "gauge",
    help: "Value is 1 if Postgres is running, 0 otherwise.",
    value: ({ s }) => b(s.state === "running"),
  },
  {
    name: "patroni_postmaster_start_time",
    type: "gauge",
    help: "Epoch seconds since Postgres started.",
    value: ({ pg }) => epochSeconds(pg.postmasterStartTime),
  },
  {
    name: "patroni_primary",
    type: "gauge",
    help: "Value is 1 if this node is the leader, 0 otherwise.",
    value: ({ s, isLeader }) => b(s.role === "primary" && isLeader),
  },
  {
    name: "patroni_xlog_location",
    type: "counter",
    help: "Current location of the Postgres transaction log, 0 if this node is not the leader.",
    value: ({ pg }) => pg.role === "primary" ? pg.walPosition ?? 0 : 0,
  },
  {
    name: "patroni_standby_leader",
    type: "gauge",
    help: "Value is 1 if this node is the standby_leader, 0 otherwise.",
    value: ({ s, isLeader }) => b(isLeader && s.role === "standby_leader"),
  },
  {
    name: "patroni_replica",
    type: "gauge",
    help: "Value is 1 if this node is a replica, 0 otherwise.",
    value: ({ replica }) => b(replica),
  },
  {
    name: "patroni_sync_standby",
    type: "gauge",
    help: "Value is 1 if this node is a sync standby, 0 otherwise.",
    value: ({ replica, syncOn, listed }) => b(replica && (syncOn === true || syncOn === "on") && listed),
  },
  {
    name: "patroni_quorum_standby",
    type: "gauge",
    help: "Value is 1 if this node is a quorum standby, 0 otherwise.",
    value: ({ replica, syncOn, listed }) => b(replica && syncOn === "quorum" && listed),
  },
  {
    name: "patroni_xlog_received_location",
    type: "counter",
    help: "Current location of the received Postgres transaction log, 0 if this node is not a replica.",
    value: ({ pg, replica }) => replica ? pg.receiveLsn ?? 0 : 0,
  },
  {
    name: "patroni_xlog_replayed_location",
    type: "counter",
    help: "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.",
    value: ({ pg, replica }) => replica ? pg.replayLsn ?? 0 : 0,
  },
  {
    name: "patroni_xlog_replayed_timestamp",
    type: "gauge",
    help: "Current timestamp of the replayed Postgres transaction log, 0 if null.",
    value: ({ pg }) => epochSeconds(pg.replayedTimestamp),
  },
  {
    name: "patroni_xlog_paused",
    type: "gauge",
    help: "Value is 1 if the Postgres xlog is paused, 0 otherwise.",
    value: ({ pg }) => b(pg.replayPaused),
  },
  {
    name: "patroni_postgres_streaming",
    type: "gauge",
    help: "Value is 1 if Postgres is streaming, 0 otherwise.",
    value: ({ pg }) => b(pg.replicationState === "streaming"),
  },
  {
    name: "patroni_postgres_in_archive_recovery",
    type: "gauge",
    help: "Value is 1 if Postgres is replicating from archive, 0 otherwise.",
    value: ({ pg }) => b(pg.replicationState === "in archive recovery"),
  },
  {
    name: "patroni_postgres_server_version",
    type: "gauge",
    help: "Version of Postgres (if running), 0 otherwise.",
    value: ({ pg }) => pg.serverVersion ?? 0,
  },
  {
    name: "patroni_cluster_unlocked",
    type: "gauge",
    help: "Value is 1 if the cluster is unlocked, 0 if locked.",
    value: ({ s }) => b(s.cluster === null || s.cluster.leader === null),
  },
  {
    name: "patroni_failsafe_mode_is_active",
    type: "gauge",
    help: "Value is 1 if failsafe mode is active, 0 if inactive.",
    value: ({ s }) => b(s.failsafe?.active === true),
  },
  {
    name: "patroni_failsafe_mode_enabled",
    type: "gauge",
    help: "Value is 1 if failsafe mode is enabled, 0 if disabled.",
    // 0 while failsafe_mode is refused as not implemented (src/core/failsafe.ts `failsafeEnabled`).
    value: ({ s }) => b(s.failsafe?.enabled === true),
  },
  {
    name: "patroni_failsafe_member",
    type: "gauge",
    help: "Value is 1 if this node is a failsafe member, 0 otherwise.",
    value: ({ s }) => b(s.failsafe?.member === true),
  },
  {
    name: "patroni_postgres_timeline",
    type: "gauge",
    help: "Postgres timeline of this node (if running), 0 otherwise.",
    value: ({ pg }) => pg.timeline ?? 0,
  },
  {
    name: "patroni_dcs_last_seen",
    type: "gauge",
    help: "Epoch timestamp when DCS was last contacted successfully by Patroni.",
    value: ({ s }) => s.dcsLastSeen,
  },
  {
    name: "patroni_pending_restart",
    type: "gauge",
    help: "Value is 1 if the node needs a restart, 0 otherwise.",
    value: ({ pg }) => b(pg.pendingRestart),
  },
  {
    name: "patroni_is_paused",
    type: "gauge",
    help: "Value is 1 if auto failover is disabled, 0 otherwise.",
    value: ({ s }) => b(s.dynamic.pause),
  },
  {
    name: "patroni_postgres_state",
    type: "gauge",
    help: "Numeric representation of Postgres state.",
    extraHelp: `# Values: ${PG_STATE_NAMES.map((n, i) => `${i}=${n.replaceAll(" ", "_")}`).join(", ")}`,
    value: ({ s }) => PG_STATE_NAMES.indexOf(s.state as (typeof PG_STATE_NAMES)[number]),
  },
  {
    name: "patroni_failover_priority",
    type: "gauge",
    help: "Value is 0 or less if nofailover is enabled, otherwise the failover_priority tag.",
    value: ({ s }) => failoverPriority(s.tags),
  },
];

/** The facts several metrics share, derived once from the snapshot at monotonic time `now`. */
function metricInput(s: NodeSnapshot, now: number): MetricInput {
  const syncOn = s.cluster?.config?.value.synchronous_mode;
  const listed = isListedSyncStandby(s.cluster, s.name);
  return {
    s,
    pg: s.pg,
    isLeader: s.isLeader && s.leaderExpiresAt > now,
    syncOn,
    listed,
    replica: s.role === "replica",
  };
}

/** hactl's role-change phase histogram: one series per phase, with this member's labels. */
function histogramLines(labels: string, histogram: Histogram): string[] {
  const lines = [
    "# HELP hactl_role_change_phase_seconds Time from the start of a promotion to each of its phases.",
    "# TYPE hactl_role_change_phase_seconds histogram",
  ];
  for (const [phase, h] of histogram) {
    const l = `${labels},phase="${escapeLabel(phase)}"`;
    PHASE_BUCKETS.forEach((le, i) =>
      lines.push(`hactl_role_change_phase_seconds_bucket{${l},le="${le}"} ${h.buckets[i]}`)
    );
    lines.push(`hactl_role_change_phase_seconds_bucket{${l},le="+Inf"} ${h.count}`);
    lines.push(`hactl_role_change_phase_seconds_sum{${l}} ${h.sum}`);
    lines.push(`hactl_role_change_phase_seconds_count{${l}} ${h.count}`);
  }
  return lines;
}

/**
 * hactl's fencing supervisor gauges: whether it is on (`fencing.supervisor`), whether it runs and answers (what
 * leadership is gated on), and how many times it was started again.
 */
function fenceSupervisorLines(labels: string, s: NodeSnapshot): string[] {
  const f = s.fenceSupervisor;
  if (!f) return [];
  const on = f.state !== "off";
  return [
    "# HELP hactl_fence_supervisor_enabled Value is 1 if the fencing supervisor is on (fencing.supervisor), 0 otherwise.",
    "# TYPE hactl_fence_supervisor_enabled gauge",
    `hactl_fence_supervisor_enabled{${labels}} ${b(on)}`,
    "# HELP hactl_fence_supervisor_up Value is 1 if the fencing supervisor runs and answers, 0 otherwise.",
    "# TYPE hactl_fence_supervisor_up gauge",
    `hactl_fence_supervisor_up{${labels}} ${b(on && f.usable && f.state === "running")}`,
    "# HELP hactl_fence_supervisor_restarts_total Times the fencing supervisor was started again after it exited.",
    "# TYPE hactl_fence_supervisor_restarts_total counter",
    `hactl_fence_supervisor_restarts_total{${labels}} ${f.restarts ?? 0}`,
  ];
}

/** The whole `/metrics` body; `runtime`: hactl's measurements of the agent itself (src/api/runtime_metrics.ts). */
export function renderMetrics(
  s: NodeSnapshot,
  now: number,
  histogram: Histogram = new Map(),
  runtime?: RuntimeMetrics,
): string {
  const labels = `scope="${escapeLabel(s.scope)}",name="${escapeLabel(s.name)}"`;
  const input = metricInput(s, now);
  const lines: string[] = [];
  for (const m of METRICS) {
    lines.push(`# HELP ${m.name} ${m.help}`);
    if (m.extraHelp) lines.push(m.extraHelp);
    lines.push(`# TYPE ${m.name} ${m.type}`, `${m.name}{${labels}} ${m.value(input)}`);
  }
  lines.push(...histogramLines(labels, histogram));
  lines.push(...fenceSupervisorLines(labels, s));
  if (runtime) lines.push(...runtimeMetricLines(labels, runtime));
  return lines.join("\n") + "\n";
}
