/**
 * The etcd adapter over TLS against a real etcd: server verification with `cacert`, client certificates with
 * `cert`/`key` (etcd started with `--client-cert-auth`), failures as bounded `DcsError`s that carry no key
 * material, and `hactl list` reading such an etcd from its YAML `etcd3` section. Endpoints are IP literals
 * (`127.0.0.1`), as in most etcd configurations.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import type { Etcd3Config } from "../../src/config/config.ts";
import { DcsError } from "../../src/core/ports.ts";
import type { MemberRecord } from "../../src/core/types.ts";
import { type EtcdCluster, makeTestPki, startEtcd, type TlsFiles } from "../helpers/etcd.ts";

const NAMESPACE = "/service/";
const RETRY_TIMEOUT = 3;
const REPO = new URL("../../", import.meta.url).pathname;

const member = (name: string, role: "primary" | "replica"): MemberRecord => ({
  conn_url: `postgres://127.0.0.1:5432/postgres?member=${name}`,
  api_url: `http://127.0.0.1:8008/patroni?member=${name}`,
  state: role === "primary" ? "running" : "streaming",
  role,
  version: "0.1.0",
  xlog_location: 83886176,
  timeline: 1,
});

function dcsFor(etcd: EtcdCluster, scope: string, name: string, tls: Partial<Etcd3Config>) {
  return createEtcdDcs({
    etcd: { hosts: etcd.endpoints, protocol: "https", ...tls },
    namespace: NAMESPACE,
    scope,
    name,
    retryTimeout: RETRY_TIMEOUT,
    ttl: 30,
  });
}

/** Every 16-character run of the PEM bodies of `files`: none may appear in an error message. */
async function keyMaterial(...files: string[]): Promise<string[]> {
  const chunks: string[] = [];
  for (const file of files) {
    const body = (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "" && !l.startsWith("-----"))
      .join("");
    for (let i = 0; i + 16 <= body.length; i += 8) chunks.push(body.slice(i, i + 16));
  }
  return chunks;
}

/** Run `load` and return its `DcsError`, asserting it came within `retry_timeout` and leaks no key material. */
async function expectBoundedDcsError(load: () => Promise<unknown>, secrets: string[]): Promise<DcsError> {
  const started = Date.now();
  const err = await load().then(() => null, (e: unknown) => e);
  const took = Date.now() - started;
  assert.ok(err instanceof DcsError, `expected a DcsError, got ${String(err)}`);
  assert.ok(took < RETRY_TIMEOUT * 1000 + 1500, `took ${took} ms with retry_timeout ${RETRY_TIMEOUT} s`);
  assert.ok(!/PRIVATE KEY|BEGIN CERTIFICATE/.test(err.message), err.message);
  // Not the runtime refusing an IP address as TLS server name: the handshake itself must have been tried.
  assert.doesNotMatch(err.message, /servername/);
  const leaked = secrets.find((s) => err.message.includes(s));
  assert.equal(leaked, undefined, `error message contains PEM material: ${err.message}`);
  return err;
}

Deno.test("EtcdDcs over tls with a client certificate, against an etcd that requires one (--client-cert-auth)", async (t) => {
  await using etcd = await startEtcd({ members: 1, tls: { clientCertAuth: true } });
  const files: TlsFiles = etcd.tls!;
  assert.match(etcd.endpoints[0]!, /^https:\/\/127\.0\.0\.1:\d+$/);
  const withCert = { cacert: files.ca, cert: files.cert, key: files.key };
  const secrets = await keyMaterial(files.key, files.cert, files.ca);

  await t.step("lease, member key, leader race and cluster view all work over TLS", async () => {
    const pg1 = dcsFor(etcd, "tls", "pg1", withCert);
    const pg2 = dcsFor(etcd, "tls", "pg2", withCert);
    try {
      await pg2.loadCluster();
      assert.equal(await pg2.refreshLease(30), true); // grant; also opens pg2's watch
      assert.equal(await pg1.refreshLease(30), true); // grant
      assert.equal(await pg1.refreshLease(30), true); // keepalive stream
      await pg1.touchMember(member("pg1", "primary"));
      await pg2.touchMember(member("pg2", "replica"));
      assert.equal(await pg1.attemptToAcquireLeader(), true);
      assert.equal(await pg2.attemptToAcquireLeader(), false);
      assert.equal(await pg2.waitForChange(5000), true, "pg2's watch over TLS saw the new leader");
      const view = await pg2.loadCluster();
      assert.equal(view.leader?.name, "pg1");
      assert.deepEqual(view.members.map((m) => m.name).sort(), ["pg1", "pg2"]);
      assert.equal(view.members.find((m) => m.name === "pg1")?.data.role, "primary");
      assert.deepEqual(view.problems, []);
    } finally {
      await pg1.close();
      await pg2.close();
    }
  });

  await t.step("without the client certificate every call fails with a bounded DcsError", async () => {
    const dcs = dcsFor(etcd, "tls", "pg3", { cacert: files.ca });
    try {
      await expectBoundedDcsError(() => dcs.loadCluster(), secrets);
      await expectBoundedDcsError(() => dcs.refreshLease(30), secrets);
    } finally {
      await dcs.close();
    }
  });

  await t.step("a CA that did not sign the server certificate is refused", async () => {
    const dir = await Deno.makeTempDir({ prefix: "hactl-other-ca-" });
    try {
      const other = await makeTestPki(dir, "other");
      const dcs = dcsFor(etcd, "tls", "pg3", { cacert: other.client.ca, cert: files.cert, key: files.key });
      try {
        const err = await expectBoundedDcsError(() => dcs.loadCluster(), secrets);
        assert.match(err.message, /certificate/i);
      } finally {
        await dcs.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("hactl list reads the cluster through the etcd3 section's TLS settings", async () => {
    const dir = await Deno.makeTempDir({ prefix: "hactl-list-tls-" });
    const pg1 = dcsFor(etcd, "listed", "pg1", withCert);
    try {
      await pg1.refreshLease(30);
      await pg1.touchMember(member("pg1", "primary"));
      assert.equal(await pg1.attemptToAcquireLeader(), true);
      const config = `${dir}/patronictl.yaml`;
      await Deno.writeTextFile(
        config,
        [
          "scope: listed",
          `namespace: ${NAMESPACE}`,
          `retry_timeout: ${RETRY_TIMEOUT}`,
          "etcd3:",
          `  hosts: 127.0.0.1:${new URL(etcd.endpoints[0]!).port}`,
          "  protocol: https",
          `  cacert: ${files.ca}`,
          `  cert: ${files.cert}`,
          `  key: ${files.key}`,
          "",
        ].join("\n"),
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "main.ts", "list", "-c", config],
        cwd: REPO,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
        signal: AbortSignal.timeout(60_000),
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `hactl list exited ${out.code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      assert.match(stdout, /Cluster: listed/, stdout);
      assert.match(stdout, /\| pg1\s+\| 127\.0\.0\.1\s+\| Leader\s+\| running\s+\|/, stdout);
    } finally {
      await pg1.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("EtcdDcs over tls verifies the server with only cacert when etcd requires no client certificate", async () => {
  await using etcd = await startEtcd({ members: 1, tls: true });
  const dcs = dcsFor(etcd, "tls-only", "pg1", { cacert: etcd.tls!.ca });
  try {
    assert.equal(await dcs.refreshLease(30), true);
    assert.equal(await dcs.attemptToAcquireLeader(), true);
    assert.equal((await dcs.loadCluster()).leader?.name, "pg1");
  } finally {
    await dcs.close();
  }
});
