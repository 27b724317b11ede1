/**
 * The simulated fencing supervisor's failure modes, and what the agent's client (src/host/fence_client.ts) says of
 * each: `missing` (it could not start), `dead` (it exited; its deadline file stays), `frozen` (stopped: it neither
 * answers nor fires). The simulator (sim.ts) wires them into each member's `FenceChannel`.
 *
 * Imports nothing.
 *
 * @module
 */

/** The fencing supervisor's states the simulator models. */
export type SupervisorMode = "ok" | "missing" | "dead" | "frozen";

/** How long the agent waits for the supervisor's answer (src/host/fence_client.ts FENCE_ACK_TIMEOUT_MS). */
const FENCE_ACK_TIMEOUT_MS = 2000;
/** The client pings an idle supervisor this often. */
const PING_EVERY_MS = 1000;

/** Why the agent's client finds the supervisor not usable `now`, or null. */
export function supervisorProblem(
  m: { supervisor: SupervisorMode; supervisorSince: number },
  now: number,
): string | null {
  if (m.supervisor === "missing") return "could not start hactl: No such file or directory";
  if (m.supervisor === "dead") return "it exited with code 1";
  // Frozen: the next ping goes unanswered past the timeout.
  const waited = now - m.supervisorSince;
  if (m.supervisor === "frozen" && waited > FENCE_ACK_TIMEOUT_MS + PING_EVERY_MS) {
    return `it has not answered for ${(waited / 1000).toFixed(1)} s`;
  }
  return null;
}
