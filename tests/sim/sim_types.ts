/**
 * The simulator's options and members (SimOptions, SimMember) and its defaults: Patroni's `bootstrap.dcs` timings
 * and the job durations.
 *
 * Imports types of src/ and of the simulator's fakes and processes.
 *
 * @module
 */
import type { Agent } from "../../src/shell/agent.ts";
import type { Tags } from "../../src/core/types.ts";
import type { MemoryDcs } from "../fakes/memory_dcs.ts";
import type { FakePostgres, OpDurations } from "../fakes/memory_pg.ts";
import type { TraceLine } from "./trace.ts";
import type { AgentProcess, CallPlan } from "./process.ts";
import type { SimSupervisor } from "./supervisor.ts";
import type { SimWatchdogDevice } from "./watchdog.ts";

/** Patroni's defaults, as a `bootstrap.dcs` section. */
export const DEFAULT_BOOTSTRAP_DCS: Record<string, unknown> = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  postgresql: { use_slots: true },
};

/** Job durations used unless a test says otherwise (ms of virtual time). */
export const DEFAULT_DURATIONS: OpDurations = {
  bootstrap: 2000,
  createReplica: 3000,
  rewind: 1000,
  start: 1000,
};

export interface SimOptions {
  members?: number;
  /** Seeds the fake Postgres world (system identifiers); reported with every violation. */
  seed?: number;
  bootstrapDcs?: Record<string, unknown>;
  durations?: Partial<OpDurations>;
  /** When each member's first cycle runs (ms); default all at 0, in name order. */
  startOffsets?: number[];
  tags?: Record<string, Tags>;
  /** Called for every trace line (cycles and events). */
  onLine?: (line: TraceLine) => void;
  /**
   * Also fail when a replica streams a history that is not its own although timeline numbers and switch points
   * match (invariant c, strict form). Default true (the fuzzer too, unless `HACTL_SIM_CHECK_HISTORIES=0`).
   */
  checkHistories?: boolean;
  /** The latency and outcome of every port call (faults inside a cycle); default: none, every call at once. */
  callPlan?: (member: string, port: "dcs" | "pg", method: string) => CallPlan;
  /** Run members due at the same instant in a seeded random order instead of name order. */
  shuffleTies?: boolean;
  /**
   * Give every agent a required watchdog on a simulated device (watchdog.ts) that resets the host: `true` with
   * Patroni's default `safety_margin` 5, a number for another margin (-1: half the ttl).
   */
  watchdog?: boolean | number;
}

export type AgentState = "running" | "stopping" | "stopped" | "down";

/** One simulated host. */
export interface SimMember {
  readonly name: string;
  readonly connUrl: string;
  readonly apiUrl: string;
  readonly pg: FakePostgres;
  agent: Agent | null;
  dcs: MemoryDcs | null;
  state: AgentState;
  restartAfterStop: boolean;
  nextAt: number;
  blockedUntil: number;
  partitioned: boolean;
  dcsPartitioned: boolean;
  /** Cycles run at the current virtual instant (livelock guard). */
  burst: { at: number; count: number };
  /** The fencing supervisor (a process of its own: its deadline outlives the agent process, not the host). */
  readonly supervisor: SimSupervisor;
  /** The agent process (its calls, SIGSTOP/SIGCONT); null while no agent runs. */
  proc: AgentProcess | null;
  /** A cycle or a shutdown of this agent is under way. */
  busy: boolean;
  /** The wall clock's step from true time (ms; a clock step fault). */
  wallOffset: number;
  /** Until when this member's etcd calls are flaky (hang or lose replies; virtual ms). */
  flakyUntil: number;
  /** The sentence of this member's last cycle. */
  lastReason: string;
  /** The host's watchdog device (used by its agent when the simulation has watchdogs). */
  readonly device: SimWatchdogDevice;
  /** When its fencing supervisor's client last woke the loop (the supervisor became unusable). */
  fenceWokenAt?: number;
  /** When a cycle that started at or after `fenceWokenAt` ended with its whole plan carried out (the gate acted). */
  fenceGateCycleEndedAt?: number;
}
