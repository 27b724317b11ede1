/**
 * Starting, stopping and promoting the local Postgres through pg_ctl. `pg_ctl start -w` forks, calls `setsid()`
 * and execs the postmaster with its output in `postgresql.log`, so Postgres is not our child and outlives the
 * agent (systemd `KillMode=process`). A stop escalates (fast, then immediate, then SIGKILL) and reports the moment
 * the shutdown reached its safe point; a promotion first makes the cluster's timeline history known locally.
 *
 * I/O: runs pg_ctl, writes files, signals the postmaster. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PostgresError, type StopOptions } from "../core/ports.ts";
import { secondsToMs } from "../core/settings.ts";
import type { HistoryEntry, Upstream } from "../core/types.ts";
import { shellQuote } from "./conf.ts";
import { archiveShutdownCheckpoint } from "./archive_checkpoint.ts";
import { writeConfig } from "./config_files.ts";
import { reloadPostgres } from "./reload.ts";
import type { PgInstance } from "./instance.ts";
import {
  delay,
  exists,
  killPostmasterTree,
  postmasterPid,
  removeIfExists,
  run,
  runChecked,
  stopSafepointReached,
  tail,
} from "./process.ts";
import { timelineHistoryFiles } from "./status.ts";
import { runBeforeStop, runPrePromote } from "./hooks.ts";
import { installStagedSlots } from "./logical_slots.ts";

const log = getLogger(["hactl", "postgres"]);

/** Write the configuration for `role` and start Postgres (no-op when a postmaster runs); a primary must answer. */
export async function startPostgres(
  inst: PgInstance,
  role: "primary" | "replica",
  upstream: Upstream | null,
  /** `wait: false`: pg_ctl does not wait for the server (a long recovery); the caller watches it. */
  opts: { wait?: boolean } = {},
): Promise<void> {
  if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) !== null) return;
  if ((await inst.dataDirState()) !== "initialized") {
    throw new PostgresError(`cannot start Postgres: ${inst.dataDir} holds no initialized data directory`);
  }
  await removeIfExists(`${inst.dataDir}/postmaster.pid`); // stale: no live postmaster owns it
  await removeStaleSocketLocks(inst.unixSocketDirectories(), inst.pg.listen.port);
  const options = await writeConfig(inst, role, upstream);
  if (role === "replica") await installStagedSlots(inst);
  else inst.stagedSlots = null;
  const configFile = `${inst.configDir}/postgresql.conf`;
  const o = `--config-file=${shellQuote(configFile)} ${options}`;
  const deadline = Date.now() + inst.timeoutMs;
  log.info("starting Postgres as {role}", { role });
  // `postgresql.bin_name.postgres`: pg_ctl starts that program instead of the postgres next to it.
  const postgres = inst.postmasterNames.length > 0 ? ["-p", await inst.bin("postgres")] : [];
  const r = await run(await inst.bin("pg_ctl"), [
    "start",
    ...postgres,
    "-D",
    inst.dataDir,
    "-o",
    o,
    "-l",
    `${inst.dataDir}/postgresql.log`,
    ...(opts.wait === false ? ["-W"] : ["-w", "-t", String(Math.ceil(inst.timeoutMs / 1000))]),
  ], { timeoutMs: inst.timeoutMs + 10_000 });
  if (r.code !== 0 || r.timedOut) {
    throw new PostgresError(`pg_ctl start failed (code ${r.code}): ${await startFailure(inst, r.stderr)}`);
  }
  if (role === "primary" && opts.wait !== false) {
    await inst.sql.waitFor("Postgres to accept connections", deadline);
  }
}

/**
 * Remove the unix socket lock files (`.s.PGSQL.<port>.lock`) of this port whose postmaster is gone or is a zombie
 * not yet reaped. Postgres refuses to start while the PID in one is a live process ("lock file ... already
 * exists"), and a postmaster killed with SIGKILL stays a zombie until its parent reaps it: a restart right after a
 * crash failed on it, and a leader whose start fails gives its key up. A lock of a live process is left alone.
 */
export async function removeStaleSocketLocks(socketDirs: string, port: number): Promise<void> {
  for (const dir of socketDirs.split(",").map((d) => d.trim()).filter((d) => d.startsWith("/"))) {
    const lock = `${dir}/.s.PGSQL.${port}.lock`;
    const pid = Number((await Deno.readTextFile(lock).catch(() => "")).split("\n")[0]?.trim());
    if (!Number.isInteger(pid) || pid <= 0 || await processLives(pid)) continue;
    await removeIfExists(lock);
  }
}

/** The process exists and is not a zombie. */
async function processLives(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  return stat !== null && !/\)\s+Z/.test(stat);
}

/** Why a start failed: pg_ctl's last lines and the server log's. */
async function startFailure(inst: PgInstance, stderr: string): Promise<string> {
  try {
    const text = await Deno.readTextFile(`${inst.dataDir}/postgresql.log`);
    return `${tail(stderr, 2)} | log: ${tail(text, 5)}`;
  } catch {
    return tail(stderr);
  }
}

/**
 * Stop Postgres; `onSafepoint` is called once, when the stop reached its safe point or the postmaster is gone. The
 * `before_stop` script runs first, except for an `emergency` stop (a fence's: it must not wait for a script). With
 * `timeoutS` (primary_stop_timeout in synchronous mode) the stop asked for may take that long, then the postmaster
 * is killed; otherwise a fast stop that does not end within pg_ctl_timeout is made immediate, then killed.
 */
export async function stopPostgres(
  inst: PgInstance,
  mode: "fast" | "immediate",
  onSafepoint?: () => void,
  opts: StopOptions = {},
): Promise<void> {
  let safe = false;
  const safepoint = () => {
    if (safe) return;
    safe = true;
    onSafepoint?.();
  };
  try {
    await stopPostmaster(inst, mode, onSafepoint ? safepoint : null, opts);
    if (opts.archiveShutdownCheckpoint) await archiveShutdownCheckpoint(inst);
  } finally {
    // The postmaster has exited (or the stop failed: then only if it has gone after all).
    if (!safe && (await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) safepoint();
  }
}

async function stopPostmaster(
  inst: PgInstance,
  mode: "fast" | "immediate",
  safepoint: (() => void) | null,
  opts: StopOptions,
): Promise<void> {
  if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) return;
  if (!opts.emergency) await runBeforeStop(inst);
  await inst.sql.close();
  const pgCtl = await inst.bin("pg_ctl");
  const limited = opts.timeoutS !== undefined && opts.timeoutS > 0;
  const timeoutMs = limited ? secondsToMs(opts.timeoutS!) : inst.timeoutMs;
  const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  const modes = limited ? [mode] : mode === "fast" ? ["fast", "immediate"] : ["immediate"];
  for (const m of modes) {
    log.info("stopping Postgres ({mode})", { mode: m });
    const stopping = run(pgCtl, ["stop", "-D", inst.dataDir, "-m", m, "-w", "-t", seconds], {
      timeoutMs: timeoutMs + 10_000,
    });
    if (safepoint) await watchSafepoint(inst, stopping, safepoint);
    const r = await stopping;
    if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) return;
    log.warn("pg_ctl stop -m {mode} did not stop Postgres: {out}", {
      mode: m,
      out: tail(r.stderr || r.stdout),
    });
  }
  const pid = await postmasterPid(inst.dataDir, inst.postmasterNames);
  if (pid === null) return;
  log.warn("killing the postmaster (pid {pid}){why}", {
    pid,
    why: limited ? `: the stop took longer than primary_stop_timeout (${opts.timeoutS} s)` : "",
  });
  await killPostmasterTree(pid);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) return;
    await delay(100);
  }
  throw new PostgresError(`Postgres (pid ${pid}) did not exit after SIGKILL`);
}

/** Poll (every 100 ms) while `pg_ctl stop` runs, and call `safepoint` once the stop reached its safe point. */
async function watchSafepoint(
  inst: PgInstance,
  stopping: Promise<unknown>,
  safepoint: () => void,
): Promise<void> {
  let done = false;
  void stopping.finally(() => done = true).catch(() => {});
  while (!done) {
    if (await stopSafepointReached(inst.dataDir, inst.postmasterNames)) return safepoint();
    await Promise.race([delay(100), stopping.catch(() => {})]);
  }
}

/** Promote the running replica and wait until it has left recovery. */
export async function promotePostgres(
  inst: PgInstance,
  clusterHistory: readonly HistoryEntry[],
): Promise<void> {
  // Refuses the promotion (PrePromoteRefusedError) when the script exits non-zero: nothing below runs then.
  await runPrePromote(inst);
  const deadline = Date.now() + inst.timeoutMs;
  const seconds = String(Math.ceil(inst.timeoutMs / 1000));
  await seedTimelineHistory(inst, clusterHistory);
  log.info("promoting Postgres");
  await runChecked(await inst.bin("pg_ctl"), ["promote", "-D", inst.dataDir, "-w", "-t", seconds], {
    timeoutMs: inst.timeoutMs + 10_000,
    what: "pg_ctl promote",
  });
  await inst.sql.waitFor("the end of recovery after promote", deadline, async (sql) => {
    const rows = await sql`SELECT pg_is_in_recovery() AS r`;
    return rows[0]!["r"] === false;
  });
  // As Patroni does when the role changes: the primary's role-specific set replaces the replica's (then a reload;
  // a parameter that needs a restart shows as pending restart).
  // The promotion stands either way: a failed reload is reported, and the next reload (`hactl reload`) applies it.
  if (inst.pg.roleConfig !== undefined || inst.dynamicPg().roleConfig !== undefined) {
    await reloadPostgres(inst, "primary", null, false).catch((e) =>
      log.warn("promoted, but the primary's role-specific configuration is not applied yet: {error}", {
        error: e instanceof Error ? e.message : String(e),
      })
    );
  }
}

/**
 * Write `pg_wal/<TLI>.history` for every timeline the cluster's `history` key names that this data directory does
 * not know. Postgres names the new timeline after the newest history file it finds, so a replica still on an old
 * timeline cannot reuse a number another member already promoted to (the two would look identical to every
 * later timeline check while holding different WAL).
 */
async function seedTimelineHistory(inst: PgInstance, history: readonly HistoryEntry[]): Promise<void> {
  for (const file of timelineHistoryFiles(history)) {
    const path = `${inst.dataDir}/pg_wal/${file.name}`;
    if (await exists(path)) continue;
    await Deno.writeTextFile(path, file.text, { mode: 0o600 });
    log.info("made timeline history {file} known before promoting", { file: file.name });
  }
}
