/**
 * The checkpoint after a promotion (src/core/checkpoint_after_promote.ts decides when): `CHECKPOINT` on the local
 * primary as the superuser, in a session of its own (the adapter's pooled connection keeps answering the status
 * queries meanwhile) without a statement timeout (a checkpoint writes every dirty buffer, which may take long),
 * refused on a server in recovery, as Patroni runs it.
 *
 * I/O: one SQL session to the local server. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PostgresError } from "../core/ports.ts";
import type { PgInstance } from "./instance.ts";
import { localConnectAddress } from "./local_address.ts";
import { userSession } from "./user_session.ts";

const log = getLogger(["hactl", "postgres"]);

/** Run CHECKPOINT on the running primary; rejects with `PostgresError` when it cannot. */
export async function checkpointPrimary(inst: PgInstance): Promise<void> {
  const pg = inst.pg;
  const { host, port } = localConnectAddress(pg.listen, pg.useUnixSocket, inst.unixSocketDirectories());
  const sql = userSession(pg.authentication.superuser, host, port, {
    fetchTypes: false,
    connection: { application_name: "hactl", statement_timeout: 0 },
  });
  const started = Date.now();
  try {
    const [row] = await sql.unsafe("SELECT pg_is_in_recovery() AS r");
    if (row?.["r"] !== false) {
      throw new PostgresError("CHECKPOINT after promotion: the server is in recovery");
    }
    await sql.unsafe("CHECKPOINT");
  } catch (e) {
    if (e instanceof PostgresError) throw e;
    throw new PostgresError(`CHECKPOINT after promotion failed: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
  log.info("CHECKPOINT after promotion done in {ms} ms", { ms: Date.now() - started });
}
