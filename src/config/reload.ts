/**
 * What a reload (SIGHUP, `POST /reload`) may change in a running agent: the local settings that only take effect
 * at the next start (identity, etcd, data and binary directories, advertised addresses, log, watchdog, HTTPS on or
 * off), and the configuration to apply live with those kept as they run now. Pure; src/daemon/reload.ts applies it.
 *
 * @module
 */
import type { Config } from "./config.ts";

/** Local settings a reload cannot change in a running agent (they take effect at its next start). */
export function restartOnlyChanges(current: Config, next: Config): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(current.scope, next.scope)) out.push("scope");
  if (!same(current.name, next.name)) out.push("name");
  if (!same(current.namespace, next.namespace)) out.push("namespace");
  if (!same(current.etcd3, next.etcd3)) out.push("etcd3");
  if (!same(current.postgresql.dataDir, next.postgresql.dataDir)) out.push("postgresql.data_dir");
  if (!same(current.postgresql.configDir, next.postgresql.configDir)) out.push("postgresql.config_dir");
  if (!same(current.postgresql.binDir, next.postgresql.binDir)) out.push("postgresql.bin_dir");
  if (!same(current.postgresql.connectAddress, next.postgresql.connectAddress)) {
    out.push("postgresql.connect_address");
  }
  if (!same(current.restapi.connectAddress, next.restapi.connectAddress)) out.push("restapi.connect_address");
  if (Boolean(current.restapi.certfile) !== Boolean(next.restapi.certfile)) {
    out.push("restapi.certfile (HTTPS on or off changes the advertised api_url)");
  }
  if (!same(current.watchdog, next.watchdog)) out.push("watchdog");
  if (!same(current.fencing, next.fencing)) out.push("fencing");
  if (!same(current.log, next.log)) out.push("log");
  return out;
}

/** `next`, with what {@link restartOnlyChanges} names kept as it runs now. */
export function liveApplicable(current: Config, next: Config): Config {
  return {
    ...next,
    scope: current.scope,
    name: current.name,
    namespace: current.namespace,
    etcd3: current.etcd3,
    log: current.log,
    watchdog: current.watchdog,
    fencing: current.fencing,
    restapi: Boolean(current.restapi.certfile) === Boolean(next.restapi.certfile)
      ? { ...next.restapi, connectAddress: current.restapi.connectAddress }
      : {
        ...next.restapi,
        connectAddress: current.restapi.connectAddress,
        certfile: current.restapi.certfile,
        keyfile: current.restapi.keyfile,
        keyfilePassword: current.restapi.keyfilePassword,
        cafile: current.restapi.cafile,
        verifyClient: current.restapi.verifyClient,
      },
    postgresql: {
      ...next.postgresql,
      dataDir: current.postgresql.dataDir,
      configDir: current.postgresql.configDir,
      binDir: current.postgresql.binDir,
      connectAddress: current.postgresql.connectAddress,
    },
  };
}
