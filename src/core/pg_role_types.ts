/**
 * Role-specific Postgres configuration (Patroni 4.1's `postgresql.parameters_<role>`, `pg_hba_<role>` and
 * `pg_ident_<role>`, in the local file and in the dynamic configuration), the dynamic `postgresql.rewind`
 * options and `max_timelines_history`: the types the configuration readers fill and the adapters apply.
 *
 * Pure types. Imports nothing.
 *
 * @module
 */

/** The roles Patroni keeps a configuration set for: a promoted server is a `primary`, a demoted one a `replica`. */
export type ConfigRole = "primary" | "replica" | "standby_leader";

export const CONFIG_ROLES: readonly ConfigRole[] = ["primary", "replica", "standby_leader"];

/** One role's overrides; a field is absent when its key is not set. */
export interface RoleConfig {
  /** `parameters_<role>`: merged over `parameters` (protected and hactl-owned parameters excepted). */
  parameters?: Record<string, string | number | boolean>;
  /** `pg_hba_<role>`: replaces `pg_hba` while the server has that role. */
  pgHba?: string[];
  /** `pg_ident_<role>`: replaces `pg_ident` while the server has that role. */
  pgIdent?: string[];
}

export type RoleConfigs = Partial<Record<ConfigRole, RoleConfig>>;

/** The dynamic keys of this module, mixed into `DynamicSettings`; absent when not set. */
export interface DynamicPgRolePart {
  /**
   * `max_timelines_history` above 0: the leader publishes only the last this many entries of the `history` key
   * (as Patroni trims it). The numbers the trimmed entries held stay known to a promotion: every timeline up to
   * the newest one the key names is made known to Postgres, content or not (src/pg/status.ts).
   */
  maxTimelinesHistory?: number;
  roleConfig?: RoleConfigs;
  /** `postgresql.rewind` of the dynamic configuration, as pg_rewind arguments (a local `postgresql.rewind` wins). */
  rewind?: string[];
  /** `postgresql.recovery_conf` of the dynamic configuration (a local `postgresql.recovery_conf` wins). */
  recoveryConf?: Record<string, string | number | boolean>;
}
