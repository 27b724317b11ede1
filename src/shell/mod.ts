/**
 * The shell: the HA loop around the core (observe -> decide -> execute -> log -> wait), the job runner for long
 * Postgres operations, and the requests the REST API makes of a running agent (reinit, restart, reload).
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
