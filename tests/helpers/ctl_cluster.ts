/**
 * A three-member cluster as the control commands read it from etcd (pg1 leads; pg2 and pg3 replicate), for the
 * tests of the commands that pick members and call their REST APIs.
 *
 * @module
 */
import type { ClusterView, Member } from "../../src/core/types.ts";

/** Member `pgN` at 10.0.0.N (Postgres 5432, REST API 8008); pg1 is the primary. */
export function ctlMember(name: string, extra: Partial<Member["data"]> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://10.0.0.${name.slice(2)}:5432/postgres`,
      api_url: `http://10.0.0.${name.slice(2)}:8008/patroni`,
      state: "running",
      role: name === "pg1" ? "primary" : "replica",
      version: "0.1.0",
      ...extra,
    },
    modRevision: "1",
    lease: "1",
  };
}

/** The cluster pg1 leads, with `over` replacing any part of the view. */
export function ctlView(over: Partial<ClusterView> = {}): ClusterView {
  return {
    initialize: "7393828465826342947",
    config: { value: {}, modRevision: "2" },
    leader: { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" },
    members: [ctlMember("pg1"), ctlMember("pg2"), ctlMember("pg3")],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "1",
    problems: [],
    ...over,
  };
}
