/**
 * The real `PostgresPort`: one local PostgreSQL instance driven through its own programs (initdb, pg_ctl,
 * pg_basebackup, pg_rewind, pg_controldata) and a single pooled SQL connection (`sql_client.ts`).
 *
 * Files hactl owns in `config_dir` (default: the data directory): `postgresql.conf` (includes
 * `postgresql.base.conf`, initdb's original), `pg_hba.conf`, `pg_ident.conf`; in the data directory:
 * `standby.signal` and `postgresql.log` (the postmaster's stderr). Passwords only ever go to the `pgpass` file
 * (0600), the temporary initdb `--pwfile` (0600, removed) and role-setting SQL sent with statement logging off.
 *
 * Launching: `pg_ctl start -w` forks, calls `setsid()` and execs the postmaster with its output in
 * `postgresql.log`, so Postgres is not our child and outlives the agent (systemd `KillMode=process`); a restarted
 * agent adopts it through `postmaster.pid` + `/proc`.
 *
 * `LocalPostgres` holds the instance's state (`instance.ts`) and delegates each port method to the module that
 * owns it: observation (`observe.ts`), bootstrap (`bootstrap.ts`), clone (`clone.ts`), pg_rewind (`rewind.ts`),
 * start/stop/promote (`lifecycle.ts`), the checkpoint after a promotion (`checkpoint.ts`), follow/reload
 * (`reload.ts`), slots (`slots.ts`); the files it writes are in `config_files.ts`.
 *
 * I/O adapter. May import: `src/core/` (ports, types), `src/config/` (types), `src/pg/`.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { PostgresError, type PostgresPort, type StopOptions } from "../core/ports.ts";
import type { HistoryEntry, LeaderTimeline, PgObservation, Upstream } from "../core/types.ts";
import type { DynamicPgRolePart } from "../core/pg_role_types.ts";
import type { WalProbe } from "../core/wal_probe.ts";
import type { SlotSyncFields } from "../core/slot_rules.ts";
import type { ParamValue } from "./conf.ts";
import { PgInstance } from "./instance.ts";
import { observePostgres } from "./observe.ts";
import { bootstrapCluster } from "./bootstrap.ts";
import { cloneFrom } from "./clone.ts";
import { rewindFrom } from "./rewind.ts";
import { checkpointPrimary } from "./checkpoint.ts";
import { readLeaderTimeline } from "./leader_timeline.ts";
import { promotePostgres, startPostgres, stopPostgres } from "./lifecycle.ts";
import { followUpstream, reloadPostgres } from "./reload.ts";
import { syncSlots } from "./slots.ts";
import { setSyncStandbyNames } from "./sync_standby.ts";
import { postmasterPid } from "./process.ts";

export interface LocalPostgresOptions {
  /** Uses `scope`, `name`, `postgresql`, `bootstrap`. */
  config: Config;
  /** `postgresql.parameters` of the DCS `config` key, read at every start. */
  dynamicParameters: () => Record<string, ParamValue>;
  /** `postgresql.use_slots` of the dynamic configuration. */
  useSlots: () => boolean;
  /** `postgresql.pg_hba` of the dynamic configuration (a local `postgresql.pg_hba` wins over it). */
  dynamicPgHba?: () => string[] | undefined;
  /** `postgresql.pg_ident` of the dynamic configuration (a local `postgresql.pg_ident` wins over it). */
  dynamicPgIdent?: () => string[] | undefined;
  /** Whether a replica runs with `hot_standby_feedback = on`, as the HA core decided it last. */
  hotStandbyFeedback?: () => boolean;
  /** The role-specific keys and `postgresql.rewind` of the dynamic configuration. */
  dynamicPg?: () => DynamicPgRolePart;
}

/** The local PostgreSQL instance (see the module comment for the files it owns and how it launches). */
export class LocalPostgres implements PostgresPort {
  readonly #inst: PgInstance;

  constructor(opts: LocalPostgresOptions) {
    this.#inst = new PgInstance(
      opts.config,
      opts.dynamicParameters,
      opts.useSlots,
      opts.dynamicPgHba,
      opts.dynamicPgIdent,
    );
    if (opts.hotStandbyFeedback) this.#inst.hotStandbyFeedback = opts.hotStandbyFeedback;
    if (opts.dynamicPg) this.#inst.dynamicPg = opts.dynamicPg;
  }

  observe(): Promise<PgObservation> {
    return observePostgres(this.#inst);
  }

  /** Replace the local configuration (a reload); the next start, reload and observation use it. */
  setConfig(config: Config): void {
    this.#inst.config = config;
  }

  bootstrap(): Promise<void> {
    return bootstrapCluster(this.#inst);
  }

  async rewind(upstream: Upstream): Promise<void> {
    const inst = this.#inst;
    if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) !== null) {
      throw new PostgresError(`cannot rewind ${inst.dataDir}: Postgres is running there`);
    }
    await inst.sql.close();
    await rewindFrom(upstream, {
      dataDir: inst.dataDir,
      configDir: inst.configDir,
      clusterState: (await inst.controlData())["Database cluster state"] ?? "",
      bin: (program) => inst.bin(program),
      authentication: inst.pg.authentication,
      options: inst.rewindOptions(),
    });
    inst.sysid = null;
  }

  createReplica(upstream: Upstream | null, opts: { fromLeader?: boolean } = {}): Promise<void> {
    return cloneFrom(this.#inst, upstream, opts);
  }

  start(role: "primary" | "replica", upstream: Upstream | null): Promise<void> {
    return startPostgres(this.#inst, role, upstream);
  }

  stop(mode: "fast" | "immediate", onSafepoint?: () => void, opts: StopOptions = {}): Promise<void> {
    return stopPostgres(this.#inst, mode, onSafepoint, opts);
  }

  promote(clusterHistory: readonly HistoryEntry[]): Promise<void> {
    return promotePostgres(this.#inst, clusterHistory);
  }

  checkpoint(): Promise<void> {
    return checkpointPrimary(this.#inst);
  }

  follow(upstream: Upstream): Promise<boolean> {
    return followUpstream(this.#inst, upstream);
  }

  reload(role: "primary" | "replica", upstream: Upstream | null, force: boolean): Promise<boolean> {
    return reloadPostgres(this.#inst, role, upstream, force);
  }

  syncSlots(names: string[], fields: SlotSyncFields = {}): Promise<void> {
    return syncSlots(this.#inst, names, fields);
  }

  setSyncStandbyNames(value: string | null): Promise<void> {
    return setSyncStandbyNames(this.#inst, value);
  }

  leaderTimeline(leader: Upstream, probe: WalProbe | null = null): Promise<LeaderTimeline> {
    const wal = probe ? { wal: probe, dataDir: this.#inst.dataDir } : null;
    return readLeaderTimeline(leader, this.#inst.pg.authentication.superuser, wal);
  }

  async close(): Promise<void> {
    await this.#inst.sql.close();
  }
}
