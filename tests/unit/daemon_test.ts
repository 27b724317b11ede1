/**
 * Specification of the daemon's wiring (`src/daemon/`): where the REST API listens and its access rules, the
 * dynamic settings the Postgres adapter reads, systemd notifications, signals, the unique-name check, the TLS
 * material, the reload of the local configuration and the listener's move with its fallback.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withTempDir } from "../helpers/temp_dir.ts";
import type { Config } from "../../src/config/config.ts";
import { loadConfigFile } from "../../src/config/file.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { apiSecurity, pgCtlSeconds } from "../../src/daemon/api.ts";
import { listenOn, RestListener } from "../../src/daemon/listener.ts";
import { warnOnceNotifier } from "../../src/daemon/notify.ts";
import { createReload } from "../../src/daemon/reload.ts";
import type { DaemonLog, Running } from "../../src/daemon/running.ts";
import { dynamicSettingsSource } from "../../src/daemon/settings.ts";
import { signalReactions } from "../../src/daemon/signals.ts";
import { readTlsFiles } from "../../src/daemon/tls.ts";
import { liveMemberWithMyName } from "../../src/daemon/unique_name.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";

const base = makeTestConfig({ name: "pg1", dataDir: "/var/lib/pg/data", pgPort: 5432, apiPort: 8008 });
const withRestapi = (restapi: Partial<Config["restapi"]>): Config => ({
  ...base,
  restapi: { ...base.restapi, ...restapi },
});

/** A logger that records `level message` lines (templates unexpanded) and their properties. */
function recordingLog(): { log: DaemonLog; lines: string[]; props: Record<string, unknown>[] } {
  const lines: string[] = [];
  const props: Record<string, unknown>[] = [];
  const at = (level: string) => (message: string, p?: Record<string, unknown>) => {
    lines.push(`${level} ${message}`);
    props.push(p ?? {});
  };
  const log = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { log: log as unknown as DaemonLog, lines, props };
}

Deno.test("listenOn() binds every interface for an empty host or *, else the host given", () => {
  assert.deepEqual(listenOn(withRestapi({ listen: { host: "", port: 8008 } })), {
    hostname: "0.0.0.0",
    port: 8008,
  });
  assert.deepEqual(listenOn(withRestapi({ listen: { host: "*", port: 8009 } })), {
    hostname: "0.0.0.0",
    port: 8009,
  });
  assert.deepEqual(listenOn(base), { hostname: "127.0.0.1", port: 8008 });
});

Deno.test("apiSecurity() checks client certificates and adds https headers only while serving TLS", () => {
  const config = withRestapi({
    authentication: { username: "u", password: "p" },
    allowlist: ["10.0.0.0/8"],
    verifyClient: "required",
    httpExtraHeaders: { "X-A": "1" },
    httpsExtraHeaders: { "X-B": "2" },
  });
  const running = (serve: Running["tls"]["serve"]): Running => ({
    config,
    tls: { serve, client: undefined },
    peerClient: { fetchStatuses: () => Promise.resolve([]) },
  });
  assert.deepEqual(apiSecurity(running(null)), {
    auth: { username: "u", password: "p" },
    allowlist: ["10.0.0.0/8"],
    allowlistIncludeMembers: false,
    verifyClient: "none",
    extraHeaders: { "X-A": "1" },
  });
  const tls = apiSecurity(running({ cert: "c", key: "k" }));
  assert.equal(tls.verifyClient, "required");
  assert.deepEqual(tls.extraHeaders, { "X-A": "1", "X-B": "2" });
  assert.equal("auth" in apiSecurity({ ...running(null), config: base }), false);
});

Deno.test("pgCtlSeconds() is pg_ctl_timeout, or 60 when it is not positive", () => {
  assert.equal(pgCtlSeconds({ ...base, postgresql: { ...base.postgresql, pgCtlTimeout: 0 } }), 60);
  assert.equal(pgCtlSeconds({ ...base, postgresql: { ...base.postgresql, pgCtlTimeout: 25 } }), 25);
});

Deno.test("the dynamic settings source holds bootstrap.dcs until the agent computes new settings through it", () => {
  const debug: string[] = [];
  const source = dynamicSettingsSource(base.bootstrap.dcs, (m) => debug.push(m));
  assert.equal(source.current().loopWait, 10);
  assert.equal(source.current().useSlots, true);
  const next = source.from({
    loop_wait: 5,
    postgresql: { use_slots: false, parameters: { work_mem: "8MB" } },
  });
  assert.equal(source.current(), next);
  assert.equal(source.current().loopWait, 5);
  assert.equal(source.current().useSlots, false);
  assert.deepEqual(source.current().parameters, { work_mem: "8MB" });
  assert.equal(source.from(null).loopWait, 10, "null means bootstrap.dcs again");
  assert.equal(source.current().loopWait, 10);
});

Deno.test("the dynamic settings source warns of a timing adjustment once per new document, as Patroni logs it", () => {
  const debug: string[] = [];
  const warn: string[] = [];
  const source = dynamicSettingsSource(base.bootstrap.dcs, (m) => debug.push(m), (m) => warn.push(m));
  const frozen = { ttl: 21, loop_wait: 2, retry_timeout: 10 };
  assert.equal(source.from(frozen).loopWait, 1);
  const adjusted =
    "loop_wait + 2 * retry_timeout <= ttl is violated (2 + 2 * 10 > 21): adjusting loop_wait from 2 to 1";
  assert.deepEqual(warn, [adjusted]);
  // The same document in the next cycles: nothing new to say, at warning level.
  source.from({ ...frozen });
  source.from(frozen);
  assert.deepEqual(warn, [adjusted]);
  assert.deepEqual(debug.slice(-2), [adjusted, adjusted]);
  // A changed document is news again.
  source.from({ ttl: 20, loop_wait: 2, retry_timeout: 10 });
  assert.equal(warn.length, 2);
  assert.match(warn[1]!, /adjusting loop_wait from 2 to 1 and retry_timeout from 10 to 9$/);
});

Deno.test("systemd notifications: a failed send is logged once, then the daemon carries on quietly", () => {
  const sent: Record<string, string | number>[] = [];
  let fail = true;
  let closed = false;
  const warnings: string[] = [];
  const notifier = warnOnceNotifier({
    enabled: true,
    send: (fields) => {
      sent.push(fields);
      return fail ? "sd_notify: sendto(/run/x) failed" : null;
    },
    close: () => (closed = true),
  }, (m) => warnings.push(m));
  assert.equal(notifier.enabled, true);
  notifier.send({ READY: 1 });
  notifier.send({ STATUS: "a" });
  fail = false;
  notifier.send({ STATUS: "b" });
  fail = true;
  notifier.send({ STATUS: "c" });
  assert.equal(sent.length, 4);
  assert.deepEqual(warnings, ["sd_notify: sendto(/run/x) failed"]);
  notifier.close();
  assert.equal(closed, true);
});

Deno.test("SIGTERM/SIGINT send STOPPING=1 and stop the agent once; SIGHUP reloads every time", () => {
  const { log, lines } = recordingLog();
  const sent: Record<string, string | number>[] = [];
  let stops = 0;
  let reloads = 0;
  const react = signalReactions({
    log,
    notifier: { send: (f) => sent.push(f) },
    stop: () => stops++,
    reload: () => reloads++,
  });
  react.hangup();
  react.stop("SIGTERM");
  react.stop("SIGINT");
  react.hangup();
  assert.equal(stops, 1);
  assert.equal(reloads, 2);
  assert.deepEqual(sent, [{ STOPPING: 1 }]);
  assert.deepEqual(lines, [
    "info received SIGHUP, reloading the configuration",
    "info received {signal}, shutting down",
    "info received SIGHUP, reloading the configuration",
  ]);
});

Deno.test("liveMemberWithMyName() refuses only when a member with this name answers /liveness with 200", async () => {
  let status = 200;
  const paths: string[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    paths.push(new URL(req.url).pathname);
    return new Response("", { status });
  });
  const apiUrl = `http://127.0.0.1:${server.addr.port}/patroni`;
  const view = (name: string) =>
    ({
      members: [{ name, data: { api_url: apiUrl }, modRevision: "1", lease: "1" }],
    }) as unknown as ClusterView;
  const dcs = (v: ClusterView) => ({ loadCluster: () => Promise.resolve(v) });
  assert.equal(await liveMemberWithMyName(dcs(view("pg1")), "pg1", undefined), apiUrl);
  assert.deepEqual(paths, ["/liveness"]);
  assert.equal(await liveMemberWithMyName(dcs(view("pg2")), "pg1", undefined), null, "another name");
  status = 503;
  assert.equal(await liveMemberWithMyName(dcs(view("pg1")), "pg1", undefined), null, "not alive");
  const down = { loadCluster: () => Promise.reject(new Error("etcd unreachable")) };
  assert.equal(await liveMemberWithMyName(down, "pg1", undefined), null, "etcd down is no reason to refuse");
});

Deno.test("readTlsFiles(): plain HTTP without TLS keys; errors name the key and the file", async () => {
  assert.deepEqual(await readTlsFiles(base), { serve: null, client: undefined });
  await withTempDir("hactl-daemon-", async (dir) => {
    await Deno.writeTextFile(`${dir}/api.pem`, "CERT AND KEY");
    const both = await readTlsFiles(withRestapi({ certfile: `${dir}/api.pem` }));
    assert.deepEqual(both.serve, { cert: "CERT AND KEY", key: "CERT AND KEY" });
    await assert.rejects(
      readTlsFiles(withRestapi({ certfile: `${dir}/api.pem`, keyfile: `${dir}/none.key` })),
      (e: Error) => e.message.startsWith(`test:pg1: restapi.keyfile: cannot read ${dir}/none.key: `),
    );
    await assert.rejects(
      readTlsFiles(withRestapi({ certfile: `${dir}/api.pem`, verifyClient: "optional" })),
      { message: "test:pg1: restapi.cafile: is required with verify_client optional" },
    );
    await assert.rejects(
      readTlsFiles(withRestapi({ certfile: `${dir}/api.pem`, keyfilePassword: "x" })),
      { message: "test:pg1: restapi.keyfile_password: encrypted keys are not supported yet" },
    );
  });
});

const YAML = (dataDir: string, extra = "") => `
scope: batman
name: pg1
restapi: {listen: "127.0.0.1:8008", connect_address: "127.0.0.1:8008"}
etcd3: {host: "127.0.0.1:2379"}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: ${dataDir}
  authentication:
    superuser: {username: postgres, password: topsecret}
    replication: {username: replicator, password: repsecret}
${extra}`;

/** A reload over a configuration file in `dir`, with the agent, Postgres and listener recorded. */
async function reloadFixture(dir: string) {
  const path = `${dir}/h.yml`;
  await Deno.writeTextFile(path, YAML(`${dir}/data`));
  const config = await loadConfigFile(path, {});
  const running: Running = {
    config,
    tls: { serve: null, client: undefined },
    peerClient: { fetchStatuses: () => Promise.resolve([]) },
  };
  const calls: string[] = [];
  const { log, lines, props } = recordingLog();
  let fallback: Promise<unknown> | null = null;
  const reload = createReload({
    configPath: path,
    env: {},
    running,
    agent: {
      requestReload: (kind) => calls.push(`requestReload ${kind}`),
      setTags: (tags) => calls.push(`setTags ${JSON.stringify(tags)}`),
      setCallbacks: () => calls.push("setCallbacks"),
    },
    pg: { setConfig: (c) => calls.push(`pg.setConfig ${c.name}`) },
    listener: {
      restart: async (target, _tls, back) => {
        calls.push(`listener.restart ${target.hostname}:${target.port}`);
        fallback = back();
        await fallback;
      },
    },
    log,
  });
  return { path, running, calls, lines, props, reload, fallbackCalled: () => fallback !== null };
}

Deno.test("a reload of an unchanged file says so and still reloads Postgres", async () => {
  await withTempDir("hactl-daemon-", async (dir) => {
    const f = await reloadFixture(dir);
    await f.reload();
    assert.deepEqual(f.lines, ["info No local configuration items changed."]);
    assert.deepEqual(f.calls, ["requestReload forced"]);
  });
});

Deno.test("a reload of an invalid file keeps the running configuration and names every problem", async () => {
  await withTempDir("hactl-daemon-", async (dir) => {
    const f = await reloadFixture(dir);
    const before = f.running.config;
    await Deno.writeTextFile(
      f.path,
      YAML(`${dir}/data`).replace("scope: batman", "").replace(
        "listen: 127.0.0.1:5432",
        "listen: 127.0.0.1:pg",
      ),
    );
    await f.reload();
    assert.equal(f.running.config, before);
    assert.deepEqual(f.calls, []);
    assert.equal(f.lines.length, 1);
    assert.equal(
      f.lines[0],
      "error reload: the configuration is invalid, keeping the running one: {problems}",
    );
    assert.match(
      String(f.props[0]!.problems),
      /scope: is required; .*postgresql\.listen: port "pg"|postgresql\.listen: port "pg".*; .*scope: is required/,
    );
  });
});

Deno.test("a reload to a callback with an unclosed quote keeps the running configuration, naming the key", async () => {
  await withTempDir("hactl-daemon-", async (dir) => {
    const f = await reloadFixture(dir);
    const before = f.running.config;
    await Deno.writeTextFile(f.path, YAML(`${dir}/data`, `  callbacks: {on_start: "/bin/cb 'x"}\n`));
    await f.reload();
    assert.equal(f.running.config, before);
    assert.deepEqual(f.calls, []);
    assert.equal(f.props[0]!.problems, `${f.path}: postgresql.callbacks.on_start: no closing quotation`);
  });
});

Deno.test("a reload applies tags live, names what waits for a restart, and keeps the listener when it did not move", async () => {
  await withTempDir("hactl-daemon-", async (dir) => {
    const f = await reloadFixture(dir);
    await Deno.writeTextFile(
      f.path,
      YAML(`${dir}/data`, "tags: {nofailover: true}\n").replace("name: pg1", "name: pg9"),
    );
    await f.reload();
    assert.deepEqual(f.lines, [
      "warn reload: {keys} changed; that takes effect when the agent restarts",
      "info reloaded the local configuration",
    ]);
    assert.deepEqual(f.calls, [
      "pg.setConfig pg1",
      'setTags {"nofailover":true}',
      "setCallbacks",
      "requestReload forced",
    ]);
    assert.equal(f.running.config.name, "pg1");
    assert.deepEqual(f.running.config.tags, { nofailover: true });
  });
});

Deno.test("a reload that moves the listener puts the previous restapi back when the new one cannot listen", async () => {
  await withTempDir("hactl-daemon-", async (dir) => {
    const f = await reloadFixture(dir);
    const restapi = f.running.config.restapi;
    await Deno.writeTextFile(
      f.path,
      YAML(`${dir}/data`, "tags: {nosync: true}\n").replace(
        'listen: "127.0.0.1:8008"',
        'listen: "127.0.0.1:8010"',
      ),
    );
    await f.reload();
    assert.equal(f.fallbackCalled(), true);
    assert.deepEqual(f.calls, [
      "pg.setConfig pg1",
      'setTags {"nosync":true}',
      "setCallbacks",
      "listener.restart 127.0.0.1:8010",
      "requestReload forced",
    ]);
    assert.deepEqual(f.running.config.restapi, restapi, "the fallback restored the listener's settings");
    assert.deepEqual(f.running.config.tags, { nosync: true }, "the rest of the reload stays");
  });
});

Deno.test("the REST listener moves to a new address, and back to the previous one when the new one is taken", async () => {
  const { log, lines } = recordingLog();
  const listener = new RestListener(log);
  const handler = () => Promise.resolve(new Response("here"));
  assert.equal(await listener.start(handler, { hostname: "127.0.0.1", port: 0 }, null), true);
  const first = listener.address!;
  await listener.restart({ hostname: "127.0.0.1", port: 0 }, null, () => assert.fail("no fallback needed"));
  const second = listener.address!;
  assert.deepEqual(lines, ["info REST API now on {address}"]);
  const res = await fetch(`http://127.0.0.1:${second.port}/`);
  assert.equal(await res.text(), "here");
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  let fellBack = false;
  await listener.restart({ hostname: "127.0.0.1", port }, null, () => {
    fellBack = true;
    return Promise.resolve({ target: { hostname: "127.0.0.1", port: 0 }, tls: null });
  });
  assert.equal(fellBack, true);
  assert.equal(
    lines.at(-1),
    "error reload: could not start the REST API on {address}: {error}; back on the previous listener",
  );
  const back = await fetch(`http://127.0.0.1:${listener.address!.port}/`);
  assert.equal(await back.text(), "here");
  await listener.stop();
  assert.notEqual(first.port, 0);
});

Deno.test("the REST listener reports an address it cannot listen on", async () => {
  const { log, lines, props } = recordingLog();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const listener = new RestListener(log);
  assert.equal(
    await listener.start(() => Promise.resolve(new Response()), { hostname: "127.0.0.1", port }, null),
    false,
  );
  assert.deepEqual(lines, ["error could not start the REST API on {address}: {error}"]);
  assert.equal(props[0]!.address, `127.0.0.1:${port}`);
  await listener.stop();
});
