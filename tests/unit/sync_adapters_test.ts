/**
 * The adapters' side of synchronous replication: the `sync` key in Patroni's JSON (src/dcs/codec.ts
 * `encodeSync`, read back by `decodeCluster`), its compare-and-set in the in-memory DCS (the contract the etcd
 * adapter shares), and the one-line change of `synchronous_standby_names` in a replica's postgresql.conf
 * (src/pg/sync_standby.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeCluster, encodeSync } from "../../src/dcs/codec.ts";
import { withSyncStandbyNames } from "../../src/pg/sync_standby.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";

const P = "/service/t/";

Deno.test("encodeSync() writes Patroni's format: leader, quorum, standbys sorted and comma-joined or null", () => {
  assert.equal(encodeSync("pg1", ["pg3", "pg2"], 0), '{"leader":"pg1","quorum":0,"sync_standby":"pg2,pg3"}');
  assert.equal(encodeSync("pg1", [], 0), '{"leader":"pg1","quorum":0,"sync_standby":null}');
  const view = decodeCluster(
    [{
      key: `${P}sync`,
      value: encodeSync("pg1", ["pg2"], 0),
      modRevision: "9",
      createRevision: "9",
      lease: "0",
    }],
    P,
    "9",
  );
  assert.deepEqual(view.sync, { leader: "pg1", syncStandby: ["pg2"], quorum: 0, modRevision: "9" });
});

Deno.test("the sync key is written by compare-and-set on its mod revision, and deleted the same way", async () => {
  const etcd = new MemoryEtcd();
  const dcs = new MemoryDcs(etcd, { namespace: "/service/", scope: "t", name: "pg1", ttl: 30 });
  assert.equal(await dcs.writeSync("pg1", [], 0, null), true, "created");
  assert.equal(await dcs.writeSync("pg1", ["pg2"], 0, null), false, "must not exist any more");
  const first = (await dcs.loadCluster()).sync!;
  assert.equal(await dcs.writeSync("pg1", ["pg2"], 0, first.modRevision), true);
  assert.equal(await dcs.writeSync("pg1", ["pg3"], 0, first.modRevision), false, "stale revision");
  const second = (await dcs.loadCluster()).sync!;
  assert.deepEqual(second.syncStandby, ["pg2"]);
  assert.equal(await dcs.deleteSync(first.modRevision), false, "stale revision");
  assert.equal(await dcs.deleteSync(second.modRevision), true);
  assert.equal((await dcs.loadCluster()).sync, null);
  await dcs.close();
});

Deno.test("withSyncStandbyNames() changes only its own line, above the recovery settings", () => {
  const conf = "# Written by hactl.\n\nport = '5433'\nsynchronous_standby_names = 'old'\n\n# recovery\n" +
    "primary_conninfo = 'host=a'\n";
  assert.equal(
    withSyncStandbyNames(conf, "pg3"),
    "# Written by hactl.\n\nport = '5433'\nsynchronous_standby_names = 'pg3'\n\n# recovery\n" +
      "primary_conninfo = 'host=a'\n",
  );
  assert.equal(
    withSyncStandbyNames(conf, null),
    "# Written by hactl.\n\nport = '5433'\n\n# recovery\nprimary_conninfo = 'host=a'\n",
  );
  assert.equal(
    withSyncStandbyNames("port = '5433'\n", "2 (a,b)"),
    "port = '5433'\nsynchronous_standby_names = '2 (a,b)'\n",
  );
});
