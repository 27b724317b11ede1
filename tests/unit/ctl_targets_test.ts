/**
 * What `hactl restart`, `reload` and `flush` share (cli/lib/targets.ts): the preamble that reads the ctl
 * configuration and the cluster, the member selection with its table, and patronictl's per-member soft failures;
 * and patronictl's `timestamp()` (cli/lib/cluster.ts).
 */
import assert from "node:assert/strict";
import { CtlError } from "../../cli/lib/config.ts";
import { formatCtlTimestamp } from "../../cli/lib/cluster.ts";
import {
  forEachMember,
  loadMemberTarget,
  memberNames,
  refusedLine,
  targetMembers,
  unreachableLine,
} from "../../cli/lib/targets.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { ctlMember, ctlView } from "../helpers/ctl_cluster.ts";

const VIEW: ClusterView = ctlView({ members: [ctlMember("pg3"), ctlMember("pg1"), ctlMember("pg2")] });

function loader() {
  const loaded: string[] = [];
  return {
    loaded,
    deps: {
      loadCluster: (_s: unknown, scope: string) => (loaded.push(scope), Promise.resolve(VIEW)),
    },
  };
}

const DCS = ["--dcs-url", "127.0.0.1:2379"];

Deno.test("loadMemberTarget() takes the cluster name first, or only members when the configuration names the scope", async () => {
  const first = loader();
  const t = await loadMemberTarget({ "dcs-url": DCS[1] }, ["demo", "pg2"], {}, first.deps);
  assert.equal(t.scope, "demo");
  assert.deepEqual(t.names, ["pg2"]);
  assert.deepEqual(first.loaded, ["demo"]);
  assert.equal(t.role, "any");
  assert.equal(t.roleGiven, false);
  assert.equal(t.force, false);

  const scoped = loader();
  const s = await loadMemberTarget(
    { "dcs-url": DCS[1], role: "replica", force: true },
    ["pg2", "pg3"],
    { PATRONI_SCOPE: "demo" },
    scoped.deps,
  );
  assert.equal(s.scope, "demo");
  assert.deepEqual(s.names, ["pg2", "pg3"]);
  assert.deepEqual(scoped.loaded, ["demo"], "the scope's cluster is read once");
  assert.equal(s.role, "replica");
  assert.equal(s.roleGiven, true);
  assert.equal(s.force, true);

  await assert.rejects(
    loadMemberTarget({ "dcs-url": DCS[1] }, [], {}, loader().deps),
    (err: unknown) =>
      err instanceof CtlError && err.message === "no cluster name given and no scope in the configuration",
  );
  await assert.rejects(
    loadMemberTarget({ "dcs-url": DCS[1], role: "boss" }, ["demo"], {}, loader().deps),
    /Invalid value for '-r' \/ '--role': 'boss'/,
  );
});

Deno.test("targetMembers() prints the table unless forced without a role, and keeps the named members by name", async () => {
  const out: string[] = [];
  const t = await loadMemberTarget({ "dcs-url": DCS[1] }, ["demo", "pg3", "pg2"], {}, loader().deps);
  assert.deepEqual(targetMembers(t, (x) => void out.push(x)).map((m) => m.name), ["pg2", "pg3"]);
  assert.match(out.join(""), /^\+ Cluster: demo /);

  const quiet: string[] = [];
  const forced = await loadMemberTarget({ "dcs-url": DCS[1], force: true }, ["demo"], {}, loader().deps);
  assert.deepEqual(targetMembers(forced, (x) => void quiet.push(x)).map((m) => m.name), [
    "pg1",
    "pg2",
    "pg3",
  ]);
  assert.deepEqual(quiet, [], "--force without -r prints no table");

  const leader = await loadMemberTarget(
    { "dcs-url": DCS[1], force: true, role: "leader" },
    ["demo"],
    {},
    loader().deps,
  );
  const shown: string[] = [];
  assert.deepEqual(targetMembers(leader, (x) => void shown.push(x)).map((m) => m.name), ["pg1"]);
  assert.equal(shown.length, 1, "-r prints the table even with --force");

  const none = await loadMemberTarget(
    { "dcs-url": DCS[1], role: "leader" },
    ["demo", "pg2"],
    {},
    loader().deps,
  );
  assert.throws(() => targetMembers(none, () => {}), /^CtlError: No leader among provided members$/);
});

Deno.test("forEachMember() reports an unreachable member in patronictl's words and goes on with the next", async () => {
  const out: string[] = [];
  const acted: string[] = [];
  await forEachMember(
    [ctlMember("pg1"), ctlMember("pg2"), ctlMember("pg3")],
    "reload",
    (x) => void out.push(x),
    (m) => {
      acted.push(m.name);
      return m.name === "pg2" ? Promise.reject(new Error("connection refused")) : Promise.resolve();
    },
  );
  assert.deepEqual(acted, ["pg1", "pg2", "pg3"]);
  assert.deepEqual(out, ["Failed: reload for member pg2, (connection refused)\n"]);
  assert.equal(
    refusedLine("restart", "pg3", { status: 503, text: "restart failed" }),
    "Failed: restart for member pg3, status code=503, (restart failed)\n",
  );
  assert.equal(
    unreachableLine("flush scheduled restart", "pg1", "timeout"),
    "Failed: flush scheduled restart for member pg1, (timeout)\n",
  );
  assert.equal(memberNames([ctlMember("pg1"), ctlMember("pg2")]), "pg1, pg2");
});

Deno.test("formatCtlTimestamp() is patronictl's local timestamp with the milliseconds as five digits", () => {
  assert.equal(formatCtlTimestamp(new Date(2026, 10, 26, 9, 8, 7, 65)), "2026-11-26 09:08:07.06500");
  assert.equal(formatCtlTimestamp(new Date(2026, 0, 2, 13, 0, 0, 0)), "2026-01-02 13:00:00.00000");
});
