/**
 * The fuzzer's fault kinds, one registry entry each: what the fault does to member `name` (and, for a link cut,
 * `other`) at `at` ms, healed `duration` s later where it heals. Adding a kind is adding an entry; an entry marked
 * with a known finding (invariants.ts `FINDINGS`) is generated only when that finding is enabled
 * (`HACTL_SIM_FINDINGS`), so CI stays green until the fix lands and the lead turns it on.
 *
 * `strike(fn)` schedules the fault and counts, when it strikes, whether it hit the leader or a replica (the
 * coverage table, coverage.ts).
 *
 * Imports sim.ts, sim_faults.ts, invariants.ts (finding ids) and the fake Postgres (operation names).
 *
 * @module
 */
import type { FakeOp } from "../fakes/memory_pg.ts";
import type { FindingId } from "./invariants.ts";
import type { Sim } from "./sim.ts";
import type { SimMember } from "./sim_types.ts";
import { SIM_PROMISE } from "./sim_dynamic.ts";
import {
  clockStep,
  clusterRestart,
  cutLink,
  editConfig,
  failPostgres,
  flaky,
  freeze,
  killSupervisor,
  supervisorMissing,
  watchLag,
} from "./sim_faults.ts";

/** One fault of a schedule. */
export interface Fault {
  /** Seconds after the start. */
  at: number;
  kind: string;
  member: number;
  /** The other member (link cuts), as an offset 1..members-1 from `member`. */
  other: number;
  /** Seconds until the fault is healed (or a parameter of the fault). */
  duration: number;
}

/** What a fault kind gets to schedule itself. */
export interface FaultContext {
  sim: Sim;
  name: string;
  other: string;
  /** Virtual ms when the fault strikes. */
  at: number;
  /** Virtual ms when it heals. */
  healAt: number;
  /** Schedule the fault at `at` (coverage counts the role it hits then). */
  strike(fn: () => void): void;
  /** Schedule the heal at `healAt` (the schedule runs long enough past the last heal). */
  heal(fn: () => void): void;
  /** The longest a stalled loop may be held back (2 ttl). */
  maxDelayMs: number;
  /** The schedule's own timing (an edit-config of every timing changes it back when it heals). */
  timing: { ttl: number; loop_wait: number; retry_timeout: number };
}

export interface FaultKind {
  what: string;
  /** The known bug this fault kind finds: generated only when that finding is enabled. */
  finding?: FindingId;
  schedule(c: FaultContext, f: Fault): void;
}

const PG_OPS: FakeOp[] = ["rewind", "start", "stop", "promote"];

/** What an edit-config of every timing sets ttl/loop_wait/retry_timeout to (until it heals). */
const EDITED_TIMINGS = [
  { ttl: 10, loop_wait: 2, retry_timeout: 4 },
  { ttl: 5, loop_wait: 1, retry_timeout: 2 },
  { ttl: 30, loop_wait: 10, retry_timeout: 10 },
  { ttl: 20, loop_wait: 5, retry_timeout: 5 },
  { ttl: 15, loop_wait: 3, retry_timeout: 6 },
];

/**
 * An edit-config fault, chosen by `duration`: a lower loop_wait, a lower retry_timeout, a lower ttl, a higher ttl
 * (each for good), or every timing at once (`EDITED_TIMINGS`, back to the schedule's own when it heals).
 */
function editTimings(c: FaultContext, f: Fault): void {
  const s = c.sim.settings;
  const one = [
    { loop_wait: f.duration % 2 === 0 ? 2 : Math.max(2, Math.floor(s.ttl / 4)) },
    { retry_timeout: f.duration % 3 === 0 ? 3 : Math.max(3, Math.floor(s.ttl / 4)) },
    { ttl: Math.max(20, s.ttl - 10) },
    { ttl: s.ttl + 10 * (1 + (f.duration % 3)) },
  ];
  const i = f.duration % (one.length + 1);
  if (i < one.length) return c.strike(() => editConfig(c.sim, one[i]!));
  // ttl 5 with a required watchdog at Patroni's default safety_margin 5 leaves it a 0 s timeout: no member may
  // lead then (as configured). Only schedules that set a margin for it (the ttl 5 profile) edit to it.
  const edited = EDITED_TIMINGS.filter((t) => t.ttl > 5 || !c.sim.hasWatchdog || c.timing.ttl === 5);
  c.strike(() => editConfig(c.sim, edited[Math.floor(f.duration / 5) % edited.length]!));
  c.heal(() => editConfig(c.sim, c.timing));
}

/** SIGSTOP the agent once no cycle or job of it is under way (tried every 100 ms for up to a minute, then not). */
function idleFreeze(c: FaultContext, what: "agent" | "group" = "agent"): void {
  const m = c.sim.member(c.name);
  const idle = !m.busy && (m.proc?.pending ?? 0) === 0 && !c.sim.world.hasPendingOps(c.name);
  if (idle) freeze(c.sim, c.name, what, c.healAt - c.sim.now);
  else if (c.sim.now < c.at + 60_000) c.sim.at(c.sim.now + 100, () => idleFreeze(c, what));
}

/** Fault kinds that stop or kill the agent while its Postgres may run. */
const AGENT_STOPS = new Set(["kill-agent", "freeze-agent", "freeze-agent-mid-call", "freeze-group"]);
/** Fault kinds that stop or kill the fencing supervisor. */
const SUPERVISOR_STOPS = new Set(["supervisor-dead", "supervisor-missing", "freeze-supervisor"]);

/**
 * Would the fault `kind` on member `name` now strike inside the window the fencing design leaves to a watchdog
 * (docs/fencing.md), on a host without one: a supervisor fault while the agent of a writable (or promoting)
 * primary is stopped or dead (nothing can act then), or an agent fault after its supervisor went down and before
 * the cycle its client woke has ended (that cycle gives the key up)? Past that cycle an agent fault strikes: a gate
 * that did not act is then caught by invariants a and e.
 */
export function leavesUnfenced(sim: Sim, name: string, kind: string): boolean {
  const m = sim.member(name);
  // A key holder whose Postgres runs in recovery is promoting (or about to): writable once `pg_ctl promote` ends
  // (found once faults no longer waited for the end of every promotion).
  const mayWrite = m.pg.isRunningPrimary() || (sim.leaderKey() === name && m.pg.running);
  if (sim.hasWatchdog || !mayWrite) return false;
  if (AGENT_STOPS.has(kind)) return m.supervisor.state !== "running" && !gateHadItsCycle(m);
  if (SUPERVISOR_STOPS.has(kind)) return m.state !== "running" || (m.proc?.frozen ?? false);
  return false;
}

/** Has a cycle woken by the supervisor's client for its current spell down (or a later one) ended? */
function gateHadItsCycle(m: SimMember): boolean {
  const down = m.supervisor.downSince;
  const woken = m.fenceWokenAt;
  const ended = m.fenceGateCycleEndedAt;
  return down !== null && woken !== undefined && ended !== undefined && woken >= down && ended >= woken;
}

/**
 * The agent fault that follows a fencing supervisor fault on the same host: at once when the host has a watchdog;
 * otherwise once the cycle the supervisor's client woke has ended (the gate acted then), the member no longer runs a
 * writable primary, or its supervisor runs again (restarted by the client), at the latest a minute later (a gate
 * that never acts is then caught by invariants a and e).
 */
function afterGate(c: FaultContext, kind: string, fn: () => void, since = c.sim.now): void {
  const waits = leavesUnfenced(c.sim, c.name, kind);
  if (!waits || c.sim.now >= since + 60_000) fn();
  else c.sim.at(c.sim.now + 500, () => afterGate(c, kind, fn, since));
}

/**
 * A request as `hactl switchover` writes it: from the current leader, to this member (even durations) or to anyone,
 * or with no leader key a failover to this member. `settled`: only while the leader has run as a primary for two
 * loop_waits since the last promotion (as an operator switches over a healthy cluster).
 */
function switchover(c: FaultContext, f: Fault, settled: boolean): void {
  const leader = c.sim.leaderKey();
  if (settled && leader) {
    const last = c.sim.world.promotions.at(-1)?.at ?? 0;
    const pg = c.sim.member(leader).pg;
    if (!pg.isRunningPrimary() || c.sim.now - last < 2 * c.sim.settings.loopWait * 1000) return;
  }
  // With no leader key, a failover beside a primary that still runs (failsafe mode keeps one up without etcd) is
  // the operator overriding the failsafe key, which hactl lets a named failover do (docs/compatibility.md): not
  // generated (it used to wait for a leader key like every fault, until faults stopped waiting for `history`).
  if (!leader && c.sim.world.runningPrimaries().length > 0) return;
  const candidate = f.duration % 2 === 0 ? { member: c.name } : {};
  c.sim.requestFailover(leader ? { leader, ...candidate } : { member: c.name });
}

/** Cut (or heal) every host's link to etcd: an etcd outage. */
function etcdOutage(c: FaultContext, cut: boolean): void {
  for (const m of c.sim.members) if (m.dcsPartitioned !== cut) c.sim.partitionDcs(m.name, cut);
}

/** Every fault kind the fuzzer draws from. */
export const FAULT_KINDS: Record<string, FaultKind> = {
  "partition": {
    what: "the host loses etcd, its peers and replication",
    schedule: (
      c,
    ) => (c.strike(() => c.sim.partition(c.name, true)), c.heal(() => c.sim.partition(c.name, false))),
  },
  "partition-dcs": {
    what: "the host loses etcd only",
    schedule: (c) => (
      c.strike(() => c.sim.partitionDcs(c.name, true)), c.heal(() => c.sim.partitionDcs(c.name, false))
    ),
  },
  "etcd-outage": {
    what: "every host loses etcd (all of etcd is down), back later",
    schedule: (c) => (c.strike(() => etcdOutage(c, true)), c.heal(() => etcdOutage(c, false))),
  },
  "failsafe-toggle": {
    what: "edit-config sets failsafe_mode, unset when it heals (a leader without etcd then demotes again)",
    schedule: (c) => (
      c.strike(() => c.sim.setConfig({ failsafe_mode: true })),
        c.heal(() => c.sim.setConfig({ failsafe_mode: false }))
    ),
  },
  "cut-link": {
    what: "one-way cut: the member cannot reach another (stream, clone, ask) while the other reaches it",
    schedule: (c) => (
      c.strike(() => cutLink(c.sim, c.name, c.other, true)),
        c.heal(() => cutLink(c.sim, c.name, c.other, false))
    ),
  },
  "crash-postgres": {
    what: "the postmaster dies",
    schedule: (c) => c.strike(() => c.sim.crashPostgres(c.name)),
  },
  "restart-agent": {
    what: "SIGTERM and restart of the agent",
    schedule: (c) => c.strike(() => c.sim.restartAgent(c.name)),
  },
  "stop-agent": {
    what: "SIGTERM of the agent (clean stop), started again later",
    schedule: (c) => (c.strike(() => c.sim.stopAgent(c.name)), c.heal(() => c.sim.startAgent(c.name))),
  },
  "kill-agent": {
    what: "SIGKILL of the agent (Postgres keeps running), started again later",
    schedule: (c) => (c.strike(() => c.sim.killAgent(c.name)), c.heal(() => c.sim.startAgent(c.name))),
  },
  "host-crash": {
    what: "the host dies and boots later",
    schedule: (c) => (c.strike(() => c.sim.hostCrash(c.name)), c.heal(() => c.sim.hostStart(c.name))),
  },
  "delay": {
    what: "the loop is held back (a hung call), its timers still fire",
    schedule: (c, f) => c.strike(() => c.sim.delay(c.name, Math.min(f.duration * 1000, c.maxDelayMs))),
  },
  "lag": {
    what: "a replica stops receiving WAL",
    schedule: (c) => (c.strike(() => c.sim.lag(c.name, true)), c.heal(() => c.sim.lag(c.name, false))),
  },
  "stop-receiver": {
    what: "a replica's WAL receiver goes down (Postgres runs and answers, in archive recovery), back later",
    schedule: (c) => (
      c.strike(() => c.sim.stopReceiver(c.name, true)), c.heal(() => c.sim.stopReceiver(c.name, false))
    ),
  },
  "switchover": {
    what:
      "hactl switchover from a settled leader (even durations: to this member), or a failover to it without leader",
    schedule: (c, f) => c.strike(() => switchover(c, f, true)),
  },
  "switchover-racing": {
    what:
      "hactl switchover at any moment (also while the leader is still promoting, or a handover is under way)",
    schedule: (c, f) => c.strike(() => switchover(c, f, false)),
  },
  "freeze-agent": {
    what: "SIGSTOP of the agent alone between its cycles and jobs, SIGCONT later (resumes with stale state)",
    schedule: (c) => c.strike(() => idleFreeze(c)),
  },
  "freeze-agent-mid-call": {
    what: "SIGSTOP of the agent alone at any moment (in a cycle or a job), SIGCONT later",
    schedule: (c) => c.strike(() => freeze(c.sim, c.name, "agent", c.healAt - c.at)),
  },
  "freeze-supervisor": {
    what: "SIGSTOP of the fencing supervisor alone, SIGCONT later",
    schedule: (c) => c.strike(() => freeze(c.sim, c.name, "supervisor", c.healAt - c.at)),
  },
  "freeze-group": {
    what:
      "SIGSTOP of the agent's process group, SIGCONT later (the supervisor, in a session of its own, keeps " +
      "running), at any moment",
    schedule: (c) => c.strike(() => freeze(c.sim, c.name, "group", c.healAt - c.at)),
  },
  "supervisor-dead": {
    what: "the fencing supervisor dies, then (see afterGate) the agent is killed (Postgres keeps running)",
    schedule: (c) => (
      c.strike(() => (killSupervisor(c.sim, c.name),
        afterGate(c, "kill-agent", () => {
          c.sim.killAgent(c.name);
          // Killed after its heal time (the kill waited): started again a second later.
          if (c.sim.now >= c.healAt) c.sim.at(c.sim.now + 1000, () => c.sim.startAgent(c.name));
        }))
      ), c.heal(() => c.sim.startAgent(c.name))
    ),
  },
  "supervisor-missing": {
    what:
      "the fencing supervisor dies and cannot start again; then (see afterGate) the agent is frozen meanwhile",
    schedule: (c) => {
      c.strike(() => {
        supervisorMissing(c.sim, c.name, true);
        afterGate(
          c,
          "freeze-agent",
          () => freeze(c.sim, c.name, "agent", Math.max(1000, c.healAt - c.sim.now)),
        );
      });
      c.heal(() => supervisorMissing(c.sim, c.name, false));
    },
  },
  "pg-fail": {
    what: "the next rewind, start, stop or promote of Postgres fails",
    schedule: (c, f) => c.strike(() => failPostgres(c.sim, c.name, PG_OPS[f.duration % PG_OPS.length]!)),
  },
  "flaky-calls": {
    what: "etcd and Postgres calls hang or lose their reply after being applied",
    schedule: (c) => c.strike(() => flaky(c.sim, c.name, Math.min(c.healAt - c.at, c.maxDelayMs))),
  },
  "watch-lag": {
    what:
      "the member's etcd watch delivers nothing for a while, then every event at once (a slow etcd member)",
    schedule: (c) => c.strike(() => watchLag(c.sim, c.name, Math.max(1000, c.healAt - c.at))),
  },
  "edit-config": {
    what:
      "edit-config mid-schedule: a lower loop_wait or retry_timeout, a lower or higher ttl, or every timing " +
      "(changed back when it heals)",
    schedule: editTimings,
  },
  "config-refused": {
    what:
      "edit-config sets a promise hactl cannot keep (the simulator's future_promise, tests/sim/sim_dynamic.ts), " +
      "unset later",
    schedule: (c) => (
      c.strike(() => c.sim.setConfig({ [SIM_PROMISE]: true })),
        c.heal(() => c.sim.setConfig({ [SIM_PROMISE]: null }))
    ),
  },
  "quorum-toggle": {
    what:
      "edit-config turns synchronous_mode quorum on (strict for even durations, synchronous_node_count 2 for " +
      "durations divisible by 3), off when it heals",
    schedule: (c, f) => (
      c.strike(() =>
        c.sim.setConfig({
          synchronous_mode: "quorum",
          synchronous_mode_strict: f.duration % 2 === 0,
          synchronous_node_count: f.duration % 3 === 0 ? 2 : 1,
        })
      ),
        c.heal(() =>
          c.sim.setConfig({
            synchronous_mode: false,
            synchronous_mode_strict: false,
            synchronous_node_count: 1,
          })
        )
    ),
  },
  "sync-toggle": {
    what: "edit-config turns synchronous_mode on (strict for even durations), off when it heals",
    schedule: (c, f) => (
      c.strike(() =>
        c.sim.setConfig({ synchronous_mode: true, synchronous_mode_strict: f.duration % 2 === 0 })
      ), c.heal(() => c.sim.setConfig({ synchronous_mode: false, synchronous_mode_strict: false }))
    ),
  },
  "clock-step": {
    what: "the host's wall clock steps forward or back",
    schedule: (c, f) =>
      c.strike(() => clockStep(c.sim, c.name, (f.duration % 2 === 0 ? 1 : -1) * f.duration * 60_000)),
  },
  "cluster-restart": {
    what: "every agent stopped cleanly, then started on kept data in a random order",
    schedule: (c, f) =>
      c.strike(() =>
        clusterRestart(c.sim, c.sim.members.map((_, i) => ((f.duration * (i + 3) * 7919) % 60) * 1000))
      ),
  },
};
