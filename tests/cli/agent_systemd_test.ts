/**
 * `hactl agent` as systemd runs it (Type=notify, log.dir): it notifies READY=1 once its REST API listens, a
 * STATUS with each cycle's sentence and STOPPING=1 on SIGTERM; it writes its log to `<log.dir>/patroni.log` in
 * the configured JSON shape and nothing to stderr; and no configured secret reaches the log. etcd is
 * deliberately unreachable, so the agent cycles without starting Postgres. A child `deno` with `--unstable-net`
 * stands in for systemd's notify socket.
 */
import assert from "node:assert/strict";
import { freePorts } from "../helpers/processes.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const SECRETS = ["pg-super-secret", "rep-secret", "api-secret", "etcd-secret"];

function config(dir: string, apiPort: number, etcdPort: number, pgPort: number, logDir: string): string {
  return `scope: batman
name: pg1
log:
  type: json
  format: [message, {levelname: level}, {asctime: '@timestamp'}]
  dateformat: '%Y-%m-%dT%H:%M:%S%z'
  static_fields: {service: hactl-test}
  dir: ${logDir}
restapi:
  listen: 127.0.0.1:${apiPort}
  connect_address: 127.0.0.1:${apiPort}
  authentication: {username: admin, password: api-secret}
etcd3:
  host: 127.0.0.1:${etcdPort}
  username: root
  password: etcd-secret
bootstrap:
  dcs: {ttl: 10, loop_wait: 1, retry_timeout: 4}
postgresql:
  listen: 127.0.0.1:${pgPort}
  connect_address: 127.0.0.1:${pgPort}
  data_dir: ${dir}/data
  authentication:
    superuser: {username: postgres, password: pg-super-secret}
    replication: {username: replicator, password: rep-secret}
`;
}

/** Collects the datagrams sent to `socket`, one JSON string per line on the child's stdout. */
function startNotifyReceiver(
  socket: string,
): { child: Deno.ChildProcess; messages: string[]; done: Promise<void> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--unstable-net",
      `const s = Deno.listenDatagram({ transport: "unixpacket", path: ${JSON.stringify(socket)} });
       for (;;) { const [d] = await s.receive(); console.log(JSON.stringify(new TextDecoder().decode(d))); }`,
    ],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  const messages: string[] = [];
  const done = (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) messages.push(JSON.parse(line));
    }
  })();
  return { child, messages, done };
}

async function waitFor(
  what: string,
  deadlineMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("the agent notifies systemd, logs JSON to log.dir/patroni.log, and never logs a secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-systemd-" });
  const [apiPort, etcdPort, pgPort] = await freePorts(3, 1);
  const socket = `${dir}/notify`;
  const receiver = startNotifyReceiver(socket);
  let agent: Deno.ChildProcess | null = null;
  try {
    await waitFor("the notify socket", 30_000, () => Deno.stat(socket).then(() => true, () => false));
    await Deno.writeTextFile(`${dir}/hactl.yml`, config(dir, apiPort!, etcdPort!, pgPort!, `${dir}/log`));
    agent = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "agent", `${dir}/hactl.yml`],
      stdout: "piped",
      stderr: "piped",
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NOTIFY_SOCKET: socket, NO_COLOR: "1", TZ: "UTC" },
      clearEnv: true,
    }).spawn();
    await waitFor("READY=1", 60_000, () => receiver.messages.some((m) => m.split("\n").includes("READY=1")));
    const api = await fetch(`http://127.0.0.1:${apiPort}/liveness`);
    await api.body?.cancel();
    assert.ok([200, 503].includes(api.status), `REST API answered ${api.status} after READY=1`);
    await waitFor(
      "a cycle STATUS",
      60_000,
      // The cycle's sentence (etcd is down: "DCS is not accessible ..."), not the start-up status.
      () => receiver.messages.some((m) => /^STATUS=(?!agent pg1)/.test(m)),
    );
    agent.kill("SIGTERM");
    const [status, stdout, stderr] = await Promise.all([
      agent.status,
      new Response(agent.stdout).text(),
      new Response(agent.stderr).text(),
    ]);
    agent = null;
    assert.equal(status.code, 0, stderr);
    await waitFor("STOPPING=1", 10_000, () => receiver.messages.includes("STOPPING=1"));
    assert.equal(stdout, "");
    assert.equal(stderr, "", "with log.dir set nothing goes to stderr");

    const text = await Deno.readTextFile(`${dir}/log/patroni.log`);
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const started = lines.find((l) => String(l.message).includes("agent pg1 of cluster batman started"));
    assert.ok(started, text);
    assert.deepEqual(Object.keys(started).slice(0, 4), ["message", "level", "@timestamp", "service"]);
    assert.equal(started.level, "INFO");
    assert.equal(started.service, "hactl-test");
    assert.match(String(started["@timestamp"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
    assert.ok(
      lines.some((l) => l.role === "uninitialized" && "actions" in l),
      "no cycle line with its fields",
    );
    for (const s of SECRETS) assert.ok(!text.includes(s), `patroni.log contains ${s}`);
  } finally {
    if (agent) {
      agent.kill("SIGKILL");
      await agent.status;
      await agent.stdout.cancel().catch(() => {});
      await agent.stderr.cancel().catch(() => {});
    }
    receiver.child.kill();
    await receiver.child.status;
    await receiver.done.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unusable log.dir stops the agent at start with an error naming log.dir (exit 78, EX_CONFIG)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-systemd-" });
  try {
    const [apiPort, etcdPort, pgPort] = await freePorts(3, 1);
    await Deno.writeTextFile(`${dir}/file`, "");
    await Deno.writeTextFile(
      `${dir}/hactl.yml`,
      config(dir, apiPort!, etcdPort!, pgPort!, `${dir}/file/log`),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "agent", `${dir}/hactl.yml`],
      stdout: "piped",
      stderr: "piped",
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1" },
      clearEnv: true,
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 78, stderr);
    assert.match(stderr, new RegExp(`^${dir}/hactl\\.yml: log\\.dir: cannot create ${dir}/file/log: `));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
