/**
 * One simulated agent process and what happens to its calls inside a cycle: `AgentProcess` is the process (alive,
 * frozen by SIGSTOP, resumed by SIGCONT, killed) and `wrapPorts` puts its `Dcs` and `PostgresPort` behind it, so
 * every port call takes virtual time and may hang (an etcd call gives up after `retry_timeout`), be applied with its
 * reply lost, or be held while the process is frozen: a call not yet issued is issued at SIGCONT, a call issued
 * before the freeze is carried out (etcd and pg_ctl do not stop with the agent) and its reply read at SIGCONT; either
 * way the agent goes on with the state it had read before (stale). A call of a killed process never returns. Timers of a frozen process (its fence timer among
 * them) fire only at SIGCONT.
 *
 * With no latency and no call fault planned, a call of a running process goes straight to the port: the
 * scenario transcripts run exactly as without this module.
 *
 * Imports `src/core/ports.ts` only.
 *
 * @module
 */
import { type Dcs, DcsError, PostgresError, type PostgresPort } from "../../src/core/ports.ts";

/** How one call goes: answered, hung (no answer until it gives up), or applied with the reply lost. */
export type CallOutcome = "ok" | "hang" | "lost";

/** The latency (ms of virtual time) and outcome of one call. */
export interface CallPlan {
  latencyMs: number;
  outcome: CallOutcome;
  /** The call fails with this error without reaching the port (a pre_promote script that exits non-zero). */
  refuse?: () => Error;
}

/** What a process needs from the simulator. */
export interface ProcessEnv {
  /** Resolve after `ms` of virtual time. */
  sleep(ms: number): Promise<void>;
  /** The plan for the next call of `port.method` by this process. */
  plan(port: "dcs" | "pg", method: string): CallPlan;
  /** How long a hung call of `port` waits before it fails (etcd: retry_timeout). */
  hangMs(port: "dcs" | "pg"): number;
}

const DCS_CALLS = new Set([
  "loadCluster",
  "refreshLease",
  "touchMember",
  "attemptToAcquireLeader",
  "updateLeader",
  "deleteLeader",
  "moveLease",
  "initialize",
  "cancelInitialization",
  "setConfig",
  "writeStatus",
  "setHistory",
  "setFailover",
  "writeSync",
  "deleteSync",
]);
/** Postgres calls that may fail; `observe` never throws (as the real adapter's), it is only slow or held. */
const PG_CALLS = new Set([
  "observe",
  "start",
  "stop",
  "promote",
  "rewind",
  "follow",
  "reload",
  "syncSlots",
  "setSyncStandbyNames",
]);

/** One agent process (an incarnation: a restarted agent is a new process). */
export class AgentProcess {
  #alive = true;
  #frozen = false;
  #thaw: (() => void)[] = [];
  #timers: (() => void)[] = [];
  /** Awaits of this process now waiting on virtual time or on SIGCONT. */
  blocked = 0;
  /** Port calls under way (a stop waits for them, as the agent's shutdown waits for its cycle). */
  pending = 0;

  constructor(readonly env: ProcessEnv) {}

  get alive(): boolean {
    return this.#alive;
  }
  get frozen(): boolean {
    return this.#frozen;
  }
  /** Running and not frozen: a call may go straight to the port. */
  get free(): boolean {
    return this.#alive && !this.#frozen;
  }

  /** Resolves when the process may go on: at once while it runs, at SIGCONT while frozen, never once dead. */
  async gate(): Promise<void> {
    if (this.free) return;
    this.blocked++;
    try {
      await new Promise<void>((resolve) => {
        if (this.#alive) this.#thaw.push(resolve);
      });
    } finally {
      this.blocked--;
    }
  }

  async sleep(ms: number): Promise<void> {
    if (ms <= 0) return;
    this.blocked++;
    try {
      await this.env.sleep(ms);
    } finally {
      this.blocked--;
    }
  }

  /** Run a timer callback now, or at SIGCONT when frozen; never once dead. */
  timer(fn: () => void): void {
    if (!this.#alive) return;
    if (this.#frozen) this.#timers.push(fn);
    else fn();
  }

  /** SIGSTOP. */
  freeze(): void {
    if (this.#alive) this.#frozen = true;
  }

  /** SIGCONT: held calls go on with what they had read, then the timers that came due meanwhile fire. */
  thaw(): void {
    if (!this.#alive || !this.#frozen) return;
    this.#frozen = false;
    for (const r of this.#thaw.splice(0)) r();
    for (const fn of this.#timers.splice(0)) fn();
  }

  /** SIGKILL (or the host died): nothing of this process runs again. */
  kill(): void {
    this.#alive = false;
    this.#frozen = false;
    this.#thaw = [];
    this.#timers = [];
  }
}

function wrap<T extends object>(
  target: T,
  port: "dcs" | "pg",
  calls: Set<string>,
  proc: AgentProcess,
  fail: (message: string) => Error,
): T {
  const slow = async (method: string, fn: (...a: unknown[]) => unknown, args: unknown[], plan: CallPlan) => {
    proc.pending++;
    try {
      await proc.gate();
      if (plan.outcome === "hang") {
        await proc.sleep(proc.env.hangMs(port));
        await proc.gate();
        throw fail(`${method}: no answer (the call hung)`);
      }
      // Once issued, the call runs on without the agent (etcd applies the request, pg_ctl is a process of its own):
      // only the agent's reading of the reply waits for SIGCONT.
      await proc.sleep(plan.latencyMs);
      const result = await fn.apply(target, args);
      await proc.gate();
      if (plan.outcome === "lost") throw fail(`${method}: applied, but the reply was lost`);
      return result;
    } finally {
      proc.pending--;
    }
  };
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      if (typeof prop !== "string" || !calls.has(prop)) return value.bind(t);
      return (...args: unknown[]) => {
        const plan = proc.env.plan(port, prop);
        if (port === "pg" && prop === "observe" && plan.outcome !== "ok") plan.outcome = "ok";
        if (plan.refuse) return Promise.reject(plan.refuse());
        if (plan.latencyMs <= 0 && plan.outcome === "ok" && proc.free) return value.apply(t, args);
        return slow(prop, value as (...a: unknown[]) => unknown, args, plan);
      };
    },
  });
}

/** The agent's view of its ports, through its process. */
export function wrapPorts<D extends Dcs, P extends PostgresPort>(
  proc: AgentProcess,
  dcs: D,
  pg: P,
): { dcs: D; pg: P } {
  return {
    dcs: wrap(dcs, "dcs", DCS_CALLS, proc, (m) => new DcsError(`etcd ${m}`)),
    pg: wrap(pg, "pg", PG_CALLS, proc, (m) => new PostgresError(`postgres ${m}`)),
  };
}
