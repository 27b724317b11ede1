/**
 * `hactl -k` as the real binary (main.ts in a subprocess) with a real etcd: the member found in etcd serves the
 * REST API (the real handler, in-process) over HTTPS with a certificate from a CA the CLI is not given, and requires
 * a client certificate (`verify_client: required`). Without `-k`, `version` and `reload` report the certificate
 * error and nothing reaches the member; with the global `-k` before the command they go through, presenting
 * `ctl.certfile`/`keyfile`. No PostgreSQL: only etcd, the API and the CLI.
 */
import { stubApiDeps } from "../helpers/api_stub.ts";
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { createApiHandler, serveApi } from "../../src/api/handler.ts";
import { makeTestPki, startEtcd } from "../helpers/etcd.ts";
import { mainModule } from "../../scripts/lib/local_cluster.ts";

async function hactl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("hactl -k reaches a member's HTTPS REST API it cannot verify, found through etcd", async () => {
  await using etcd = await startEtcd({ members: 1 });
  const dir = await Deno.makeTempDir({ prefix: "hactl-ctl-k-" });
  const abort = new AbortController();
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    const pki = await makeTestPki(dir, "api");
    let reloads = 0;
    const handler = createApiHandler(
      stubApiDeps("kdemo", { verifyClient: "required" }, { reload: () => void reloads++ }),
    );
    const server = await serveApi(handler, {
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      tls: {
        cert: await Deno.readTextFile(pki.server.cert),
        key: await Deno.readTextFile(pki.server.key),
        ca: await Deno.readTextFile(pki.server.ca),
        verifyClient: "required",
      },
    });
    await client.put("/service/kdemo/config").value(JSON.stringify({ loop_wait: 10 }));
    await client.put("/service/kdemo/members/pg1").value(JSON.stringify({
      conn_url: "postgres://127.0.0.1:1/postgres",
      api_url: `https://127.0.0.1:${server.addr.port}/patroni`,
      state: "running",
      role: "primary",
      version: "0.1.0",
    }));
    const cfg = `${dir}/ctl.yml`;
    await Deno.writeTextFile(
      cfg,
      JSON.stringify({
        scope: "kdemo",
        etcd3: { hosts: etcd.endpoints.map((e) => new URL(e).host) },
        ctl: { certfile: pki.client.cert, keyfile: pki.client.key },
      }),
    );

    const strictVersion = await hactl(["-c", cfg, "version", "kdemo"]);
    assert.equal(strictVersion.code, 0, strictVersion.stderr);
    assert.match(strictVersion.stdout, /\npg1: failed to get version: .*certificate/, strictVersion.stdout);
    const strictReload = await hactl(["-c", cfg, "reload", "kdemo", "pg1", "--force"]);
    assert.match(strictReload.stdout, /^Failed: reload for member pg1, \(.*certificate.*\)\n$/);
    assert.equal(reloads, 0);

    const version = await hactl(["-k", "-c", cfg, "version", "kdemo"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /\npg1: hactl \S+ PostgreSQL 15\.8\n$/, version.stdout);
    const reload = await hactl(["-k", "-c", cfg, "reload", "kdemo", "pg1", "--force"]);
    assert.equal(reload.code, 0, reload.stderr);
    assert.equal(
      reload.stdout,
      "Reload request received for member pg1 and will be processed within 10 seconds\n",
    );
    assert.equal(reloads, 1, "the client certificate was presented");
  } finally {
    client.close();
    abort.abort();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
