/**
 * Every control command that reports a failure exits non-zero: a refused or failed switchover, a reinitialize,
 * restart, reload or pause a member refused, a `pause --wait` that ran out of time. `--patroni-compat` (or
 * `HACTL_PATRONI_COMPAT=1`) keeps patronictl's exit 0 for these, for scripts written against it; errors it
 * exits non-zero for (`Error: ...`) stay non-zero.
 */
import assert from "node:assert/strict";
import { run as switchover, type SwitchoverDeps } from "../../cli/switchover.ts";
import { type ReinitDeps, run as reinit } from "../../cli/reinit.ts";
import { type PauseDeps, run as pause } from "../../cli/pause.ts";
import { run as restart } from "../../cli/restart.ts";
import { run as reload } from "../../cli/reload.ts";
import type { MemberCommandDeps } from "../../cli/lib/targets.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { ctlMember, ctlView } from "../helpers/ctl_cluster.ts";

const DCS = ["--dcs-url", "127.0.0.1:2379", "demo"];
const COMPAT = { HACTL_PATRONI_COMPAT: "1" };

function switchoverDeps(status: number, out: string[]): SwitchoverDeps {
  return {
    loadCluster: () => Promise.resolve(ctlView()),
    post: () => Promise.resolve({ status, text: "candidate name does not match" }),
    writeFailoverKey: () => Promise.resolve(),
    prompt: (_m, fallback) => fallback,
    confirm: () => true,
    out: (t) => void out.push(t),
    err: (t) => void out.push(t),
    now: () => new Date(2026, 10, 26, 12, 0, 0),
    sleep: () => Promise.resolve(),
    isTerminal: () => false,
  };
}

Deno.test("a failed switchover exits 1; --patroni-compat or HACTL_PATRONI_COMPAT=1 keep patronictl's 0", async () => {
  const out: string[] = [];
  const args = [...DCS, "--candidate", "pg2", "--force"];
  assert.equal(await switchover("switchover", args, {}, switchoverDeps(412, out)), 1);
  assert.match(out.join(""), /Switchover failed, details: 412, candidate name does not match/);
  assert.equal(await switchover("switchover", [...args, "--patroni-compat"], {}, switchoverDeps(412, [])), 0);
  assert.equal(await switchover("switchover", args, COMPAT, switchoverDeps(412, [])), 0);
  assert.equal(await switchover("failover", args, {}, switchoverDeps(500, [])), 1);
});

function reinitDeps(out: string[]): ReinitDeps {
  return {
    loadCluster: () => Promise.resolve(ctlView()),
    post: () => Promise.resolve({ status: 503, text: "I am the leader, can not reinitialize" }),
    confirm: () => true,
    status: () => Promise.resolve(null),
    sleep: () => Promise.resolve(),
    out: (t) => void out.push(t),
    err: (t) => void out.push(t),
  };
}

Deno.test("reinit exits 1 when a member refused (Failed: line), 0 in patroni-compat mode", async () => {
  const out: string[] = [];
  assert.equal(await reinit([...DCS, "pg1", "--force"], {}, reinitDeps(out)), 1);
  assert.match(out.join(""), /^Failed: reinitialize for member pg1/m);
  assert.equal(await reinit([...DCS, "pg1", "--force"], COMPAT, reinitDeps([])), 0);
});

function pauseDeps(view: ClusterView, status: number, out: string[]): PauseDeps {
  return {
    loadCluster: () => Promise.resolve(view),
    patch: () => Promise.resolve({ status, text: "nope" }),
    sleep: () => Promise.resolve(),
    out: (t) => void out.push(t),
    err: (t) => void out.push(t),
  };
}

Deno.test("pause exits 1 when refused and when --wait runs out of time; 0 in patroni-compat mode", async () => {
  const out: string[] = [];
  assert.equal(await pause("pause", DCS, {}, pauseDeps(ctlView(), 409, out)), 1);
  assert.match(out.join(""), /Failed: pause cluster management status code=409/);
  // Nobody ever shows pause: true in its member key.
  const waited: string[] = [];
  assert.equal(await pause("pause", [...DCS, "--wait"], {}, pauseDeps(ctlView(), 200, waited)), 1);
  assert.match(waited.join(""), /didn't recognized pause state after/);
  assert.equal(await pause("pause", [...DCS, "--wait"], COMPAT, pauseDeps(ctlView(), 200, [])), 0);
});

function memberDeps(status: number, out: string[]): MemberCommandDeps {
  return {
    loadCluster: () => Promise.resolve(ctlView({ members: [ctlMember("pg1"), ctlMember("pg2")] })),
    request: () => Promise.resolve({ status, text: "no auth header received" }),
    confirm: () => true,
    prompt: (_m, d) => d,
    out: (t) => void out.push(t),
    err: (t) => void out.push(t),
    random: () => 0,
  };
}

Deno.test("restart and reload exit 1 when a member refused; 0 in patroni-compat mode", async () => {
  assert.equal(await restart([...DCS, "--force"], {}, memberDeps(401, [])), 1);
  assert.equal(await restart([...DCS, "--force"], COMPAT, memberDeps(401, [])), 0);
  assert.equal(await reload([...DCS, "--force"], {}, memberDeps(401, [])), 1);
  assert.equal(await reload([...DCS, "--force", "--patroni-compat"], {}, memberDeps(401, [])), 0);
  assert.equal(await reload([...DCS, "--force"], {}, memberDeps(202, [])), 0);
});

Deno.test("--patroni-compat before the command is a global option like -k", async () => {
  const { hoistGlobalOptions } = await import("../../main.ts");
  assert.deepEqual(hoistGlobalOptions(["--patroni-compat", "-c", "f.yml", "reload", "demo"]), [
    "reload",
    "demo",
    "--patroni-compat",
    "--config-file",
    "f.yml",
  ]);
});
