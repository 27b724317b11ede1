/**
 * What the running daemon holds of its local configuration and rebuilds on a reload: the configuration in effect,
 * its TLS material and the peer client built from them, plus the builders both start and reload use (the peer
 * client, the callback runner).
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/api/`, `src/pg/`, `src/log/`.
 *
 * @module
 */
import type { PeerGet } from "../api/peer_get.ts";
import { HttpPeerClient } from "../api/peer_client.ts";
import type { Config } from "../config/config.ts";
import type { PeerClient } from "../core/ports.ts";
import type { moduleLogger } from "../log/log.ts";
import { ProcessCallbackRunner } from "../pg/callbacks.ts";
import type { TlsFiles } from "./tls.ts";

/** The daemon's logger (category `agent`). */
export type DaemonLog = ReturnType<typeof moduleLogger>;

/** The local configuration in effect and what is built from it; a reload replaces the fields. */
export interface Running {
  config: Config;
  tls: TlsFiles;
  peerClient: PeerClient;
}

/** Members call each other with the `ctl` credentials (else `restapi`'s) and the TLS client of `tls.ts`. */
export function peerClientFor(c: Config, client: Deno.HttpClient | undefined, get?: PeerGet): HttpPeerClient {
  return new HttpPeerClient({
    auth: c.ctl.authentication ?? c.restapi.authentication,
    ...(client ? { httpClient: client } : {}),
    ...(get ? { get } : {}),
  });
}

/** The peer client the agent and the API use: always the one of the configuration in effect. */
export function runningPeers(running: Running): PeerClient {
  return {
    fetchStatuses: (members, timeoutMs) => running.peerClient.fetchStatuses(members, timeoutMs),
    postFailsafe: (members, body, timeoutMs) =>
      running.peerClient.postFailsafe?.(members, body, timeoutMs) ??
        Promise.resolve(members.map((m) => ({ name: m.name, accepted: false, error: "no failsafe client" }))),
  };
}

/** `postgresql.callbacks` of a configuration, run with its scope; a failing callback is a warning. */
export function callbacksFor(c: Config, log: DaemonLog): ProcessCallbackRunner {
  return new ProcessCallbackRunner(c.postgresql.callbacks, c.scope, (m) => log.warn(m));
}
