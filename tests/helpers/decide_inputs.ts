/**
 * Builders of `decide()`'s inputs for the unit tests of the HA core (tests/unit/decide_*_test.ts,
 * leader_race_test.ts, member_state_test.ts): a local Postgres observation (`pgState`, `PRIMARY`, `EMPTY`), a
 * three-member cluster view with pg1 as leader (`member`, `view`), one cycle's observation (`obs`, DCS unreachable
 * when the view is null), the member's context (`ctx`), a peer's status in a leader race (`peer`), and `types` to
 * compare plans by action type.
 *
 * May import src/core/ and src/config/ (the dynamic defaults).
 *
 * @module
 */
import type { HaContext } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type {
  Action,
  ClusterView,
  Member,
  Observation,
  PeerStatus,
  PgObservation,
} from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

export const SYSID = "7393828465826342947";

export function pgState(over: Partial<PgObservation> = {}): PgObservation {
  return {
    dataDir: "initialized",
    running: true,
    queryable: true,
    role: "replica",
    standbySignal: true,
    sysid: SYSID,
    timeline: 1,
    walPosition: 5000,
    receiveLsn: 5000,
    replayLsn: 5000,
    replayedTimestamp: null,
    replayPaused: false,
    replicationState: "streaming",
    upstream: "127.0.0.1:5432",
    slots: [],
    replication: [],
    serverVersion: 150004,
    postmasterStartTime: null,
    pendingRestart: false,
    pendingRestartReason: {},
    timelineHistory: [],
    ...over,
  };
}

export const PRIMARY = pgState({
  role: "primary",
  standbySignal: false,
  replicationState: null,
  upstream: null,
});
export const EMPTY = emptyPgObservation();

export function member(name: string, extra: Partial<Member["data"]> = {}): Member {
  const port = 5432 + Number(name.replace(/\D/g, "")) - 1;
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${8008 + port - 5432}/patroni`,
      state: "running",
      role: "replica",
      version: "0.1.0",
      ...extra,
    },
    modRevision: "5",
    lease: "77",
  };
}

export function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    initialize: SYSID,
    config: { value: { ttl: 30 }, modRevision: "2" },
    leader: { name: "pg1", createRevision: "10", modRevision: "10", lease: "77" },
    members: [member("pg1", { role: "primary" }), member("pg2"), member("pg3")],
    status: { optime: 5000, slots: {}, retainSlots: [] },
    failover: null,
    sync: null,
    history: [],
    revision: "20",
    problems: [],
    ...over,
  };
}

export function obs(
  pg: PgObservation,
  cluster: ClusterView | null,
  over: Partial<Observation> = {},
): Observation {
  return {
    now: 1_000_000,
    wallNow: Date.UTC(2026, 10, 26, 12, 0, 0),
    dcs: cluster ? { kind: "ok", cluster } : { kind: "unreachable", since: 990_000, error: "timeout" },
    pg,
    job: null,
    peers: null,
    ...over,
  };
}

export function ctx(name: string, over: Partial<HaContext> = {}): HaContext {
  return { name, tags: {}, dynamic: DYNAMIC_DEFAULTS, bootstrapDcs: { ttl: 30, loop_wait: 10 }, ...over };
}

export const types = (actions: Action[]) => actions.map((a) => a.type);

export function peer(name: string, walPosition: number, over: Partial<PeerStatus> = {}): PeerStatus {
  return { name, reachable: true, role: "replica", walPosition, timeline: 1, ...over };
}
