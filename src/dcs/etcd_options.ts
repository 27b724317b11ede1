/**
 * The connection options of one `npm:etcd3` client, built from the YAML `etcd3` section: the endpoint, the dial
 * and default call deadlines, username/password, and TLS (`protocol: https`, `cacert`, `cert`/`key` client
 * certificates, read once here). TLS goes through grpc-js over Deno's `node:tls`; `allowIpEndpointsOverTls`
 * papers over the one runtime difference that matters.
 *
 * May import: `etcd3` (types), `node:tls`, `node:net`, `src/core/` (ports), `src/config/` (types).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import tls from "node:tls";
import type { IOptions } from "etcd3";
import type { Etcd3Config } from "../config/config.ts";
import { DcsError } from "../core/ports.ts";
import { describe } from "./etcd_endpoints.ts";

const IP_SERVERNAME_SHIM = Symbol.for("hactl.tls.ipServernameShim");

/**
 * grpc-js always passes the endpoint's host as the TLS `servername`. For an IP literal (`hosts: 10.0.0.5:2379`,
 * the usual etcd configuration) Deno's `node:tls.connect` throws `ERR_INVALID_ARG_VALUE` (RFC 6066 forbids an IP
 * as SNI) where Node only warns, so no TLS connection to an etcd named by its IP address could be made at all.
 * This wraps `tls.connect` once per process to leave such a `servername` out; the server certificate is then
 * still verified against the IP (`checkServerIdentity(host)`, IP subjectAltNames), exactly as Node does when no
 * servername is given. DNS names are passed through untouched. Installed only when TLS is configured.
 */
function allowIpEndpointsOverTls(): void {
  type Connect = (...args: unknown[]) => tls.TLSSocket;
  const mod = tls as unknown as { connect: Connect & { [IP_SERVERNAME_SHIM]?: true } };
  if (mod.connect[IP_SERVERNAME_SHIM]) return;
  const original = mod.connect;
  const connect = (...args: unknown[]): tls.TLSSocket => {
    const [first, ...rest] = args;
    if (typeof first === "object" && first !== null && "servername" in first) {
      const { servername, ...others } = first as { servername?: unknown };
      if (typeof servername === "string" && isIP(servername) !== 0) return original(others, ...rest);
    }
    return original(...args);
  };
  mod.connect = Object.assign(connect, { [IP_SERVERNAME_SHIM]: true as const });
}

/** Build the `npm:etcd3` client options from the YAML `etcd3` section (reads TLS files once, here). */
export function clientOptions(etcd: Etcd3Config, timeoutMs: number): IOptions {
  if (
    etcd.protocol === "https" || etcd.cacert !== undefined || etcd.cert !== undefined ||
    etcd.hosts.some((h) => h.startsWith("https://"))
  ) {
    allowIpEndpointsOverTls();
  }
  const options: IOptions = {
    hosts: etcd.hosts,
    dialTimeout: timeoutMs,
    // Non-stream calls get a deadline even if a caller forgot one; streams are bounded by their callers.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  };
  if (etcd.username !== undefined) {
    options.auth = {
      username: etcd.username,
      password: etcd.password ?? "",
      callOptions: () => ({ deadline: Date.now() + timeoutMs }),
    };
  }
  if (etcd.cacert !== undefined || etcd.cert !== undefined) options.credentials = tlsCredentials(etcd);
  return options;
}

/** The PEM files of `cacert`, `cert` and `key` as grpc-js credentials; an unreadable file is a `DcsError`. */
function tlsCredentials(etcd: Etcd3Config): NonNullable<IOptions["credentials"]> {
  const read = (what: string, path: string) => {
    try {
      return Buffer.from(Deno.readFileSync(path));
    } catch (err) {
      throw new DcsError(`etcd3.${what}: cannot read ${path}: ${describe(err)}`, { cause: err });
    }
  };
  return {
    // Without `cacert`, grpc-js's createSsl() falls back to the system roots when given no root certificate.
    rootCertificate: etcd.cacert !== undefined
      ? read("cacert", etcd.cacert)
      : (undefined as unknown as Buffer),
    ...(etcd.cert !== undefined ? { certChain: read("cert", etcd.cert) } : {}),
    ...(etcd.key !== undefined ? { privateKey: read("key", etcd.key) } : {}),
  };
}
