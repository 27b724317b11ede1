/**
 * The simulator's faults beyond the basic ones of sim.ts, each a function on a `Sim`: SIGSTOP/SIGCONT of an agent,
 * of its fencing supervisor, or of both (a stop signal to their process group); a supervisor that dies or cannot
 * start; a one-way link cut between two hosts (asymmetric partition); a Postgres operation that fails; a stretch of
 * flaky calls (hung etcd calls, replies lost after the call was applied); an etcd watch that lags (its events held
 * back, then delivered at once); `hactl edit-config` changing `ttl`,
 * `loop_wait` or `retry_timeout`; a step of a host's wall clock; a stop of the whole cluster on kept data and its
 * start in any order. Every fault notes its start and its end (`noteFault`) so liveness and convergence count from
 * there, and records itself in the trace.
 *
 * Imports `src/` (codec), the fake Postgres and sim.ts.
 *
 * @module
 */
import { clusterPrefix, KEYS } from "../../src/dcs/codec.ts";
import type { FakeOp } from "../fakes/memory_pg.ts";
import type { Sim } from "./sim.ts";

/**
 * SIGSTOP the agent (`agent`), its supervisor (`supervisor`) or the agent's process group (`group`) for `ms`, then
 * SIGCONT. The supervisor runs in a session and process group of its own (src/host/fence_client.ts), so a stop
 * signal to the agent's group stops the agent only.
 */
export function freeze(sim: Sim, name: string, what: "agent" | "supervisor" | "group", ms: number): void {
  const m = sim.member(name);
  const agent = what !== "supervisor" ? m.proc : null;
  const sup = what === "supervisor" ? m.supervisor : null;
  if (what !== "supervisor" && (!agent || agent.frozen || m.state !== "running")) return;
  agent?.freeze();
  sup?.freeze();
  sim.noteFault(name);
  sim.event(name, `SIGSTOP to the ${what === "group" ? "agent's process group" : what} for ${ms / 1000}s`);
  sim.at(sim.now + ms, () => {
    agent?.thaw();
    sup?.thaw();
    sim.noteFault(name);
    sim.event(name, `SIGCONT to the ${what === "group" ? "agent's process group" : what}`);
    // The resumed loop goes on at once (its wait ended long ago).
    if (m.proc === agent && agent) m.nextAt = Math.min(m.nextAt, sim.now);
  });
}

/** The fencing supervisor dies (the agent's client starts it again after its backoff, if the agent runs). */
export function killSupervisor(sim: Sim, name: string): void {
  sim.member(name).supervisor.kill();
  sim.noteFault(name);
  sim.event(name, "the fencing supervisor died");
}

/**
 * The fencing supervisor cannot start on this host (`on`: the client's restarts fail), or can again (`!on`: its
 * next restart succeeds); `on` also kills the running one.
 */
export function supervisorMissing(sim: Sim, name: string, on: boolean): void {
  const sup = sim.member(name).supervisor;
  sup.canStart = !on;
  if (on) sup.kill();
  sim.noteFault(name);
  sim.event(name, on ? "the fencing supervisor cannot start" : "the fencing supervisor can start again");
}

/** Cut (or heal) the link from `a` to `b` only: `a` cannot stream from, clone from or ask `b`. */
export function cutLink(sim: Sim, a: string, b: string, cut: boolean): void {
  if (a === b) return;
  if (cut) sim.cuts.add(`${a}>${b}`);
  else sim.cuts.delete(`${a}>${b}`);
  sim.noteFault(a);
  sim.event(a, cut ? `cannot reach ${b} (one-way cut)` : `reaches ${b} again`);
}

/** The next `op` of the member's Postgres fails. */
export function failPostgres(sim: Sim, name: string, op: FakeOp): void {
  sim.member(name).pg.failNext(op);
  sim.noteFault(name);
  sim.event(name, `the next ${op} of postgres fails`);
}

/** For `ms`, the member's calls may hang or lose their reply (as the simulation's call plan says). */
export function flaky(sim: Sim, name: string, ms: number): void {
  const m = sim.member(name);
  m.flakyUntil = Math.max(m.flakyUntil, sim.now + ms);
  sim.noteFault(name);
  sim.event(name, `calls hang or lose replies for ${ms / 1000}s`);
  sim.at(sim.now + ms, () => sim.noteFault());
}

/**
 * For `ms`, the member's etcd watch delivers nothing, then every event held back, in order (a slow etcd member, a
 * busy stream): its copy of the prefix falls behind the store while etcd answers its calls as before.
 */
export function watchLag(sim: Sim, name: string, ms: number): void {
  sim.etcd.delayWatch(name, sim.now + ms);
  sim.noteFault(name);
  sim.event(name, `its etcd watch delivers nothing for ${ms / 1000}s`);
  sim.at(sim.now + ms, () => sim.noteFault(name));
}

/** `hactl edit-config` (`Sim.editConfig`): merge `changes` into the `config` key (no-op before the cluster has one). */
export function editConfig(sim: Sim, changes: Record<string, unknown>): void {
  if (sim.etcd.get("ctl", clusterPrefix("/service", "demo") + KEYS.config) === null) return;
  sim.editConfig(changes);
}

/** The member's wall clock steps by `ms` (NTP step, a VM resumed). */
export function clockStep(sim: Sim, name: string, ms: number): void {
  sim.member(name).wallOffset += ms;
  sim.noteFault();
  sim.event(name, `wall clock stepped by ${ms / 1000}s`);
}

/** Stop every agent cleanly (SIGTERM, kept data), then start them `startAfter[i]` ms later each. */
export function clusterRestart(sim: Sim, startAfter: number[]): void {
  sim.event("ctl", "whole cluster stopping");
  for (const m of sim.members) sim.stopAgent(m.name);
  sim.members.forEach((m, i) => {
    const at = sim.now + (startAfter[i] ?? 0);
    const start = () => {
      // The stop may still be under way: start once the agent has stopped.
      if (m.state === "stopped") sim.startAgent(m.name);
      else if (m.state === "stopping") sim.at(sim.now + 1000, start);
    };
    sim.at(at, start);
  });
}
