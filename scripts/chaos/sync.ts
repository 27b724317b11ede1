/**
 * The chaos suite in synchronous replication (`HACTL_CHAOS_SYNC=on|strict|quorum`): what the switch changes in
 * the cluster's bootstrap.dcs (`synchronous_mode: true`, and `synchronous_mode_strict: true` with `strict`;
 * `synchronous_mode: quorum` with `quorum`), the writer's options in that mode, and the wait, before each fault,
 * until the leader's `sync` key names a standby its Postgres reports `sync` (`quorum` in quorum commit): a fault
 * injected before that would measure asynchronous replication.
 *
 * In synchronous mode the writer runs without a server-side `statement_timeout`: a commit whose wait for the
 * standby is cancelled by it is reported as successful by Postgres although no standby may have it, so such a
 * write would count as acknowledged. The writer's client-side deadline alone ends a hung commit (it closes the
 * connection, and the write is never recorded).
 *
 * Imports: the local-cluster helpers of scripts/lib and the writer's types.
 *
 * @module
 */
import postgres from "postgres";
import { LOCAL_SECRETS, readHealth, waitFor } from "../lib/local_cluster.ts";
import type { WriterOptions } from "../../tests/helpers/writer.ts";

/** The synchronous replication mode of a chaos cluster. */
export type ChaosSync = "off" | "on" | "strict" | "quorum";

/** The environment variable that switches it. */
export const CHAOS_SYNC_ENV = "HACTL_CHAOS_SYNC";

/** The mode named by `HACTL_CHAOS_SYNC` (unset or empty: off). Throws on any other value, naming the variable. */
export function chaosSyncFromEnv(value: string | undefined): ChaosSync {
  if (value === undefined || value === "" || value === "off") return "off";
  if (value === "on" || value === "strict" || value === "quorum") return value;
  throw new Error(`${CHAOS_SYNC_ENV}: expected on, strict, quorum or off, got ${JSON.stringify(value)}`);
}

/** The bootstrap.dcs lines the mode adds (indented for `bootstrap.dcs`), each starting with a newline. */
export function syncDcsLines(sync: ChaosSync, indent = "    "): string {
  if (sync === "off") return "";
  if (sync === "quorum") return `\n${indent}synchronous_mode: quorum`;
  return `\n${indent}synchronous_mode: true` +
    (sync === "strict" ? `\n${indent}synchronous_mode_strict: true` : "");
}

/** The writer's options in this mode: no server-side statement timeout in synchronous replication. */
export function syncWriterOptions(sync: ChaosSync): Pick<WriterOptions, "statementTimeoutMs"> {
  return sync === "off" ? {} : { statementTimeoutMs: 0 };
}

/** What `waitSyncStandby` needs of a chaos cluster. */
export interface SyncView {
  scope: string;
  etcdEndpoints: string[];
  members: { name: string; host: string; pgPort: number }[];
  /** The mode: in quorum commit Postgres reports the standbys `quorum`, not `sync`. */
  sync?: ChaosSync;
}

/**
 * Wait until the `sync` key names `leader` and at least one standby, and `leader`'s Postgres waits for each of them
 * (its `synchronous_standby_names` names them and `pg_stat_replication` reports them `sync`, or `quorum` in
 * quorum commit). Returns the names.
 */
export function waitSyncStandby(c: SyncView, leader: string, deadlineMs: number): Promise<string[]> {
  const m = c.members.find((x) => x.name === leader);
  if (!m) throw new Error(`no member named ${leader}`);
  return waitFor(`the sync key to name a standby ${leader} waits for`, deadlineMs, async () => {
    const sync = (await readHealth({ etcdEndpoints: c.etcdEndpoints, scope: c.scope })).view.sync;
    if (sync?.leader !== leader || sync.syncStandby.length === 0) {
      return { notYet: `sync=${JSON.stringify(sync)}` };
    }
    const sql = postgres({
      host: m.host,
      port: m.pgPort,
      database: "postgres",
      username: LOCAL_SECRETS.superuser.username,
      password: LOCAL_SECRETS.superuser.password,
      max: 1,
      connect_timeout: 3,
      idle_timeout: 0,
      onnotice: () => {},
      connection: { statement_timeout: 3000, application_name: "hactl-chaos-observer" },
    });
    try {
      const rows = await sql`SELECT current_setting('synchronous_standby_names') AS ssn,
        (SELECT coalesce(json_object_agg(application_name, sync_state), '{}') FROM pg_stat_replication) AS states`;
      const ssn = String(rows[0]!["ssn"]);
      const states = rows[0]!["states"] as Record<string, string>;
      const state = c.sync === "quorum" ? "quorum" : "sync";
      const ok = sync.syncStandby.every((n) => ssn.includes(n) && states[n] === state);
      return ok ? [...sync.syncStandby] : { notYet: `ssn=${ssn} states=${JSON.stringify(states)}` };
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }, 250);
}
