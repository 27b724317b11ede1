/**
 * The database roles hactl sets up after a bootstrap: the superuser's password, the replication role and the
 * optional rewind role with the grants pg_rewind needs. Passwords never reach the server log, statistics or an
 * error message.
 *
 * I/O through the query function it is given; imports `ports.ts` (errors), `pg_conf.ts` (quoting) and types.
 *
 * @module
 */
import type postgres from "postgres";
import type { PostgresqlConfig } from "../config/config.ts";
import { PostgresError } from "../core/ports.ts";
import { quoteIdent, quoteLiteral } from "./conf.ts";

type Query = <T>(fn: (sql: postgres.Sql) => PromiseLike<T>) => Promise<T>;

// Each SET is its own query, in one transaction on one connection: Postgres logs a whole query string before
// running any of it, so settings sent in the same string as the password would come too late for the log.
const QUIET = [
  "SET LOCAL log_statement TO 'none'",
  "SET LOCAL log_min_duration_statement TO -1",
  "SET LOCAL log_min_error_statement TO 'panic'",
  "SET LOCAL pg_stat_statements.track_utility TO off",
];

const REWIND_FUNCTIONS = [
  "pg_catalog.pg_ls_dir(text, boolean, boolean)",
  "pg_catalog.pg_stat_file(text, boolean)",
  "pg_catalog.pg_read_binary_file(text)",
  "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
];

async function ensureRole(
  query: Query,
  name: string,
  attrs: string,
  password: string | undefined,
): Promise<void> {
  const pw = password !== undefined ? ` PASSWORD ${quoteLiteral(password)}` : "";
  try {
    const found = await query((sql) => sql`SELECT 1 FROM pg_roles WHERE rolname = ${name}`);
    const verb = found.length > 0 ? "ALTER" : "CREATE";
    const statement = `${verb} ROLE ${quoteIdent(name)} WITH ${attrs}${pw}`;
    await query((sql) =>
      sql.begin(async (tx) => {
        for (const set of QUIET) await tx.unsafe(set);
        await tx.unsafe(statement);
      })
    );
  } catch (e) {
    // never pass the statement (it holds the password) along as the cause
    throw new PostgresError(`setting up role ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Create or update the superuser, replication and rewind roles from `postgresql.authentication`. */
export async function ensureRoles(query: Query, auth: PostgresqlConfig["authentication"]): Promise<void> {
  await ensureRole(query, auth.superuser.username, "SUPERUSER LOGIN", auth.superuser.password);
  if (auth.replication.username !== auth.superuser.username) {
    await ensureRole(query, auth.replication.username, "LOGIN REPLICATION", auth.replication.password);
  }
  const rewind = auth.rewind;
  if (rewind && rewind.username !== auth.superuser.username) {
    await ensureRole(query, rewind.username, "LOGIN", rewind.password);
    const role = quoteIdent(rewind.username);
    for (const fn of REWIND_FUNCTIONS) {
      await query((sql) => sql.unsafe(`GRANT EXECUTE ON FUNCTION ${fn} TO ${role}`));
    }
  }
}
