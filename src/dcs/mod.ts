/**
 * The DCS adapter: etcd v3 over `npm:etcd3`, implementing the `Dcs` port for one member of one cluster, and the
 * codec of Patroni's keys and values under `/<namespace>/<scope>/` (shared with the in-memory fake in
 * `tests/fakes/`, which a contract test keeps honest against a real etcd).
 *
 * May import: `src/core/` (ports, types), `src/config/` (the `etcd3` section), `src/log/`.
 *
 * @module
 */
export { createEtcdDcs, type EtcdDcs, type EtcdDcsOptions } from "./etcd.ts";
export { clusterPrefix, decodeCluster, KEYS, memberKey } from "./codec.ts";
