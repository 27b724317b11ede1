/**
 * The REST API over HTTPS (`restapi.certfile`/`keyfile`) and the peer client with the cluster's CA
 * (`ctl.cacert`): a member's `GET /patroni` must stay readable to its peers when the API uses TLS, or every peer
 * would look unreachable and the leader race would lose its "primary still alive" and "peer ahead" vetoes. And
 * `restapi.verify_client`: `required` refuses a client without a certificate at the handshake, `optional` only on
 * unsafe methods. The real handler on a real TLS listener in this process, with a throwaway PKI from openssl.
 */
import { stubApiDeps } from "../helpers/api_stub.ts";
import assert from "node:assert/strict";
import { createApiHandler, serveApi } from "../../src/api/handler.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { HttpPeerClient } from "../../src/api/peer_client.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";
import type { NodeSnapshot } from "../../src/core/types.ts";
import { makeTestPki } from "../helpers/etcd.ts";

function primarySnapshot(now: number): NodeSnapshot {
  const pg = {
    ...emptyPgObservation(),
    dataDir: "initialized" as const,
    running: true,
    queryable: true,
    role: "primary" as const,
    sysid: "7393828465826342947",
    timeline: 1,
    walPosition: 50331648,
  };
  return {
    name: "pg1",
    scope: "demo",
    state: "running",
    role: "primary",
    pg,
    pgObservedAt: now,
    cluster: null,
    dcsLastSeen: 0,
    isLeader: true,
    leaderExpiresAt: now + 30_000,
    dynamic: { ...DYNAMIC_DEFAULTS },
    tags: {},
    nextRunAt: now + 10_000,
    watchdogFailed: false,
  };
}

Deno.test("the REST API serves HTTPS and peers read it with the cluster's CA, and only with it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-api-tls-" });
  const abort = new AbortController();
  try {
    const pki = await makeTestPki(dir, "api");
    const other = await makeTestPki(dir, "other");
    const handler = createApiHandler({
      snapshot: () => primarySnapshot(performance.now()),
      now: () => performance.now(),
      wallNow: () => Date.now(),
      loadCluster: () => Promise.reject(new Error("not needed")),
      scope: "demo",
      name: "pg1",
    });
    const server = await serveApi(handler, {
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      tls: {
        cert: await Deno.readTextFile(pki.server.cert),
        key: await Deno.readTextFile(pki.server.key),
      },
    });
    const url = `https://127.0.0.1:${server.addr.port}/patroni`;

    const trusted = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(pki.server.ca)] });
    const res = await fetch(url.replace("/patroni", "/primary"), { client: trusted });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const [peer] = await new HttpPeerClient({ httpClient: trusted }).fetchStatuses([{
      name: "pg1",
      apiUrl: url,
    }], 2000);
    assert.equal(peer!.reachable, true);
    assert.equal(peer!.role, "primary");
    assert.equal(peer!.walPosition, 50331648);

    // A client that trusts another CA cannot read it (and so must not be handed a fake status either).
    const stranger = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(other.server.ca)] });
    const [refused] = await new HttpPeerClient({ httpClient: stranger }).fetchStatuses(
      [{ name: "pg1", apiUrl: url }],
      2000,
    );
    assert.equal(refused!.reachable, false);
    trusted.close();
    stranger.close();
    abort.abort();
    await server.finished;
  } finally {
    abort.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify_client: required refuses a client without a certificate at the handshake, optional on unsafe methods", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-verify-" });
  try {
    const pki = await makeTestPki(dir, "api");
    const ca = await Deno.readTextFile(pki.server.ca);
    const tls = {
      cert: await Deno.readTextFile(pki.server.cert),
      key: await Deno.readTextFile(pki.server.key),
      ca,
    };
    const noCert = Deno.createHttpClient({ caCerts: [ca] });
    const withCert = Deno.createHttpClient({
      caCerts: [ca],
      cert: await Deno.readTextFile(pki.client.cert),
      key: await Deno.readTextFile(pki.client.key),
    });
    let reloads = 0;
    for (const mode of ["required", "optional"] as const) {
      const abort = new AbortController();
      const handler = createApiHandler(stubApiDeps(
        "demo",
        { verifyClient: mode, extraHeaders: { "Strict-Transport-Security": "max-age=31536000" } },
        { reload: () => void reloads++ },
      ));
      const server = await serveApi(handler, {
        hostname: "127.0.0.1",
        port: 0,
        signal: abort.signal,
        tls: { ...tls, verifyClient: mode },
      });
      const base = `https://127.0.0.1:${server.addr.port}`;
      try {
        const ok = await fetch(`${base}/reload`, { method: "POST", client: withCert });
        assert.deepEqual([ok.status, await ok.text()], [202, "reload scheduled"], mode);
        assert.equal(ok.headers.get("strict-transport-security"), "max-age=31536000");
        if (mode === "required") {
          await assert.rejects(fetch(`${base}/patroni`, { client: noCert }), "no certificate, no handshake");
        } else {
          const get = await fetch(`${base}/patroni`, { client: noCert });
          assert.equal(get.status, 200);
          await get.body?.cancel();
          const post = await fetch(`${base}/reload`, { method: "POST", client: noCert });
          assert.deepEqual([post.status, await post.text()], [403, "client certificate required"]);
        }
      } finally {
        abort.abort();
        await server.finished;
      }
    }
    assert.equal(reloads, 2, "only the requests with a certificate reached /reload");
    noCert.close();
    withCert.close();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
