/**
 * `hactl agent` with a bad configuration: one line per problem naming the file and the key, exit code 1, and
 * nothing started (no data directory created, no REST port bound, no etcd contacted).
 */
import assert from "node:assert/strict";
import { freePort } from "../helpers/processes.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function goodConfig(dir: string, apiPort: number): string {
  return `scope: batman
name: pg1
restapi:
  listen: 127.0.0.1:${apiPort}
  connect_address: 127.0.0.1:${apiPort}
etcd3:
  host: 127.0.0.1:2379
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: ${dir}/data
  authentication:
    superuser:
      username: postgres
      password: zalando-secret
    replication:
      username: replicator
      password: rep-pass
`;
}

async function agentWith(
  yaml: string,
  dir: string,
  extra: string[] = [],
): Promise<{ code: number; stderr: string; stdout: string }> {
  const path = `${dir}/hactl.yml`;
  await Deno.writeTextFile(path, yaml);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "agent", path, ...extra],
    stdout: "piped",
    stderr: "piped",
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    clearEnv: true,
    // An agent that starts instead of refusing would run for good: the test fails (killed) instead of hanging.
    signal: AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stderr: dec.decode(out.stderr), stdout: dec.decode(out.stdout) };
}

async function assertNothingStarted(dir: string, apiPort: number): Promise<void> {
  await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound, "no data directory may be created");
  // The REST port is still free: the agent never listened.
  Deno.listen({ hostname: "127.0.0.1", port: apiPort }).close();
}

const CASES: { name: string; edit: (yaml: string, dir: string) => string | Promise<string>; key: RegExp }[] =
  [
    {
      name: "missing scope",
      edit: (y) => y.replace("scope: batman\n", ""),
      key: /hactl\.yml: scope: /,
    },
    {
      name: "a ttl that is not a number (timings that do not fit each other are adjusted, not refused)",
      edit: (y) => y.replace("ttl: 30", "ttl: soon"),
      key: /hactl\.yml: bootstrap\.dcs\.ttl: must be an integer, found a string$/,
    },
    {
      name: "unknown etcd host",
      edit: (y) => y.replace("host: 127.0.0.1:2379", "host: no-such-etcd.invalid:2379"),
      key: /hactl\.yml: etcd3\.hosts: cannot resolve etcd host 'no-such-etcd\.invalid'/,
    },
    {
      // standby_cluster.create_replica_methods, the example before, is implemented.
      name: "a dynamic key hactl does not implement yet (postgresql.pg_ctl_timeout in bootstrap.dcs)",
      edit: (y) => y.replace("ttl: 30", "ttl: 30\n    postgresql:\n      pg_ctl_timeout: 5"),
      key: /\/hactl\.yml: bootstrap\.dcs\.postgresql\.pg_ctl_timeout: not supported by hactl yet \(set /,
    },
    {
      name: "unreadable data_dir",
      edit: async (y, dir) => {
        await Deno.writeTextFile(`${dir}/not-a-dir`, "x");
        return y.replace(`data_dir: ${dir}/data`, `data_dir: ${dir}/not-a-dir`);
      },
      key: /hactl\.yml: postgresql\.data_dir: .*not-a-dir.*not a directory/,
    },
  ];

for (const c of CASES) {
  Deno.test(`hactl agent refuses a config with ${c.name}: one line naming the key, exit 78 (EX_CONFIG), nothing started`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "hactl-badcfg-" });
    try {
      const apiPort = freePort();
      const yaml = await c.edit(goodConfig(dir, apiPort), dir);
      const res = await agentWith(yaml, dir);
      assert.equal(res.code, 78, `exit code; stderr: ${res.stderr}`);
      const lines = res.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `exactly one line, got:\n${res.stderr}`);
      assert.match(lines[0]!, c.key);
      assert.ok(!res.stderr.includes("zalando-secret"), "no password in the error");
      await assertNothingStarted(dir, apiPort);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("hactl agent reports every problem at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-badcfg-" });
  try {
    const yaml = goodConfig(dir, freePort()).replace("scope: batman\n", "").replace("ttl: 30", "ttl: soon");
    const res = await agentWith(yaml, dir);
    assert.equal(res.code, 78);
    assert.match(res.stderr, /scope: /);
    assert.match(res.stderr, /bootstrap\.dcs\.ttl: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hactl agent --validate-config accepts a valid Patroni config without starting anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-cfg-" });
  try {
    const apiPort = freePort();
    await Deno.writeTextFile(`${dir}/hactl.yml`, goodConfig(dir, apiPort));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "validate-config", `${dir}/hactl.yml`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(new TextDecoder().decode(out.stdout), /configuration is valid/);
    await assertNothingStarted(dir, apiPort);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hactl agent warns about unknown keys with a did-you-mean: at --validate-config, and in its log at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-cfg-" });
  try {
    const apiPort = freePort();
    const yaml = goodConfig(dir, apiPort).replace("  data_dir:", "  paramters: {work_mem: 8MB}\n  data_dir:")
      .replace("host: 127.0.0.1:2379", `host: 127.0.0.1:${freePort()}`);
    const path = `${dir}/hactl.yml`;
    await Deno.writeTextFile(path, yaml);
    const warning = "postgresql.paramters: unknown key, ignored (did you mean postgresql.parameters?)";
    const check = await agentWith(yaml, dir, ["--validate-config"]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stderr, `${path}: warning: ${warning}\n`);
    // The agent itself logs it at start (its etcd is not there; it is stopped once the line is seen).
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "agent", path],
      stdout: "piped",
      stderr: "piped",
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      clearEnv: true,
    }).spawn();
    const seen = await firstLineMatching(
      child,
      new RegExp(`WARNING: ${path}: ${warning.replace(/[.()?]/g, "\\$&")}`),
      30_000,
    );
    child.kill("SIGKILL");
    await child.status;
    assert.ok(seen !== null, "the warning is in the agent's log");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hactl agent starts with Patroni's frozen_patroni timings (ttl 21, loop_wait 2, retry_timeout 10), warning of the adjustment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-cfg-" });
  try {
    const yaml = goodConfig(dir, freePort())
      .replace("ttl: 30", "ttl: 21").replace("loop_wait: 10", "loop_wait: 2")
      .replace("host: 127.0.0.1:2379", `host: 127.0.0.1:${freePort()}`);
    const path = `${dir}/hactl.yml`;
    await Deno.writeTextFile(path, yaml);
    const warning = "bootstrap.dcs: loop_wait + 2 * retry_timeout <= ttl is violated (2 + 2 * 10 > 21): " +
      "adjusting loop_wait from 2 to 1";
    const check = await agentWith(yaml, dir, ["--validate-config"]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stderr, `${path}: warning: ${warning}\n`);
    // The agent starts (its etcd is not there; it is stopped once the warning is in its log).
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "agent", path],
      stdout: "piped",
      stderr: "piped",
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      clearEnv: true,
    }).spawn();
    const seen = await firstLineMatching(
      child,
      new RegExp(`WARNING: ${path}: ${warning.replace(/[.()?*+]/g, "\\$&")}`),
      30_000,
    );
    child.kill("SIGKILL");
    const status = await child.status;
    assert.ok(seen !== null, "the warning is in the agent's log");
    assert.notEqual(status.code, 78, "not refused as a configuration error");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The first line of the child's stdout or stderr matching `re`, or null when none came before the deadline. */
async function firstLineMatching(
  child: Deno.ChildProcess,
  re: RegExp,
  deadlineMs: number,
): Promise<string | null> {
  let text = "";
  const dec = new TextDecoder();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      text += dec.decode(chunk);
      if (text.split("\n").some((l) => re.test(l))) return;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, deadlineMs));
  await Promise.race([read(child.stdout), read(child.stderr), deadline]);
  clearTimeout(timer);
  return text.split("\n").find((l) => re.test(l)) ?? null;
}
