/**
 * Shared by the configuration's tests: `MINIMAL`, the smallest valid hactl.yml for tests that change one thing,
 * `configWithDataDir` for the file-system checks, and `problemsOf`, the problems of the `ConfigError` a call
 * throws (the test fails when it throws none).
 *
 * May import src/config/.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/config.ts";

/** A valid configuration whose `data_dir` is `dataDir` (for the checks that look at the file system). */
export function configWithDataDir(dataDir: string): string {
  return `
scope: batman
name: pg1
restapi: {listen: "10.0.0.1:8008"}
etcd3: {host: "127.0.0.1:2379"}
postgresql:
  listen: 10.0.0.1:5432
  data_dir: ${dataDir}
  authentication:
    superuser: {username: postgres, password: topsecret}
    replication: {username: replicator, password: repsecret}
`;
}

/** The smallest valid configuration, for tests that change one thing. */
export const MINIMAL = `
scope: batman
name: pg1
restapi: {listen: "0.0.0.0:8008", connect_address: "10.0.0.1:8008"}
etcd3: {host: "10.0.0.9:2379"}
postgresql:
  listen: "*:5432"
  connect_address: 10.0.0.1:5432
  data_dir: /var/lib/postgresql/15/main
  authentication:
    superuser: {username: postgres, password: secret}
    replication: {username: replicator, password: rsecret}
`;

export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail("expected a ConfigError");
}
