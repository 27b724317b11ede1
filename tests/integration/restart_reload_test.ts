/**
 * Restart, reload, dynamic configuration and REST API security, end to end on one live 3-member cluster (real etcd,
 * PostgreSQL 15, `hactl agent` processes):
 * - `PATCH /config` with a sighup parameter reaches every member's `SHOW`; a restart-needing one sets
 *   `pending_restart` (with its reason) on the primary only while the replicas' pg_controldata still records the
 *   larger value; `hactl restart -r primary` restarts the primary in place (same leader, same timeline), after which
 *   the replicas' controldata follows and they become pending; `hactl restart --pending` clears them;
 * - `POST /restart` conditions (503), a scheduled restart carried out at its time, `DELETE /restart`;
 * - `hactl reload` after an edit of the YAML (a local parameter, tags, callbacks), an invalid YAML on SIGHUP
 *   (logged, the old configuration kept, the agent keeps serving), and `restapi.allowlist` (403) switched on and
 *   off by reloads, with `allowlist_include_members`.
 * `verify_client` on a real TLS listener, in-process, is in tests/unit/api_tls_test.ts.
 */
import assert from "node:assert/strict";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import {
  mainModule,
  type MemberLayout,
  readHealth,
  waitFor,
  waitHealthy,
  withSql,
} from "../../scripts/lib/local_cluster.ts";

const SCOPE = "rtest";

async function hactl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function api(m: MemberLayout, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await res.text();
  return { status: res.status, text };
}

async function status(m: MemberLayout): Promise<Record<string, unknown>> {
  return JSON.parse((await api(m, "GET", "/patroni")).text);
}

function show(m: MemberLayout, guc: string): Promise<string> {
  return withSql(m, async (sql) => (await sql.unsafe(`SHOW ${guc}`))[0]![guc] as string);
}

/** Rewrite a member's YAML with `edit` (each replacement must apply). */
async function editConfig(m: MemberLayout, edits: [string, string][]): Promise<void> {
  let text = await Deno.readTextFile(m.configPath);
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), `${m.configPath} has ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  await Deno.writeTextFile(m.configPath, text);
}

/** The cluster under test, its leader when it formed and the two replicas. */
interface Live {
  c: LocalCluster;
  primary: MemberLayout;
  replicas: MemberLayout[];
}

/** `PATCH /config` with a sighup parameter (on a replica): it reaches every member. */
async function sighupParameterEverywhere({ c, replicas }: Live): Promise<void> {
  const patched = await api(replicas[0]!, "PATCH", "/config", {
    postgresql: { parameters: { work_mem: "7MB" } },
  });
  assert.equal(patched.status, 200, patched.text);
  for (const m of c.members) {
    await waitFor(`work_mem 7MB on ${m.name}`, 30_000, async () => (await show(m, "work_mem")) === "7MB");
  }
}

/**
 * A restart-needing parameter, lowered: pending on the primary only (the pg_controldata rule keeps the replicas at
 * the primary's recorded 50). work_mem in the same patch tells when a replica has applied it.
 */
async function loweredPendingOnPrimaryOnly({ primary, replicas }: Live): Promise<void> {
  const lowered = await api(primary, "PATCH", "/config", {
    postgresql: { parameters: { max_connections: 40, work_mem: "9MB" } },
  });
  assert.equal(lowered.status, 200, lowered.text);
  const pendingPrimary = await waitFor("pending_restart on the primary", 30_000, async () => {
    const s = await status(primary);
    return s.pending_restart === true ? s : { notYet: JSON.stringify(s.pending_restart_reason ?? null) };
  });
  assert.deepEqual(
    (pendingPrimary.pending_restart_reason as Record<string, unknown>).max_connections,
    { old_value: "50", new_value: "40" },
  );
  for (const r of replicas) {
    await waitFor(`work_mem 9MB on ${r.name}`, 30_000, async () => (await show(r, "work_mem")) === "9MB");
    await waitFor(`${r.name} applied the new config`, 10_000, async () => {
      // The member key and /patroni agree once the monitor has looked again (about a second).
      const s = await status(r);
      return s.state === "running" ? s : null;
    });
    assert.equal(
      (await status(r)).pending_restart,
      undefined,
      `${r.name}: controldata keeps 50, no restart due`,
    );
  }
  const listed = await hactl(["list", "-c", primary.configPath, "--format", "json"]);
  const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
  assert.equal(rows.find((r) => r.Member === primary.name)!["Pending restart"], "*", listed.stdout);
}

/** hactl restart of the primary: in place, the leader keeps its key, no new timeline. */
async function restartPrimaryInPlace({ c, primary }: Live, timelineBefore: unknown): Promise<void> {
  const startBefore = (await status(primary)).postmaster_start_time;
  const t0 = performance.now();
  const restarted = await hactl(["restart", "-c", primary.configPath, SCOPE, "-r", "primary", "--force"]);
  // deno-lint-ignore no-console -- a figure worth seeing in CI logs
  console.log(
    `hactl restart of the primary took ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s (CLI start included)`,
  );
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.match(restarted.stdout, new RegExp(`Success: restart on member ${primary.name}`));
  assert.equal(await show(primary, "max_connections"), "40");
  const after = await status(primary);
  assert.notEqual(after.postmaster_start_time, startBefore);
  assert.equal(after.pending_restart, undefined);
  assert.equal(after.timeline, timelineBefore, "no failover: same timeline");
  assert.equal((await readHealth(c.layout)).leader, primary.name, "the leader kept its key");
}

/** The replicas replay the primary's parameter change and become pending; `hactl restart --pending` clears them. */
async function restartPending({ c, primary, replicas }: Live): Promise<void> {
  // Controldata now says 40, so they need a restart.
  for (const r of replicas) {
    await waitFor(
      `pending_restart on ${r.name}`,
      40_000,
      async () => (await status(r)).pending_restart === true,
    );
  }
  // `--pending` picks members by their keys in etcd (as patronictl does): wait until both published it.
  await waitFor("pending_restart in the replicas' member keys", 20_000, async () => {
    const h = await readHealth(c.layout);
    return replicas.every((r) =>
      h.view.members.find((m) => m.name === r.name)?.data.pending_restart === true
    );
  });
  const pendingRun = await hactl(["restart", "-c", primary.configPath, SCOPE, "--pending", "--force"]);
  assert.equal(pendingRun.code, 0, pendingRun.stderr);
  for (const r of replicas) {
    assert.match(pendingRun.stdout, new RegExp(`Success: restart on member ${r.name}`));
  }
  assert.doesNotMatch(pendingRun.stdout, new RegExp(`restart on member ${primary.name}`));
  for (const r of replicas) {
    assert.equal(await show(r, "max_connections"), "40");
    await waitFor(
      `${r.name} no longer pending`,
      10_000,
      async () => (await status(r)).pending_restart === undefined,
    );
  }
  await waitHealthy(c.layout, 2, 60_000);
}

/** `POST /restart` conditions (503), `DELETE /restart` with none (404), a scheduled restart carried out. */
async function restartByRestApi(replica: MemberLayout): Promise<void> {
  const refused = await api(replica, "POST", "/restart", { role: "primary" });
  assert.deepEqual([refused.status, refused.text], [503, "restart conditions are not satisfied"]);
  assert.equal((await api(replica, "DELETE", "/restart")).status, 404);
  const before = (await status(replica)).postmaster_start_time;
  const at = new Date(Date.now() + 4000).toISOString();
  const scheduled = await api(replica, "POST", "/restart", { schedule: at, role: "replica" });
  assert.deepEqual([scheduled.status, scheduled.text], [202, "Restart scheduled"]);
  assert.equal(((await status(replica)).scheduled_restart as Record<string, unknown>).schedule, at);
  assert.equal((await api(replica, "POST", "/restart", { schedule: at })).status, 409);
  await waitFor("the scheduled restart", 30_000, async () => {
    const s = await status(replica);
    return s.state === "running" && s.postmaster_start_time !== before &&
      s.scheduled_restart === undefined;
  });
}

/** hactl reload after editing `target`'s YAML: a local parameter, a tag, reload/restart callbacks. */
async function reloadEditedYaml({ c, primary }: Live, target: MemberLayout): Promise<void> {
  const dir = c.layout.dir;
  await editConfig(target, [
    [
      "  parameters:\n    unix_socket_directories:",
      "  parameters:\n    log_min_duration_statement: 1234\n    unix_socket_directories:",
    ],
    ["tags:\n", "tags:\n  rack: r7\n"],
    ["  callbacks:\n", `  callbacks:\n    on_reload: /bin/sh ${dir}/callback.sh ${target.name}\n`],
  ]);
  const reloaded = await hactl(["reload", "-c", primary.configPath, SCOPE, target.name, "--force"]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.match(
    reloaded.stdout,
    new RegExp(
      `Reload request received for member ${target.name} and will be processed within 2 seconds`,
    ),
  );
  await waitFor(
    "log_min_duration_statement 1234ms",
    20_000,
    async () => (await show(target, "log_min_duration_statement")) === "1234ms",
  );
  await waitFor(
    "the new tag",
    10_000,
    async () => ((await status(target)).tags as Record<string, unknown>)?.rack === "r7",
  );
  await waitFor(
    "on_reload callback",
    10_000,
    async () =>
      (await Deno.readTextFile(`${dir}/${target.name}.callbacks`)).includes(`on_reload replica ${SCOPE}`),
  );
}

/** An invalid YAML on SIGHUP: logged with the key, the running configuration kept, the API still serves. */
async function invalidYamlKept(c: LocalCluster, target: MemberLayout, good: string): Promise<void> {
  await Deno.writeTextFile(
    target.configPath,
    good.replace("restapi:\n  listen:", "restapi:\n  verify_client: sometimes\n  listen:"),
  );
  c.agents.get(target.name)!.kill("SIGHUP");
  await waitFor(
    "the reload error in the log",
    20_000,
    async () =>
      /reload: the configuration is invalid, keeping the running one: .*restapi\.verify_client/.test(
        await Deno.readTextFile(target.logPath),
      ),
  );
  assert.equal((await api(target, "GET", "/patroni")).status, 200);
  assert.equal(((await status(target)).tags as Record<string, unknown>).rack, "r7");
}

/** restapi.allowlist: a reload switches it on (403 for us), allowlist_include_members admits members. */
async function allowlistByReload(c: LocalCluster, target: MemberLayout, good: string): Promise<void> {
  await Deno.writeTextFile(
    target.configPath,
    good.replace("restapi:\n", "restapi:\n  allowlist:\n    - 192.0.2.1\n    - 10.0.0.0/8\n"),
  );
  c.agents.get(target.name)!.kill("SIGHUP");
  await waitFor(
    "403 from the allowlist",
    20_000,
    async () => (await api(target, "POST", "/reload")).status === 403,
  );
  const denied = await api(target, "POST", "/restart");
  assert.deepEqual([denied.status, denied.text], [403, "Access is denied"]);
  assert.equal((await api(target, "GET", "/patroni")).status, 200, "GET stays open");
  await Deno.writeTextFile(
    target.configPath,
    good.replace("restapi:\n", "restapi:\n  allowlist: [192.0.2.1]\n  allowlist_include_members: true\n"),
  );
  c.agents.get(target.name)!.kill("SIGHUP");
  await waitFor(
    "members admitted",
    20_000,
    async () => (await api(target, "POST", "/reload")).status === 202,
  );
}

Deno.test({
  name: "restart, reload, dynamic parameters and the allowlist on a live cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 20, loopWait: 2, retryTimeout: 5 }, SCOPE, {
      etcdMembers: 1,
      formDeadlineMs: 90_000,
      dirPrefix: "hactl-restart-",
    });
    try {
      const live: Live = { c, primary: c.leader, replicas: c.replicas };
      const timelineBefore = (await status(live.primary)).timeline;
      await sighupParameterEverywhere(live);
      await loweredPendingOnPrimaryOnly(live);
      await restartPrimaryInPlace(live, timelineBefore);
      await restartPending(live);
      await restartByRestApi(live.replicas[0]!);
      const target = live.replicas[1]!;
      await reloadEditedYaml(live, target);
      const good = await Deno.readTextFile(target.configPath);
      await invalidYamlKept(c, target, good);
      await allowlistByReload(c, target, good);
    } catch (err) {
      await c.dumpLogs("restart_reload");
      throw err;
    }
  },
});
