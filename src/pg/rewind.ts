/**
 * pg_rewind for a stopped former primary (or a diverged replica): bring the data directory to a clean shutdown
 * (single-user crash recovery when needed), make a freshly promoted source checkpoint so its new timeline is in
 * pg_control, then run pg_rewind against it. pg_rewind itself finds the divergence point through the source's
 * timeline history and does nothing when the histories did not diverge.
 *
 * I/O: runs Postgres programs and one SQL command on the source. Passwords only in the child's environment.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PostgresqlConfig } from "../config/config.ts";
import { UpstreamUnavailableError } from "../core/ports.ts";
import { buildConninfo, parseConnUrl } from "./conf.ts";
import { childEnv, runChecked, tail } from "./process.ts";
import type { Upstream } from "../core/types.ts";
import { userConninfoPairs } from "./tls.ts";
import { userSession } from "./user_session.ts";

const log = getLogger(["hactl", "postgres"]);

export interface RewindTarget {
  dataDir: string;
  configDir: string;
  /** `Database cluster state` from pg_controldata. */
  clusterState: string;
  bin(program: string): Promise<string>;
  authentication: PostgresqlConfig["authentication"];
  /** `postgresql.rewind`: extra pg_rewind arguments, passed after the source (as Patroni passes them). */
  options?: string[];
}

/** Rewind `target` from `upstream`; throws PostgresError when any step fails. */
export async function rewindFrom(upstream: Upstream, target: RewindTarget): Promise<void> {
  const state = target.clusterState;
  if (state !== "shut down" && state !== "shut down in recovery") {
    // pg_rewind needs a clean shutdown: replay the WAL in single-user mode, which ends with a checkpoint.
    log.info("crash recovery in single-user mode before pg_rewind (cluster state: {state})", { state });
    await runChecked(await target.bin("postgres"), [
      "--single",
      "-D",
      target.dataDir,
      `--config-file=${target.configDir}/postgresql.conf`,
      "-c",
      "archive_mode=off",
      "postgres",
    ], { timeoutMs: 3600_000, what: "single-user crash recovery" });
  }
  const { host, port } = parseConnUrl(upstream.connUrl);
  await checkpointSource(upstream, host, port, target.authentication.superuser);
  const user = target.authentication.rewind ?? target.authentication.superuser;
  const source = buildConninfo([
    ["host", host],
    ["port", String(port)],
    ["user", user.username],
    ["dbname", "postgres"],
    ["connect_timeout", "5"],
    ["target_session_attrs", "read-write"],
    ...userConninfoPairs(user),
  ]);
  log.info("pg_rewind from {upstream}", { upstream: upstream.name });
  const r = await runChecked(await target.bin("pg_rewind"), [
    "--target-pgdata",
    target.dataDir,
    "--source-server",
    source,
    ...(target.options ?? []),
  ], {
    timeoutMs: 3600_000,
    what: `pg_rewind from ${upstream.name}`,
    env: childEnv(user.password !== undefined ? { PGPASSWORD: user.password, LC_ALL: "C" } : { LC_ALL: "C" }),
  });
  log.info("pg_rewind: {result}", { result: tail(r.stdout + r.stderr).trim() || "done" });
}

/**
 * The source must be the read-write leader: one still in recovery is refused (retried at the next cycle). A freshly
 * promoted source records its new timeline in pg_control only at its first checkpoint; before that
 * pg_rewind sees "the same timeline" and rewinds nothing. Ask for that checkpoint first (as Patroni does).
 */
async function checkpointSource(
  upstream: Upstream,
  host: string,
  port: number,
  su: PostgresqlConfig["authentication"]["superuser"],
): Promise<void> {
  const sql = userSession(su, host, port);
  let inRecovery = false;
  try {
    const [row] = await sql.unsafe("SELECT pg_is_in_recovery() AS r");
    inRecovery = row?.["r"] === true;
    if (!inRecovery) await sql.unsafe("CHECKPOINT");
  } catch (e) {
    throw new UpstreamUnavailableError(
      `CHECKPOINT on ${upstream.name} before pg_rewind failed: ${e instanceof Error ? e.message : e}`,
      { cause: e },
    );
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
  if (inRecovery) {
    // Only the read-write leader is a source (as Patroni does): a replica may still be on the old timeline.
    throw new UpstreamUnavailableError(
      `${upstream.name} is still in recovery and cannot be used for pg_rewind`,
    );
  }
}
