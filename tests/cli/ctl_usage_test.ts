/**
 * `hactl edit-config`, `remove`, `query` and `dsn` as the real binary (main.ts in a subprocess) for the cases that
 * need no etcd: `--help` documents every option, usage errors exit 2, `Error:` exits 1. What the commands do with
 * the world replaced is in tests/unit/*_command_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mainModule } from "../../scripts/lib/local_cluster.ts";

async function hactl(args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    env: { PATRONI_SCOPE: "batman", PATRONI_ETCD3_HOSTS: "127.0.0.1:1", NO_COLOR: "1" },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("hactl edit-config/remove/query/dsn --help document every option; usage errors exit 2", async () => {
  const helps: [string, string[]][] = [
    ["edit-config", [
      "--set",
      "--pg",
      "--apply",
      "--replace",
      "--quiet",
      "--force",
      "--config-file",
      "--dcs-url",
    ]],
    ["remove", ["--format", "--config-file", "--insecure"]],
    ["query", [
      "--command",
      "--file",
      "--role",
      "--member",
      "--username",
      "--password",
      "--dbname",
      "--format",
      "--delimiter",
      "--watch",
    ]],
    ["dsn", ["--role", "--member"]],
  ];
  for (const [command, options] of helps) {
    const r = await hactl([command, "--help"]);
    assert.equal(r.code, 0, command);
    for (const o of options) assert.ok(r.stdout.includes(o), `${command} --help lacks ${o}`);
  }
  const unknown = await hactl(["edit-config", "--frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^Usage: hactl edit-config \[OPTIONS\] \[CLUSTER_NAME\]\n/);
  const badRole = await hactl(["query", "-r", "boss", "-c", "SELECT 1"]);
  assert.equal(badRole.code, 2);
  const noSql = await hactl(["query"]);
  assert.deepEqual([noSql.code, noSql.stderr], [
    1,
    "Error: You need to specify either --command or --file\n",
  ]);
  const noEtcd = await hactl(["dsn"]);
  assert.equal(noEtcd.code, 1);
  assert.match(noEtcd.stderr, /^Error: cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
});
