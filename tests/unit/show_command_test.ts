/**
 * `hactl show-config` and `hactl history` read the DCS and print patronictl's layouts.
 */
import assert from "node:assert/strict";
import { run, type ShowDeps } from "../../cli/show.ts";
import type { ClusterView } from "../../src/core/types.ts";

const VIEW: ClusterView = {
  initialize: "7393828465826342947",
  config: {
    value: { ttl: 30, loop_wait: 10, postgresql: { use_slots: true, parameters: { max_connections: 100 } } },
    modRevision: "2",
  },
  leader: null,
  members: [],
  status: null,
  failover: null,
  sync: null,
  history: [[1, 25165984, "no recovery target specified", "2026-11-26T12:00:00+00:00", "pg2"], [
    2,
    50331808,
    "no recovery target specified",
  ]],
  revision: "9",
  problems: [],
};

function deps(view: ClusterView = VIEW) {
  const out: string[] = [];
  const d: ShowDeps = {
    loadCluster: () => Promise.resolve(view),
    out: (t) => void out.push(t),
    err: () => {},
  };
  return { d, out };
}

const BASE = ["--dcs-url", "127.0.0.1:2379", "demo"];

Deno.test("show-config prints the config key as YAML with sorted keys, and nothing without the key", async () => {
  const { d, out } = deps();
  assert.equal(await run("show-config", BASE, {}, d), 0);
  assert.equal(
    out.join(""),
    "loop_wait: 10\npostgresql:\n  parameters:\n    max_connections: 100\n  use_slots: true\nttl: 30\n",
  );
  const empty = deps({ ...VIEW, config: null });
  assert.equal(await run("show-config", BASE, {}, empty.d), 0);
  assert.equal(empty.out.join(""), "");
});

Deno.test("history prints TL, LSN, Reason, Timestamp, New Leader; short entries padded", async () => {
  const { d, out } = deps();
  assert.equal(await run("history", BASE, {}, d), 0);
  const lines = out.join("").split("\n");
  assert.match(lines[1]!, /^\| TL \| {6}LSN \| Reason +\| Timestamp +\| New Leader \|$/);
  assert.match(
    lines[3]!,
    /^\| {2}1 \| 25165984 \| no recovery target specified \| 2026-11-26T12:00:00\+00:00 \| pg2 +\|$/,
  );
  const tsv = deps();
  await run("history", [...BASE, "-f", "tsv"], {}, tsv.d);
  assert.equal(tsv.out.join("").split("\n")[2], "2\t50331808\tno recovery target specified\t\t");
});
