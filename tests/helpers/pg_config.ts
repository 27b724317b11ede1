/**
 * Builders for complete, sensible `Config` values in tests (no YAML parsing involved), shared by the
 * integration suites: one member named `name` with its own data dir, Postgres port and REST API port.
 *
 * @module
 */
import type { Config } from "../../src/config/config.ts";
import { DEFAULT_LOG_CONFIG } from "../../src/log/settings.ts";

export interface TestConfigInput {
  name: string;
  dataDir: string;
  pgPort: number;
  apiPort: number;
  etcdEndpoints?: string[];
  /** Defaults to `hactl-test`. */
  scope?: string;
  /** Defaults to the newest /usr/lib/postgresql/<ver>/bin lookup (empty string). */
  binDir?: string;
}

/** The credentials every test cluster uses. */
export const TEST_SUPERUSER = { username: "postgres", password: "pg-super-secret" };
export const TEST_REPLICATION = { username: "replicator", password: "rep-secret" };
export const TEST_REWIND = { username: "rewind_user", password: "rewind-secret" };

/** A full local configuration for one test member, listening on 127.0.0.1. */
export function makeTestConfig(input: TestConfigInput): Config {
  const scope = input.scope ?? "hactl-test";
  const dataDir = input.dataDir.replace(/\/+$/, "");
  return {
    source: `test:${input.name}`,
    scope,
    namespace: "/service/",
    name: input.name,
    log: { ...DEFAULT_LOG_CONFIG },
    restapi: {
      listen: { host: "127.0.0.1", port: input.apiPort },
      connectAddress: { host: "127.0.0.1", port: input.apiPort },
      verifyClient: "none",
      allowlist: [],
      allowlistIncludeMembers: false,
      httpExtraHeaders: {},
      httpsExtraHeaders: {},
    },
    ctl: { insecure: false },
    etcd3: { hosts: input.etcdEndpoints ?? ["http://127.0.0.1:2379"], protocol: "http" },
    bootstrap: {
      dcs: {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
      },
      method: "initdb",
      initdb: ["--encoding=UTF8", "--data-checksums"],
      pgHba: [],
    },
    postgresql: {
      listen: { hosts: ["127.0.0.1"], port: input.pgPort },
      connectAddress: { host: "127.0.0.1", port: input.pgPort },
      dataDir,
      configDir: dataDir,
      binDir: input.binDir ?? "",
      pgpass: `${dataDir}.pgpass`,
      authentication: {
        superuser: { ...TEST_SUPERUSER },
        replication: { ...TEST_REPLICATION },
        rewind: { ...TEST_REWIND },
      },
      parameters: { unix_socket_directories: "/tmp" },
      pgHba: [
        "local all all trust",
        "host all all 127.0.0.1/32 md5",
        `host replication ${TEST_REPLICATION.username} 127.0.0.1/32 md5`,
      ],
      pgIdent: [],
      callbacks: {},
      createReplicaMethods: ["basebackup"],
      basebackup: ["--checkpoint=fast"],
      pgCtlTimeout: 60,
      useUnixSocket: false,
      removeDataDirectoryOnRewindFailure: false,
      removeDataDirectoryOnDivergedTimelines: false,
    },
    tags: {},
    watchdog: { mode: "off", device: "/dev/watchdog", safetyMargin: 5, driver: "default" },
    fencing: { supervisor: true },
  };
}

/** `postgres://127.0.0.1:<port>/postgres`, the `conn_url` a member with this config advertises. */
export function connUrlOf(config: Config): string {
  const a = config.postgresql.connectAddress;
  return `postgres://${a.host}:${a.port}/postgres`;
}
