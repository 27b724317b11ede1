/**
 * Postgres callbacks (`postgresql.callbacks`): `on_start`, `on_stop`, `on_restart`, `on_reload`,
 * `on_role_change`, each run as `<command...> <action> <role> <scope>` as Patroni runs them (the command is split
 * on whitespace, with single or double quotes grouping), fire-and-forget. A new callback kills one still running
 * (the whole process group), so a slow script cannot pile up behind a flapping cluster. The environment is the
 * agent's without `PATRONI_*`/`HACTL_*` variables.
 *
 * I/O: spawns processes. Imports `pg_process.ts` (environment) and config types.
 *
 * @module
 */
import type { PostgresqlConfig } from "../config/config.ts";
import { childEnv } from "./process.ts";
import type { CallbackAction, CallbackRunner } from "../core/ports.ts";

export type { CallbackAction, CallbackRunner };

/** Split a command line like a POSIX shell would for plain words and quotes (no expansions). */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of command.matchAll(re)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2] !== undefined ? m[2] : m[3]!);
  }
  return out;
}

/** Runs the configured callbacks with `setsid`, so a still-running one can be killed with its children. */
export class ProcessCallbackRunner implements CallbackRunner {
  #running: Deno.ChildProcess | null = null;

  constructor(
    private readonly callbacks: PostgresqlConfig["callbacks"],
    private readonly scope: string,
    private readonly onError: (message: string) => void,
  ) {}

  fire(action: CallbackAction, role: string): void {
    const command = this.callbacks[action];
    if (!command) return;
    const argv = splitCommand(command);
    if (argv.length === 0) return;
    this.#killRunning();
    try {
      const child = new Deno.Command("setsid", {
        args: [...argv, action, role === "promoted" ? "primary" : role, this.scope],
        env: childEnv(),
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      this.#running = child;
      child.status.then((s) => {
        if (this.#running === child) this.#running = null;
        if (!s.success && s.signal === null) this.onError(`callback ${action} exited with code ${s.code}`);
      }).catch(() => {});
    } catch (err) {
      this.onError(`callback ${action} could not be started: ${err instanceof Error ? err.message : err}`);
    }
  }

  #killRunning(): void {
    const child = this.#running;
    if (!child) return;
    this.#running = null;
    try {
      // setsid made the callback a process group leader: kill the group, its children included.
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
