/**
 * Strict synchronous mode without a streaming standby, as Patroni reports it: once, at WARNING level, "No active
 * replication connections from Patroni members and synchronous_mode_strict is requested. [Continue using old
 * value of synchronous_standby_names="...". ]Commits will be delayed." (again only after a standby came back and
 * was lost anew); the cycle line keeps saying what commits wait for.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { SyncConfig } from "../../src/core/sync_types.ts";
import { formatLsn, INITIAL_MEMORY, type Memory, type SyncState } from "../../src/core/types.ts";
import { ctx, obs, PRIMARY, view } from "../helpers/decide_inputs.ts";

const STRICT: SyncConfig = { mode: "on", strict: true, nodeCount: 1, maximumLagOnSyncnode: -1 };
const leader = ctx("pg1", { dynamic: { ...DYNAMIC_DEFAULTS, synchronous: STRICT } });
const KEY: SyncState = { leader: "pg1", syncStandby: ["pg2"], quorum: 0, modRevision: "30" };
const WARNING = "No active replication connections from Patroni members and synchronous_mode_strict is " +
  'requested. Continue using old value of synchronous_standby_names="pg2". Commits will be delayed.';

Deno.test("strict mode without a streaming standby warns once, in Patroni's words, and again after a recovery", () => {
  const alone = { ...PRIMARY, synchronousStandbyNames: "pg2", replication: [] };
  const first = decide(obs(alone, view({ sync: KEY })), { ...INITIAL_MEMORY, isLeader: true }, leader);
  assert.equal(first.warning, WARNING);
  assert.match(first.reason, /synchronous_mode_strict: no standby to add, commits wait for pg2/);
  const second = decide(obs(alone, view({ sync: KEY })), first.memory, leader);
  assert.equal(second.warning, undefined);
  // pg2 streams again: no warning, and the next loss warns again.
  const row = {
    usename: "replicator",
    application_name: "pg2",
    client_addr: null,
    state: "streaming",
    sync_state: "sync",
    sync_priority: 1,
    flush_lsn: formatLsn(5000),
  };
  const back = decide(obs({ ...alone, replication: [row] }, view({ sync: KEY })), second.memory, leader);
  assert.equal(back.warning, undefined);
  const mem: Memory = back.memory;
  assert.equal(decide(obs(alone, view({ sync: KEY })), mem, leader).warning, WARNING);
});
