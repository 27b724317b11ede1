/**
 * Which role's configuration set applies to the local server, and what that set is, as Patroni 4.1 builds it: the
 * role-specific `parameters_<role>` are merged over `parameters` (protected and hactl-owned parameters excepted,
 * in `conf.ts`), and a `pg_hba_<role>` / `pg_ident_<role>` that is set replaces `pg_hba` / `pg_ident` outright.
 * Each role-specific key of the local file wins over the same key of the dynamic configuration (Patroni's local
 * `postgresql` keys replace the dynamic ones, `parameters` alone being merged).
 *
 * Pure. May import: `src/core/` (types), `./conf.ts`.
 *
 * @module
 */
import type { ConfigRole, RoleConfig, RoleConfigs } from "../core/pg_role_types.ts";
import type { Upstream } from "../core/types.ts";
import { chooseHba } from "./conf.ts";

/**
 * The role whose set applies to a server started, reloaded or followed as `role` from `upstream`: `primary`; a
 * replica streaming from a standby cluster's remote primary is the `standby_leader` (the key holder, or a member
 * of a standby cluster while no one holds the key); every other replica is a `replica`.
 */
export function configRoleFor(role: "primary" | "replica", upstream: Upstream | null): ConfigRole {
  if (role === "primary") return "primary";
  return upstream?.recovery?.remote === true ? "standby_leader" : "replica";
}

/** The set in force for `role`: each of its three keys from the local file when set there, else the dynamic one. */
export function roleSetFor(
  role: ConfigRole,
  local: RoleConfigs | undefined,
  dynamic: RoleConfigs | undefined,
): RoleConfig {
  const l = local?.[role] ?? {};
  const d = dynamic?.[role] ?? {};
  const out: RoleConfig = {};
  const parameters = l.parameters ?? d.parameters;
  if (parameters !== undefined) out.parameters = parameters;
  const pgHba = l.pgHba ?? d.pgHba;
  if (pgHba !== undefined) out.pgHba = pgHba;
  const pgIdent = l.pgIdent ?? d.pgIdent;
  if (pgIdent !== undefined) out.pgIdent = pgIdent;
  return out;
}

/**
 * The pg_hba lines to write for a role: its `pg_hba_<role>` when set (an empty one writes nothing, as Patroni
 * writes no empty pg_hba), else the lines `chooseHba` picks; null: keep the file as it is.
 */
export function hbaLinesFor(
  set: RoleConfig,
  local: string[],
  dynamic: string[] | undefined,
): string[] | null {
  if (set.pgHba !== undefined) return set.pgHba.length > 0 ? set.pgHba : null;
  return chooseHba(local, dynamic, []);
}

/** The pg_ident lines to write for a role: its `pg_ident_<role>` when set, else `base`; empty: write nothing. */
export function identLinesFor(set: RoleConfig, base: string[]): string[] {
  return set.pgIdent ?? base;
}
