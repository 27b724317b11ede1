/**
 * Postgres callbacks (`postgresql.callbacks`): `on_start`, `on_stop`, `on_restart`, `on_reload`,
 * `on_role_change`, each run as `<command...> <action> <role> <scope>` as Patroni runs them (the command is split
 * as `shlex.split` splits it), fire-and-forget. A new callback kills one still running
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

/**
 * Split a command line as Patroni does (Python's `shlex.split`, POSIX rules, no expansions): whitespace separates
 * words; single quotes keep everything up to the next one; inside double quotes a backslash escapes only `"` and
 * `\\`; outside quotes it escapes any character; quoted and plain parts of one word join
 * (`--dbname="host=a user=b"` is one argument).
 */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && (command[i + 1] === '"' || command[i + 1] === "\\")) word += command[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else {
      word ??= "";
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\" && i + 1 < command.length) word += command[++i];
      else word += c;
    }
  }
  if (word !== null) out.push(word);
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
