/**
 * The replica creation methods the local file's `bootstrap.dcs.standby_cluster.create_replica_methods` names: their
 * `postgresql.<method>` sections are read (and checked) as those of `postgresql.create_replica_methods` are, since a
 * standby cluster's clones run them with those options, as Patroni does.
 *
 * Pure. May import: `./env.ts`.
 *
 * @module
 */
import { type Doc, isDoc } from "./env.ts";

/** The method names (but `basebackup`) of `bootstrap.dcs.standby_cluster.create_replica_methods` in `doc`. */
export function standbyMethodNames(doc: Doc): string[] {
  const boot = isDoc(doc.bootstrap) ? doc.bootstrap : {};
  const dcs = isDoc(boot.dcs) ? boot.dcs : {};
  const sc = isDoc(dcs.standby_cluster) ? dcs.standby_cluster : {};
  const v = sc.create_replica_methods;
  const list = typeof v === "string" ? [v] : Array.isArray(v) ? v : [];
  return list.filter((m): m is string =>
    typeof m === "string" && m.trim() !== "" && m.trim() !== "basebackup"
  )
    .map((m) => m.trim());
}
