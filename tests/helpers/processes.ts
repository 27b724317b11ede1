/**
 * Process helpers for integration tests: free port ranges, stopping agents with a deadline, making sure no
 * PostgreSQL started by a test outlives it, and when a process was first seen gone.
 *
 * @module
 */

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** One free loopback port below the kernel's ephemeral range (see freePorts). */
export function freePort(): number {
  for (let i = 0; i < 1000; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (portFree(port)) return port;
  }
  throw new Error("could not find a free loopback port");
}

/** `count` ranges of `size` consecutive free loopback ports, each range starting at its first port. */
export function freePorts(count: number, size: number): Promise<number[]> {
  const starts: number[] = [];
  const taken = new Set<number>();
  let attempts = 0;
  while (starts.length < count) {
    if (++attempts > 1000) throw new Error("could not find free loopback ports");
    // Below the kernel's ephemeral range (32768-60999): an outgoing connection never holds a port we picked.
    const start = 20000 + Math.floor(Math.random() * 12000);
    const range = Array.from({ length: size }, (_, i) => start + i);
    if (range.some((p) => taken.has(p)) || !range.every(portFree)) continue;
    range.forEach((p) => taken.add(p));
    starts.push(start);
  }
  return Promise.resolve(starts);
}

/** SIGTERM an agent and wait for it to exit; SIGKILL it when it is still alive after `deadlineMs`. */
export async function stopAgent(child: Deno.ChildProcess, deadlineMs: number): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), deadlineMs)));
  const status = await Promise.race([child.status, timeout]);
  clearTimeout(timer);
  if (status) return status;
  try {
    child.kill("SIGKILL");
  } catch {
    // exited meanwhile
  }
  return await child.status;
}

/** Stop (immediate) any postmaster still running in these data directories. */
export async function stopLeftoverPostgres(dataDirs: string[]): Promise<void> {
  await Promise.all(dataDirs.map(async (dir) => {
    try {
      await Deno.stat(`${dir}/postmaster.pid`);
    } catch {
      return;
    }
    await new Deno.Command("pg_ctl", {
      args: ["stop", "-D", dir, "-m", "immediate", "-w", "-t", "20"],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
  }));
}

/** Whether `pid` runs (a zombie counts as gone; /proc/<pid>/stat's third field is the state). */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/** A poll of one process: when it was first seen gone (`performance.now()`), null while it runs. */
export interface ExitWatch {
  readonly exitedAt: number | null;
  stop(): void;
}

/** Check every `intervalMs` whether `pid` is gone and record when it was first seen gone. */
export function watchExit(pid: number, intervalMs = 20): ExitWatch {
  const w = { exitedAt: null as number | null, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    if (w.exitedAt === null && !processAlive(pid)) {
      w.exitedAt = performance.now();
      clearInterval(timer);
    }
  }, intervalMs);
  return w;
}
