/**
 * The replica creation methods a standby cluster's clones may run besides `postgresql.create_replica_methods`: those
 * the local file's `bootstrap.dcs.standby_cluster.create_replica_methods` names, and every other `postgresql.<name>`
 * section with a `command` (the dynamic section, as another member's file or `edit-config` set it, may name it).
 * Their sections are read (and checked) as those of `postgresql.create_replica_methods` are, since a standby
 * cluster's clones run them with those options, as Patroni does (it reads a method's options from the local
 * `postgresql.<method>` whatever names the method).
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

/**
 * `standbyMethodNames(doc)` and the names of the other `postgresql.<name>` mappings that hold a `command` and are
 * not one of `known` (the keys hactl reads otherwise).
 */
export function methodSectionNames(doc: Doc, known: (name: string) => boolean): string[] {
  const pg = isDoc(doc.postgresql) ? doc.postgresql : {};
  const withCommand = Object.entries(pg).filter(([name, v]) =>
    !known(name) && name !== "basebackup" && isDoc(v) && typeof v.command === "string"
  ).map(([name]) => name);
  return [...new Set([...standbyMethodNames(doc), ...withCommand])];
}
