/**
 * Exit codes as a script or systemd sees them, with hactl run as a child process (main.ts): a bare `hactl` is
 * help (exit 0, `--version` listed), `-h` works on every command, a bad option value is a usage error (2) naming
 * the flag, and a configuration error exits 78 (EX_CONFIG) from the agent and from validate-config, so
 * `RestartPreventExitStatus=78` in the units stops systemd from restarting a broken configuration forever.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mainModule } from "../../scripts/lib/local_cluster.ts";

async function hactl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    env: { PATRONI_SCOPE: "batman", PATRONI_ETCD3_HOSTS: "127.0.0.1:1", NO_COLOR: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("a bare `hactl` prints the help (listing --version) on stdout and exits 0", async () => {
  const r = await hactl([]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: hactl <command> \[options\]/);
  assert.match(r.stdout, /--version/);
  assert.equal(r.stderr, "");
});

Deno.test("every command answers -h with its help and exit 0", async () => {
  for (
    const command of [
      "list",
      "topology",
      "switchover",
      "reinit",
      "pause",
      "query",
      "agent",
      "validate-config",
    ]
  ) {
    const r = await hactl([command, "-h"]);
    assert.equal(r.code, 0, `${command} -h: ${r.stderr}`);
    assert.match(r.stdout, /Usage: hactl /, command);
  }
});

Deno.test("query --format bogus is a usage error (exit 2) naming the flag and the choices", async () => {
  const r = await hactl(["query", "--format", "bogus", "-c", "SELECT 1"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--format/);
  assert.match(r.stderr, /'bogus'/);
  assert.match(r.stderr, /tsv/);
  assert.equal(r.stdout, "");
});

Deno.test("a configuration error exits 78 (EX_CONFIG) from the agent, agent --validate-config and validate-config", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-exit-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yml`, "name: pg1\nrestapi:\n  listen: 127.0.0.1:notaport\n");
    for (
      const args of [["agent", `${dir}/bad.yml`], ["agent", `${dir}/bad.yml`, "--validate-config"], [
        "validate-config",
        `${dir}/bad.yml`,
      ]]
    ) {
      const r = await hactl(args);
      assert.equal(r.code, 78, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /bad\.yml: /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("usage errors still exit 2 and an unknown command exits 2", async () => {
  assert.equal((await hactl(["agent", "--frobnicate"])).code, 2);
  assert.equal((await hactl(["validate-config", "--frobnicate"])).code, 2);
  assert.equal((await hactl(["no-such-command"])).code, 2);
});

Deno.test("a bad -r/--role of restart/reload/flush and a bad history --format are usage errors (exit 2) naming the flag", async () => {
  for (const args of [["restart", "-r", "boss", "--force"], ["reload", "--role", "boss", "--force"]]) {
    const r = await hactl(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^Usage: hactl /);
    assert.match(r.stderr, /Invalid value for '-r' \/ '--role': 'boss'/);
  }
  const history = await hactl(["history", "-f", "bogus"]);
  assert.equal(history.code, 2, history.stderr);
  assert.match(history.stderr, /Invalid value for '-f' \/ '--format': 'bogus' is not one of/);
});
