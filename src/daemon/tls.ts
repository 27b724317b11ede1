/**
 * The REST API's TLS material, read from the files the configuration names: the certificate and key the listener
 * serves with, and the HTTP client members use to call each other. Read at start and again on every reload.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/config/` and `src/api/` types.
 *
 * @module
 */
import type { ApiTls } from "../api/handler.ts";
import type { Config } from "../config/config.ts";
import { insecurePeerGet, type PeerGet } from "../api/peer_get.ts";

/** What the listener serves with (null: plain HTTP) and the client for calls to other members (undefined: default). */
export interface TlsFiles {
  serve: ApiTls | null;
  client: Deno.HttpClient | undefined;
  /** With `ctl.insecure`: calls to other members without verifying their certificates (replaces `client`). */
  insecureGet?: PeerGet;
}

/**
 * The REST API's TLS material: the certificate and key it serves with (`restapi.certfile`/`keyfile`), and the
 * HTTP client members use to call each other (`ctl.cacert`, else `restapi.cafile`; `ctl.certfile`/`keyfile` as a
 * client certificate). Errors name the key.
 */
export async function readTlsFiles(config: Config): Promise<TlsFiles> {
  const read = async (key: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      throw new Error(
        `${config.source}: ${key}: cannot read ${path}: ${err instanceof Error ? err.message : err}`,
      );
    }
  };
  const { restapi, ctl } = config;
  let serve: ApiTls | null = null;
  if (restapi.certfile) {
    if (restapi.keyfilePassword) {
      throw new Error(`${config.source}: restapi.keyfile_password: encrypted keys are not supported yet`);
    }
    serve = {
      cert: await read("restapi.certfile", restapi.certfile),
      key: await read(
        restapi.keyfile ? "restapi.keyfile" : "restapi.certfile",
        restapi.keyfile ?? restapi.certfile,
      ),
    };
    if (restapi.verifyClient !== "none") {
      if (!restapi.cafile) {
        throw new Error(
          `${config.source}: restapi.cafile: is required with verify_client ${restapi.verifyClient}`,
        );
      }
      serve.ca = await read("restapi.cafile", restapi.cafile);
      serve.verifyClient = restapi.verifyClient;
    }
  }
  const caPath = ctl.cacert ?? restapi.cafile;
  const caCerts = caPath ? [await read(ctl.cacert ? "ctl.cacert" : "restapi.cafile", caPath)] : undefined;
  const clientCert = ctl.certfile && ctl.keyfile
    ? { cert: await read("ctl.certfile", ctl.certfile), key: await read("ctl.keyfile", ctl.keyfile) }
    : null;
  const client = caCerts || clientCert
    ? Deno.createHttpClient({ ...(caCerts ? { caCerts } : {}), ...(clientCert ?? {}) })
    : undefined;
  return { serve, client, ...(ctl.insecure ? { insecureGet: insecurePeerGet(clientCert) } : {}) };
}
