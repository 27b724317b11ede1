/**
 * A `PeerClient` for the simulator: instead of `GET <api_url>` over HTTP it asks a directory for the status
 * document the target member's REST API would serve right now, and reduces it with the same `parsePeerStatus` the
 * real `HttpPeerClient` uses. The simulator's directory answers `null` (no answer: the asker gets
 * `reachable: false`) when the target's host is down, its agent (which serves the API) is not running, or the
 * network between the two hosts is cut; otherwise it refreshes the target's Postgres status (as the agent's status
 * monitor does about every second) and builds the document with `buildStatus` from `src/api/health.ts`, so role,
 * WAL position, timeline and tags come from the target's own snapshot.
 *
 * Imports `src/api/peer_client.ts` (pure parsing), `src/core/ports.ts` and `src/core/types.ts`.
 *
 * @module
 */
import { parsePeerStatus } from "../../src/api/peer_client.ts";
import type { PeerClient } from "../../src/core/ports.ts";
import type { PeerStatus } from "../../src/core/types.ts";
import type { FailsafeAnswer } from "../../src/core/failsafe_types.ts";

/** Who answers `GET /patroni` in the simulated network. */
export interface PeerDirectory {
  /** The status body member `target` (found by its api_url) serves to `asker`, or null when there is no answer. */
  statusBody(asker: string, apiUrl: string): Promise<Record<string, unknown> | null>;
  /** The answer member `target` gives `asker`'s `POST /failsafe` with `body`, or null when there is no answer. */
  failsafeCall?(
    asker: string,
    apiUrl: string,
    body: Record<string, unknown>,
  ): Promise<{ status: number; body: string; lsn?: number; ttl?: number } | null>;
}

/** One member's peer client over a {@link PeerDirectory}. Never throws, like the real one. */
export class FakePeerClient implements PeerClient {
  readonly #me: string;
  readonly #directory: PeerDirectory;
  /** Every request made, for tests: `[asker, target]`. */
  readonly requests: [string, string][] = [];

  constructor(me: string, directory: PeerDirectory) {
    this.#me = me;
    this.#directory = directory;
  }

  fetchStatuses(members: { name: string; apiUrl: string }[], _timeoutMs: number): Promise<PeerStatus[]> {
    return Promise.all(members.map(async (m) => {
      this.requests.push([this.#me, m.name]);
      try {
        const body = await this.#directory.statusBody(this.#me, m.apiUrl);
        return body === null ? { name: m.name, reachable: false } : parsePeerStatus(m.name, body);
      } catch {
        return { name: m.name, reachable: false };
      }
    }));
  }

  /** The leader's failsafe round over the directory (as the real client: 200 `Accepted` is an acceptance). */
  postFailsafe(
    members: { name: string; apiUrl: string }[],
    body: Record<string, unknown>,
    _timeoutMs: number,
  ): Promise<FailsafeAnswer[]> {
    return Promise.all(members.map(async (m): Promise<FailsafeAnswer> => {
      this.requests.push([this.#me, m.name]);
      try {
        const reply = await this.#directory.failsafeCall?.(this.#me, m.apiUrl, body) ?? null;
        if (reply === null) return { name: m.name, accepted: false, error: "no answer" };
        const accepted = reply.status === 200 && reply.body === "Accepted";
        return {
          name: m.name,
          accepted,
          lsn: reply.lsn ?? null,
          ...(reply.ttl !== undefined ? { ttl: reply.ttl } : {}),
          ...(accepted ? {} : { error: reply.body }),
        };
      } catch (err) {
        return { name: m.name, accepted: false, error: String(err) };
      }
    }));
  }
}
