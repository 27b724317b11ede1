/**
 * `hactl fence-supervisor --data-dir DIR`: the fencing supervisor process `hactl agent` starts beside itself (see
 * src/host/fence_supervisor.ts for what it guarantees). Reads `arm-until <uptime-ms>` / `disarm` / `ping` lines on stdin and
 * answers each on stdout (after a first `ready <pid>`); keeps its deadline in `<data_dir>.hactl-fence`; on the deadline stops the postmaster of DIR (SIGQUIT, then SIGKILL). When the agent
 * goes away (stdin closes) it keeps guarding a pending deadline, then exits. Not meant to be run by hand.
 *
 * main.ts imports this module only when the command runs, and it imports nothing but the supervisor's logic and
 * the console helpers: the process beside every agent loads no etcd, Postgres or REST code. Under `deno run` the
 * agent runs this module directly (`deno run --no-config cli/fence_supervisor.ts fence-supervisor --data-dir DIR`,
 * see `supervisorInvocation` in src/host/fence_client.ts), so it imports nothing through deno.json.
 *
 * @module
 */
import {
  type FenceIo,
  type FenceState,
  FenceSupervisor,
  parseFenceCommand,
} from "../src/host/fence_supervisor.ts";
import { writeErr, writeOut } from "./lib/io.ts";

const HELP = `Usage: hactl fence-supervisor --data-dir DIR

Started by 'hactl agent': holds the primary's fence deadline outside the agent and stops Postgres in DIR when the
agent stops renewing it (frozen, hung or killed). Reads 'arm-until <uptime-ms>' (a deadline on the clock of
/proc/uptime), 'disarm' and 'ping' lines on stdin and answers each with 'ok <command> <deadline>' on stdout.
`;

const ENCODER = new TextEncoder();

/**
 * A line to the agent. A write that fails (the agent is gone, its end of the pipe closed) is dropped: the
 * supervisor goes on guarding its deadline whatever happens to the agent.
 */
function answer(line: string): void {
  try {
    Deno.stdout.writeSync(ENCODER.encode(line + "\n"));
  } catch { /* the agent is gone; the deadline still stands */ }
}

function uptimeMs(): number {
  return Math.round(Number(Deno.readTextFileSync("/proc/uptime").split(/\s+/)[0]) * 1000);
}

function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

function isSupervisor(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("fence-supervisor");
  } catch {
    return false;
  }
}

/** The real I/O for a data directory. */
export function fenceIo(dataDir: string, log: (m: string) => void): FenceIo {
  const stateFile = `${dataDir.replace(/\/+$/, "")}.hactl-fence`;
  return {
    uptimeMs,
    readState: () => {
      try {
        const s = JSON.parse(Deno.readTextFileSync(stateFile)) as FenceState;
        return typeof s.pid === "number" ? s : null;
      } catch {
        return null;
      }
    },
    writeState: (state) => {
      try {
        const tmp = `${stateFile}.tmp`;
        Deno.writeTextFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
        Deno.renameSync(tmp, stateFile);
        return null;
      } catch (err) {
        return `cannot write ${stateFile}: ${err instanceof Error ? err.message : err}`;
      }
    },
    stopPostgres: async () => {
      let pid: number;
      try {
        pid = Number(Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n")[0]);
      } catch {
        return "postgres was not running";
      }
      if (!Number.isInteger(pid) || pid <= 1 || !processAlive(pid)) return "postgres was not running";
      try {
        Deno.kill(pid, "SIGQUIT");
      } catch { /* gone */ }
      for (let i = 0; i < 40 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      if (!processAlive(pid)) return `stopped postgres (immediate, pid ${pid})`;
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
      return `killed postgres (pid ${pid}) after it ignored an immediate shutdown`;
    },
    log,
    alive: (pid) => processAlive(pid) && isSupervisor(pid),
    retire: (pid) => {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* gone */ }
    },
  };
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    writeOut(HELP);
    return 0;
  }
  const at = args.indexOf("--data-dir");
  const dataDir = at >= 0 ? args[at + 1] : undefined;
  if (!dataDir) {
    writeErr(`Error: --data-dir is required\n\n${HELP}`);
    return 2;
  }
  const log = (m: string) => writeErr(`${new Date().toISOString()} fence-supervisor: ${m}\n`);
  const supervisor = new FenceSupervisor(fenceIo(dataDir, log), Deno.pid);
  answer(`ready ${Deno.pid}`);
  let stdinOpen = true;
  let retired = false;
  // The main loop sleeps until the deadline (or at most IDLE_WAKE_MS) unless something happens first: a line
  // applied, stdin closed, SIGTERM. Nothing polls: an idle supervisor costs no CPU between the agent's lines.
  let woken = false;
  let resolveSleep = () => {};
  const wake = () => {
    woken = true;
    resolveSleep();
  };
  Deno.addSignalListener("SIGTERM", () => {
    retired = true;
    wake();
  });
  // Lines from the agent; EOF means the agent is gone (its pending deadline still stands).
  (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of Deno.stdin.readable) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const cmd = parseFenceCommand(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (cmd) answer(supervisor.apply(cmd));
      }
      // Every line read so far is applied: a deadline that has passed (a line that waited in the pipe while this
      // process was stopped) fires now, not at the next wake-up.
      if (supervisor.due() && await supervisor.tick()) answer("fired");
      wake();
    }
    stdinOpen = false;
    wake();
  })().catch(() => {
    stdinOpen = false;
    wake();
  });
  for (;;) {
    if (!woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, sleepMs(supervisor.deadline, uptimeMs()));
        resolveSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    woken = false;
    resolveSleep = () => {};
    if (retired) return 0;
    // A deadline that looks passed may have been moved by lines waiting in the pipe (a supervisor thawed after a
    // SIGSTOP finds its timer overdue before it reads them): let them apply first, then look again.
    if (supervisor.due()) await new Promise((r) => setTimeout(r, 20));
    if (await supervisor.tick()) answer("fired");
    if (!stdinOpen && supervisor.deadline === null) return 0;
  }
}

/** The longest the supervisor sleeps without a line from the agent. */
const IDLE_WAKE_MS = 1000;

/**
 * How long to sleep before looking at the deadline again: until it (on the uptime clock, whose 10 ms steps a
 * timer may beat by a hair, hence at least 10 ms), and never more than `IDLE_WAKE_MS`.
 */
export function sleepMs(deadlineUptimeMs: number | null, nowUptimeMs: number): number {
  if (deadlineUptimeMs === null) return IDLE_WAKE_MS;
  return Math.min(IDLE_WAKE_MS, Math.max(10, deadlineUptimeMs - nowUptimeMs));
}

if (import.meta.main) {
  // Started directly under `deno run`: the first argument names the command, as `hactl fence-supervisor` does.
  Deno.exit(await run(Deno.args[0] === "fence-supervisor" ? Deno.args.slice(1) : Deno.args));
}
