/**
 * The REST API's listener: where it listens (`restapi.listen`), starting it, moving it when a reload changes the
 * address or the TLS material (back on the previous listener when the new one cannot listen), and stopping it.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/api/` and `src/config/`.
 *
 * @module
 */
import { type ApiHandler, type ApiServer, type ApiTls, serveApi } from "../api/handler.ts";
import type { Config } from "../config/config.ts";
import type { DaemonLog } from "./running.ts";

/** The address a listener binds. */
export interface ListenTarget {
  hostname: string;
  port: number;
}

/** `restapi.listen` as an address to bind: an empty host or `*` means every interface. */
export function listenOn(c: Config): ListenTarget {
  const listen = c.restapi.listen;
  return {
    hostname: listen.host === "" || listen.host === "*" ? "0.0.0.0" : listen.host,
    port: listen.port,
  };
}

/** The REST API's one listener, replaced (never doubled) when a reload moves it. */
export class RestListener {
  #abort = new AbortController();
  #server: ApiServer | null = null;
  #handler: ApiHandler | null = null;

  constructor(private readonly log: DaemonLog) {}

  /** The address the listener is bound to (its real port when asked for port 0), or null before it started. */
  get address(): ListenTarget | null {
    return this.#server ? { ...this.#server.addr } : null;
  }

  /** Serve `handler` on `target`; false (and logged) when it cannot listen. */
  async start(handler: ApiHandler, target: ListenTarget, tls: ApiTls | null): Promise<boolean> {
    this.#handler = handler;
    try {
      this.#server = await this.#serve(target, tls);
      return true;
    } catch (err) {
      this.log.error("could not start the REST API on {address}: {error}", {
        address: `${target.hostname}:${target.port}`,
        error: String(err),
      });
      return false;
    }
  }

  /**
   * Move to `target` (a reload changed `listen` or the TLS material): stop the current listener and wait for it,
   * then listen anew. When the new listener cannot start, log it and listen again where `fallback` says (the
   * previous settings, which it puts back in effect); a failure there throws.
   */
  async restart(
    target: ListenTarget,
    tls: ApiTls | null,
    fallback: () => Promise<{ target: ListenTarget; tls: ApiTls | null }>,
  ): Promise<void> {
    this.#abort.abort();
    await this.#server?.finished.catch(() => {});
    this.#abort = new AbortController();
    try {
      this.#server = await this.#serve(target, tls);
      this.log.info("REST API now on {address}", { address: `${target.hostname}:${target.port}` });
    } catch (err) {
      this.log.error(
        "reload: could not start the REST API on {address}: {error}; back on the previous listener",
        {
          address: `${target.hostname}:${target.port}`,
          error: String(err),
        },
      );
      const previous = await fallback();
      this.#abort = new AbortController();
      this.#server = await this.#serve(previous.target, previous.tls);
    }
  }

  /** Stop listening and wait until the listener has finished. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#server?.finished.catch(() => {});
  }

  #serve(target: ListenTarget, tls: ApiTls | null): Promise<ApiServer> {
    return serveApi(this.#handler!, {
      ...target,
      signal: this.#abort.signal,
      ...(tls ? { tls } : {}),
    });
  }
}
