/**
 * What the composition root (or a test, or the simulator) hands the agent: its identity, the ports it acts
 * through, the clock it keeps time by, and the options of the local configuration it needs.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import type {
  AgentLog,
  CallbackRunner,
  Clock,
  Dcs,
  FenceChannel,
  PeerClient,
  PostgresPort,
  WatchdogPort,
} from "../core/ports.ts";
import type { DynamicSettings, Tags } from "../core/types.ts";

export interface AgentDeps {
  name: string;
  scope: string;
  tags: Tags;
  /** `postgres://host:port/postgres` and `http://host:port/patroni` of this member. */
  connUrl: string;
  apiUrl: string;
  /** `postgres://<postgresql.proxy_address>/postgres`, published as the member's `proxy_url` (as Patroni). */
  proxyUrl?: string;
  bootstrapDcs: Record<string, unknown>;
  /**
   * Turn the `config` key (null: etcd holds none; undefined: etcd not read yet) into settings, bootstrap.dcs when
   * there is no document; pure, never throws.
   */
  dynamicFrom(raw: Record<string, unknown> | null | undefined): DynamicSettings;
  /**
   * The document a leader writes when etcd holds no `config` key (the last one known, as Patroni restores it from
   * its local copy); absent: `bootstrapDcs`.
   */
  configToRestore?: () => Record<string, unknown>;
  dcs: Dcs;
  pg: PostgresPort;
  peers: PeerClient;
  clock: Clock;
  log: AgentLog;
  /** `postgresql.callbacks`; absent in the simulator. */
  callbacks?: CallbackRunner;
  /** `postgresql.remove_data_directory_on_rewind_failure`. */
  removeDataOnRewindFailure?: boolean;
  /** `postgresql.remove_data_directory_on_diverged_timelines`. */
  removeDataOnDivergedTimelines?: boolean;
  /** Whether a method of `postgresql.create_replica_methods` has `no_leader` (read each cycle: it reloads). */
  noLeaderReplicaMethod?: () => boolean;
  /** The fencing supervisor process (the simulator passes a model of one per host; absent in unit tests). */
  fence?: FenceChannel;
  /** The watchdog device (src/host/watchdog.ts); absent means none (`watchdog.mode: off`). */
  watchdog?: WatchdogPort;
}
