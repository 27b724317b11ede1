/**
 * Running PostgreSQL's programs (pg_ctl, initdb, pg_basebackup, pg_controldata, pg_isready) and looking at the
 * postmaster process: binary lookup, a deadline-bounded command runner, the `postmaster.pid` / `/proc` check and
 * small file helpers (0600 writes, wiping a data directory).
 *
 * I/O adapter helpers for the modules of `src/pg/`; imports only `src/core/ports.ts` (for `PostgresError`). Linux-only.
 *
 * @module
 */
import { PostgresError } from "../core/ports.ts";

/** The programs hactl needs in the bin directory. */
export const PG_PROGRAMS = ["pg_ctl", "initdb", "pg_controldata", "pg_basebackup", "postgres", "pg_isready"];

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * The directory of the Postgres binaries: `binDir` when set; else the PATH directory holding `pg_ctl` (under the
 * name `postgresql.bin_name.pg_ctl` gives it); else the newest `/usr/lib/postgresql/<version>/bin` holding it
 * (Debian keeps pg_ctl off PATH).
 */
export async function resolveBinDir(
  binDir: string,
  pathEnv: string | undefined,
  pgCtl = "pg_ctl",
): Promise<string> {
  if (binDir) return binDir.replace(/\/+$/, "");
  for (const dir of (pathEnv ?? "").split(":")) {
    if (dir && await isFile(`${dir}/${pgCtl}`)) return dir;
  }
  const versions: number[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (
        /^\d+(\.\d+)?$/.test(entry.name) && await isFile(`/usr/lib/postgresql/${entry.name}/bin/${pgCtl}`)
      ) {
        versions.push(Number(entry.name));
      }
    }
  } catch {
    // no Debian layout
  }
  if (versions.length === 0) {
    throw new PostgresError(
      `PostgreSQL binaries not found: set postgresql.bin_dir (${pgCtl} is not on PATH)`,
    );
  }
  return `/usr/lib/postgresql/${Math.max(...versions)}/bin`;
}

/** The environment for Postgres programs: ours without the agent's own and systemd's variables. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (/^(PATRONI_|HACTL_|KUBERNETES_)/.test(k) || k === "NOTIFY_SOCKET" || k === "PGPASSWORD") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * The working directory of the operator's scripts (custom bootstrap and replica methods, pre_promote, before_stop):
 * the agent's own, as Patroni's scripts inherit Patroni's (a relative path in a command resolves there); `/` when it
 * cannot be read. Postgres's own programs run in `/` (a directory the postgres user can always enter).
 */
export function scriptCwd(): string {
  try {
    return Deno.cwd();
  } catch {
    return "/";
  }
}

/**
 * Run a program to completion, killing it (SIGKILL) when `timeoutMs` passes. Never throws for a non-zero exit:
 * the caller decides. Throws `PostgresError` when the program cannot be started at all.
 */
export async function run(
  program: string,
  args: string[],
  opts: { timeoutMs: number; env?: Record<string, string>; cwd?: string },
): Promise<RunResult> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  try {
    const out = await new Deno.Command(program, {
      args,
      env: opts.env ?? childEnv(),
      clearEnv: true,
      cwd: opts.cwd ?? "/",
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), timedOut };
  } catch (e) {
    throw new PostgresError(`cannot run ${program}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** The last lines of a program's output, for an error message. */
export function tail(text: string, lines = 5): string {
  return text.trim().split("\n").slice(-lines).join(" | ");
}

/** Run and throw `PostgresError` (with the output's tail) unless it exits 0. */
export async function runChecked(
  program: string,
  args: string[],
  opts: { timeoutMs: number; env?: Record<string, string>; cwd?: string; what: string },
): Promise<RunResult> {
  const r = await run(program, args, opts);
  if (r.code !== 0 || r.timedOut) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exited with code ${r.code}`;
    throw new PostgresError(`${opts.what} ${why}: ${tail(r.stderr || r.stdout)}`);
  }
  return r;
}

/**
 * Whether a process name (`/proc/<pid>/comm`) is a postmaster's: `postgres`, `postmaster`, or the program
 * `postgresql.bin_name.postgres` names (`names`; the kernel keeps the first 15 characters of its file name).
 */
export function isPostmasterName(comm: string, names: readonly string[] = []): boolean {
  if (comm === "postgres" || comm === "postmaster") return true;
  return names.some((n) => n !== "" && comm === (n.split("/").at(-1) ?? n).slice(0, 15));
}

/**
 * The postmaster's pid when `postmaster.pid` names a live postgres process (by name, see `isPostmasterName`) whose
 * working directory is the data directory (when /proc lets us see it); null otherwise (no file, stale pid, pid
 * reused by another program).
 */
export async function postmasterPid(dataDir: string, names: readonly string[] = []): Promise<number | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dataDir}/postmaster.pid`);
  } catch {
    return null;
  }
  const pid = Number(text.split("\n")[0]?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let comm: string;
  try {
    comm = (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  } catch {
    return null;
  }
  if (!isPostmasterName(comm, names)) return null;
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // state is the field after the parenthesised comm; Z = zombie (exited, not yet reaped)
    if (/\)\s+Z/.test(stat)) return null;
  } catch {
    return null;
  }
  try {
    const [cwd, real] = await Promise.all([Deno.readLink(`/proc/${pid}/cwd`), Deno.realPath(dataDir)]);
    if (cwd !== real) return null;
  } catch {
    // another user's process: /proc hides cwd; comm matched, accept
  }
  return pid;
}

/**
 * Whether `postmaster.pid` of `dataDir` names a live (not zombie) postgres process, read synchronously: the REST
 * API's check at each health request that the postmaster seen at the last observation still runs. Cheaper than
 * `postmasterPid` (no working-directory check: a pid reused by another postgres within the second since the last
 * observation only leaves the answer as the snapshot has it).
 */
export function postmasterAliveSync(dataDir: string, names: readonly string[] = []): boolean {
  try {
    const pid = Number(Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n")[0]?.trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    // `<pid> (<comm>) <state> ...`; Z = zombie (exited, not yet reaped), X = dead.
    const m = /^\d+ \((.*)\) (\S)/s.exec(Deno.readTextFileSync(`/proc/${pid}/stat`));
    return m !== null && isPostmasterName(m[1]!, names) && m[2] !== "Z" && m[2] !== "X";
  } catch {
    return false;
  }
}

/**
 * Process titles of the postmaster's children that stay through a shutdown until the end-of-shutdown checkpoint
 * (or belong to recovery) and never run a client's statements. `cluster_name` may precede them (`<name>: `).
 */
const NON_CLIENT_TITLE =
  /^postgres: (?:[^:]*: )?(?:checkpointer|background writer|walwriter|wal writer|walsender|wal sender|archiver|logger|stats collector|autovacuum launcher|startup|walreceiver|wal receiver|walsummarizer|io worker)(?: |$)/;

/** Whether a child's process title (its `/proc/<pid>/cmdline`) names a process that never runs client SQL. */
export function isNonClientProcess(title: string): boolean {
  return NON_CLIENT_TITLE.test(title.replace(/\0/g, " ").trim());
}

/**
 * The stop's safe point: the postmaster of `dataDir` has gone, or it says `stopping` in `postmaster.pid` (it got
 * the shutdown request, so it accepts no new connections) and none of its children is a client backend (or a
 * background worker) any more: nothing can commit a client's write from here on; what is left is the shutdown
 * checkpoint and the walsenders shipping it. False when this cannot be told (no `/proc/<pid>/task/<pid>/children`).
 */
export async function stopSafepointReached(dataDir: string, names: readonly string[] = []): Promise<boolean> {
  const pid = await postmasterPid(dataDir, names);
  if (pid === null) return true;
  try {
    const lines = (await Deno.readTextFile(`${dataDir}/postmaster.pid`)).split("\n");
    if (lines[7]?.trim() !== "stopping") return false;
    const children = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`)).trim().split(/\s+/)
      .filter((c) => c !== "");
    for (const child of children) {
      let title: string;
      try {
        title = await Deno.readTextFile(`/proc/${child}/cmdline`);
      } catch {
        continue; // exited meanwhile
      }
      if (title !== "" && !isNonClientProcess(title)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Write a file readable by its owner only (0600), replacing it atomically. */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await removeIfExists(tmp);
  await Deno.writeTextFile(tmp, text, { mode: 0o600, createNew: true }); // never through a planted symlink
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}

/** Write a file (0600 too: conf files need not be world-readable), only when its content changed. */
export async function writeIfChanged(path: string, text: string): Promise<boolean> {
  try {
    if (await Deno.readTextFile(path) === text) return false;
  } catch {
    // missing: write it
  }
  await writePrivateFile(path, text);
  return true;
}

/** Remove everything inside `dir` but keep the directory itself (mode 0700); create it when missing. */
export async function wipeDirectory(dir: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  await Deno.chmod(dir, 0o700);
}

/** Remove a file; missing is fine. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Resolve after `ms` (for deadline-bounded polling loops, never as a fixed wait in place of a condition). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pids of the processes whose parent is `pid` (from /proc; empty when it cannot be read). */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  try {
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        // `<pid> (<comm>) <state> <ppid> ...`: the comm may hold spaces and parentheses, so read after the last `)`.
        const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === pid) out.push(Number(e.name));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

/**
 * Kill the postmaster and its children, as Patroni does: suspend the postmaster (so it forks no more), list its
 * children, SIGKILL it, then SIGKILL them (a backend left running would keep the shared memory of the old server).
 */
export async function killPostmasterTree(pid: number): Promise<void> {
  const signal = (p: number, s: Deno.Signal) => {
    try {
      Deno.kill(p, s);
    } catch {
      // already gone
    }
  };
  signal(pid, "SIGSTOP");
  const children = await childPids(pid);
  signal(pid, "SIGKILL");
  for (const c of children) signal(c, "SIGKILL");
}
