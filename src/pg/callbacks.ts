/**
 * Postgres callbacks (`postgresql.callbacks`): `on_start`, `on_stop`, `on_restart`, `on_reload`,
 * `on_role_change`, each run as `<command...> <action> <role> <scope>` as Patroni runs them (the command is split
 * as `shlex.split` splits it), fire-and-forget. A new callback kills one still running
 * (the whole process group), so a slow script cannot pile up behind a flapping cluster. The environment is the
 * agent's without `PATRONI_*`/`HACTL_*` variables.
 *
 * I/O: spawns processes. Imports `process.ts` (environment), config types and `config/command_line.ts`.
 *
 * @module
 */
import type { PostgresqlConfig } from "../config/config.ts";
import { CommandSplitError, splitCommand } from "../config/command_line.ts";
import { childEnv } from "./process.ts";
import type { CallbackAction, CallbackRunner } from "../core/ports.ts";

export type { CallbackAction, CallbackRunner };
export { splitCommand };

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
    let argv: string[];
    try {
      argv = splitCommand(command);
    } catch (err) {
      // The reader refuses such a command; kept for a runner built from another source.
      if (!(err instanceof CommandSplitError)) throw err;
      return this.onError(`callback ${action} could not be started: ${err.message}`);
    }
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
