/**
 * `hactl agent --generate-sample-config`, as Patroni's `--generate-sample-config`: a configuration file to start
 * from, built from this host's name and address, Patroni's defaults, the `PATRONI_*` variables set, and the
 * PostgreSQL major version of the binaries (`scram-sha-256` from 10, `wal_keep_size` from 13, a rewind user from
 * 11). What the operator must fill in reads `#FIXME`; hactl's `etcd3` section is added (it has no other DCS).
 *
 * Pure (the caller supplies the host, the version and the environment). May import `src/config/`.
 *
 * @module
 */
import { stringify } from "yaml";
import { type Doc, mergeDocs, readEnvOverrides } from "../../src/config/env.ts";

export const NO_VALUE = "#FIXME";

/** What the sample is built from. */
export interface SampleInputs {
  hostname: string;
  /** This host's address (IPv4 preferred), or `#FIXME`. */
  ip: string;
  /** PostgreSQL's major version number (`server_version_num` form, 160000), or 0 when unknown. */
  pgMajor: number;
  env: Record<string, string>;
}

/** The sample as a document, in Patroni's layout. */
export function sampleConfig(i: SampleInputs): Doc {
  const auth = i.pgMajor >= 100000 ? "scram-sha-256" : "md5";
  const template: Doc = {
    scope: NO_VALUE,
    name: i.hostname,
    restapi: { connect_address: `${i.ip}:8008`, listen: `${i.ip}:8008` },
    log: {
      type: "plain",
      level: "INFO",
      traceback_level: "ERROR",
      format: "%(asctime)s %(levelname)s: %(message)s",
    },
    etcd3: { hosts: [`${NO_VALUE}:2379`] },
    bootstrap: {
      dcs: {
        loop_wait: 10,
        retry_timeout: 10,
        ttl: 30,
        postgresql: {
          use_slots: true,
          parameters: {
            hot_standby: "on",
            max_connections: 100,
            max_locks_per_transaction: 64,
            max_prepared_transactions: 0,
            max_replication_slots: 10,
            max_wal_senders: 10,
            max_worker_processes: 8,
            track_commit_timestamp: "off",
            wal_log_hints: "on",
            ...(i.pgMajor !== 0 && i.pgMajor < 130000
              ? { wal_keep_segments: 8 }
              : { wal_keep_size: "128MB" }),
            wal_level: i.pgMajor !== 0 && i.pgMajor < 90600 ? "hot_standby" : "replica",
          },
          use_pg_rewind: true,
        },
      },
    },
    postgresql: {
      data_dir: NO_VALUE,
      connect_address: `${i.ip}:5432`,
      listen: `${i.ip}:5432`,
      bin_dir: "",
      authentication: {
        superuser: { username: "postgres", password: NO_VALUE },
        replication: { username: "replicator", password: NO_VALUE },
        ...(i.pgMajor === 0 || i.pgMajor >= 110000
          ? { rewind: { username: "rewind_user", password: NO_VALUE } }
          : {}),
      },
      parameters: { password_encryption: auth },
      pg_hba: [`host all all all ${auth}`, `host replication replicator all ${auth}`],
    },
    tags: {
      failover_priority: 1,
      sync_priority: 1,
      noloadbalance: false,
      clonefrom: true,
      nosync: false,
      nostream: false,
    },
  };
  const doc = mergeDocs(template, readEnvOverrides(i.env).doc);
  // The replication user named in pg_hba is the one configured (an environment variable may rename it).
  const pg = doc.postgresql as Doc;
  const user = ((pg.authentication as Doc).replication as Doc).username;
  pg.pg_hba = [`host all all all ${auth}`, `host replication ${user} all ${auth}`];
  return doc;
}

/** The sample as YAML, sections in Patroni's order, with its comments on the bootstrap section. */
export function formatSampleConfig(doc: Doc): string {
  const block = (value: Doc, indent = "") =>
    indent + stringify(value, { indent: 2 }).trim().replaceAll("\n", `\n${indent}`);
  const out: string[] = [];
  for (const name of ["scope", "namespace", "name", "log", "restapi", "ctl", "etcd3"]) {
    if (doc[name] === undefined) continue;
    if (typeof doc[name] === "object") out.push("");
    out.push(block({ [name]: doc[name] }));
  }
  const boot = doc.bootstrap as Doc | undefined;
  if (boot) {
    out.push(
      "",
      "# The bootstrap configuration. Works only when the cluster is not yet initialized.",
      "# If the cluster is already initialized, all changes in the `bootstrap` section are ignored!",
      "bootstrap:",
    );
    const dcs = boot.dcs as Doc | undefined;
    if (dcs) {
      out.push(
        "  # This section will be written into <etcd>:/<namespace>/<scope>/config after initializing",
        "  # new cluster and all other cluster members will use it as a `global configuration`.",
        "  # WARNING! If you want to change any of the parameters that were set up",
        "  # via `bootstrap.dcs` section, please use `hactl edit-config`!",
        "  dcs:",
      );
      const first = ["loop_wait", "retry_timeout", "ttl"].filter((k) => k in dcs);
      for (const k of [...first, ...Object.keys(dcs).filter((k) => !first.includes(k))]) {
        out.push(block({ [k]: dcs[k] }, "    "));
      }
    }
    for (const [k, v] of Object.entries(boot)) if (k !== "dcs") out.push(block({ [k]: v }, "  "));
  }
  for (const name of ["postgresql", "watchdog", "tags"]) {
    if (doc[name] === undefined) continue;
    out.push("", block({ [name]: doc[name] }));
  }
  return out.join("\n") + "\n";
}
