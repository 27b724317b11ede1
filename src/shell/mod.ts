/**
 * The shell: the HA loop around the core (observe -> decide -> execute -> guard -> publish -> log -> wait) in
 * `agent.ts`, with its rooms: `observe.ts` (the cycle's snapshot), `executor.ts` (the plan and its promote guard),
 * `fence.ts` (the lock belief and the fence timer), `isolation.ts` (the early isolation fence), `requests.ts` (what
 * the REST API asks of a running agent: reinit, restart, reload, answered with domain results) and `jobs.ts` (long
 * Postgres operations in the background).
 *
 * It carries out what the core decides and holds no decision of its own that the simulator cannot see; it talks
 * to the world only through the ports of `src/core/ports.ts` and a `Clock`, so the simulator runs this very code
 * against in-memory fakes on a virtual clock.
 *
 * May import: `src/core/` only (never an adapter: the composition root hands adapters in as ports).
 *
 * @module
 */
export { Agent, type AgentDeps, type CycleResult } from "./agent.ts";
