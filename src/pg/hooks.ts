/**
 * The user's scripts around promotion and stop, as Patroni runs them: `postgresql.pre_promote` after the leader
 * key was taken and before `pg_ctl promote` (a non-zero exit, or a script that cannot start, refuses the
 * promotion: `PrePromoteRefusedError`), and `postgresql.before_stop` before Postgres is asked to stop (its exit
 * status is only logged). Each command is split as a shell would split plain words and quotes, run without
 * arguments in a session of its own (`setsid`) with the agent's environment minus `PATRONI_*`/`HACTL_*`, and waited
 * for. `pre_promote` may run as long as it needs (the loop keeps renewing the key meanwhile); `before_stop` is
 * bounded by `pg_ctl_timeout`, after which its whole process group is killed and the stop goes on.
 *
 * I/O: spawns the scripts. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PrePromoteRefusedError } from "../core/pre_promote.ts";
import { splitCommand } from "./callbacks.ts";
import type { PgInstance } from "./instance.ts";
import { childEnv, scriptCwd, tail } from "./process.ts";

const log = getLogger(["hactl", "postgres"]);

/** How a script ended: its exit code (null when killed by a signal or at the deadline) and its output's tail. */
export interface ScriptResult {
  code: number | null;
  timedOut: boolean;
  output: string;
}

/** Run `command` (split into argv) to completion; past `timeoutMs` its process group is killed. */
export async function runScript(command: string, timeoutMs: number | null): Promise<ScriptResult> {
  const argv = splitCommand(command);
  if (argv.length === 0) return { code: 0, timedOut: false, output: "" };
  const child = new Deno.Command("setsid", {
    args: argv,
    env: childEnv(),
    clearEnv: true,
    cwd: scriptCwd(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = timeoutMs === null ? null : setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL"); // setsid made it a process group leader: its children go too
    } catch {
      // already gone
    }
  }, timeoutMs);
  const texts = [readAll(child.stdout), readAll(child.stderr)];
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  // A daemon the script left behind may hold its output open: read what is there, without waiting for it.
  let grace: ReturnType<typeof setTimeout> | undefined;
  const output = await Promise.race([
    Promise.all(texts.map((t) => t.text)).then((parts) => tail(parts.join("")).trim()),
    new Promise<string>((resolve) => grace = setTimeout(() => resolve(""), 1000)),
  ]);
  clearTimeout(grace);
  for (const t of texts) t.cancel();
  return { code: status.signal === null ? status.code : null, timedOut, output };
}

/** Reads a stream to its end as text; `cancel` stops reading (when the end does not come). */
function readAll(stream: ReadableStream<Uint8Array>): { text: Promise<string>; cancel(): void } {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let done = false;
  const text = (async () => {
    let s = "";
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        s += dec.decode(r.value, { stream: true });
      }
    } catch {
      // cancelled
    }
    done = true;
    return s;
  })();
  return { text, cancel: () => void (done ? undefined : reader.cancel().catch(() => {})) };
}

/** `postgresql.pre_promote`: resolves when it exits 0 (or none is set); throws PrePromoteRefusedError otherwise. */
export async function runPrePromote(inst: PgInstance): Promise<void> {
  const command = inst.pg.prePromote;
  if (command === undefined || command.trim() === "") return;
  log.info("running pre_promote script {command}", { command });
  let r: ScriptResult;
  try {
    r = await runScript(command, null);
  } catch (e) {
    throw new PrePromoteRefusedError(
      `pre_promote script ${command} could not run: ${e instanceof Error ? e.message : e}`,
      { cause: e },
    );
  }
  const out = r.output ? `: ${r.output}` : "";
  log.info("pre_promote script {command} exited with {code}{out}", {
    command,
    code: r.code ?? "a signal",
    out,
  });
  if (r.code !== 0) {
    throw new PrePromoteRefusedError(
      `pre_promote script ${command} exited with ${r.code ?? "a signal"}${out}`,
    );
  }
}

/** `postgresql.before_stop`: run and waited for (at most `pg_ctl_timeout`); never throws. */
export async function runBeforeStop(inst: PgInstance): Promise<void> {
  const command = inst.pg.beforeStop;
  if (command === undefined || command.trim() === "") return;
  log.info("running before_stop script {command}", { command });
  try {
    const r = await runScript(command, inst.timeoutMs);
    const out = r.output ? `: ${r.output}` : "";
    if (r.timedOut) {
      log.warn("before_stop script {command} killed after {ms} ms; stopping Postgres", {
        command,
        ms: inst.timeoutMs,
      });
    } else {
      log.info("before_stop script {command} exited with {code}{out}", {
        command,
        code: r.code ?? "a signal",
        out,
      });
    }
  } catch (e) {
    log.error("before_stop script {command} could not run: {error}", {
      command,
      error: e instanceof Error ? e.message : String(e),
    });
  }
}
