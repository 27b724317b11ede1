/**
 * `hactl demote-cluster` and `hactl promote-cluster` (cli/cluster_role.ts), as Patroni 4's patronictl: the option
 * check, the leader and target-state checks, the confirmation, `PATCH /config` on the leader with the
 * `standby_cluster` section (or null), and the watch until the leader runs in the target role.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ClusterRoleDeps, run } from "../../cli/cluster_role.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { ctlMember, ctlView } from "../helpers/ctl_cluster.ts";

const DCS = ["--dcs-url", "127.0.0.1:2379", "demo"];

interface Seen {
  out: string[];
  patches: { url: string; body: unknown }[];
  confirms: string[];
}

/** Deps that serve `views` one per read (the last one repeats), answer PATCH with `status`, confirm `yes`. */
function deps(views: ClusterView[], seen: Seen, status = 200, yes = true): ClusterRoleDeps {
  let i = 0;
  return {
    loadCluster: () => Promise.resolve(views[Math.min(i++, views.length - 1)]!),
    patch: (url, body) => {
      seen.patches.push({ url, body });
      return Promise.resolve({ status, text: status === 200 ? "{}" : "config: refused" });
    },
    confirm: (m) => {
      seen.confirms.push(m);
      return yes;
    },
    sleep: () => Promise.resolve(),
    now: () => new Date(2026, 11, 7, 12, 0, 0),
    out: (t) => void seen.out.push(t),
    err: (t) => void seen.out.push(t),
  };
}
const fresh = (): Seen => ({ out: [], patches: [], confirms: [] });

Deno.test("demote-cluster asks for at least --host, --port or --restore-command", async () => {
  const seen = fresh();
  assert.equal(await run("demote", [...DCS, "--force"], {}, deps([ctlView()], seen)), 1);
  assert.match(seen.out.join(""), /At least --host, --port or --restore-command should be specified/);
  assert.deepEqual(seen.patches, []);
});

Deno.test("demote-cluster confirms, PATCHes the leader's /config with the section, and waits for the standby leader", async () => {
  const seen = fresh();
  const stopping = ctlView({ members: [ctlMember("pg1", { state: "stopping" }), ctlMember("pg2")] });
  const done = ctlView({ members: [ctlMember("pg1", { role: "standby_leader" }), ctlMember("pg2")] });
  const args = [...DCS, "--host", "10.1.0.1", "--port", "5433", "--primary-slot-name", "site_b"];
  assert.equal(await run("demote", args, {}, deps([ctlView(), stopping, done], seen)), 0);
  assert.deepEqual(seen.confirms, ["Are you sure you want to demote demo cluster?"]);
  assert.deepEqual(seen.patches, [{
    url: "http://10.0.0.1:8008/config",
    body: { standby_cluster: { host: "10.1.0.1", port: 5433, primary_slot_name: "site_b" } },
  }]);
  const text = seen.out.join("");
  assert.match(text, /^Current cluster topology\n/);
  assert.match(
    text,
    /2026-12-07 12:00:00 cluster is unlocked: False, leader role: primary, leader state: stopping\n/,
  );
  assert.match(text, /2026-12-07 12:00:00 cluster is successfully demoted\n/);
  assert.match(text, /Standby Leader/);
});

Deno.test("promote-cluster removes the section and waits until the leader runs as the primary", async () => {
  const seen = fresh();
  const standby = ctlView({ members: [ctlMember("pg1", { role: "standby_leader" }), ctlMember("pg2")] });
  const done = ctlView({ members: [ctlMember("pg1"), ctlMember("pg2")] });
  assert.equal(await run("promote", [...DCS, "--force"], {}, deps([standby, standby, done], seen)), 0);
  assert.deepEqual(seen.confirms, [], "--force asks nothing");
  assert.deepEqual(seen.patches, [{ url: "http://10.0.0.1:8008/config", body: { standby_cluster: null } }]);
  assert.match(
    seen.out.join(""),
    /leader role: standby_leader, leader state: running\n.*cluster is successfully promoted/s,
  );
});

Deno.test("demote-cluster and promote-cluster refuse a cluster without a leader or already in the state", async () => {
  let seen = fresh();
  assert.equal(await run("promote", [...DCS, "--force"], {}, deps([ctlView({ leader: null })], seen)), 1);
  assert.match(seen.out.join(""), /Cluster has no leader, promotion is not possible/);
  seen = fresh();
  assert.equal(await run("promote", [...DCS, "--force"], {}, deps([ctlView()], seen)), 1);
  assert.match(seen.out.join(""), /Cluster is already in the required state/);
  seen = fresh();
  const standby = ctlView({ members: [ctlMember("pg1", { role: "standby_leader" })] });
  assert.equal(await run("demote", [...DCS, "--host", "h", "--force"], {}, deps([standby], seen)), 1);
  assert.match(seen.out.join(""), /Cluster is already in the required state/);
  assert.deepEqual(seen.patches, []);
});

Deno.test("demote-cluster: a No aborts; a refused PATCH is reported with its status and text", async () => {
  let seen = fresh();
  assert.equal(await run("demote", [...DCS, "--host", "h"], {}, deps([ctlView()], seen, 200, false)), 1);
  assert.match(seen.out.join(""), /Aborted cluster demotion/);
  assert.deepEqual(seen.patches, []);
  seen = fresh();
  assert.equal(await run("demote", [...DCS, "--host", "h", "--force"], {}, deps([ctlView()], seen, 400)), 1);
  assert.match(
    seen.out.join(""),
    /Failed to demote demo cluster: \/config PATCH status code=400, \(config: refused\)/,
  );
  seen = fresh();
  assert.equal(await run("demote", [...DCS, "--port", "x", "--force"], {}, deps([ctlView()], seen)), 2);
});
