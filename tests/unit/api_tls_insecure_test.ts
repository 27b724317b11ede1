/**
 * `ctl.insecure` for the calls members make to each other (`GET /patroni` in the leader race, `/liveness` for the
 * duplicate-name check), as Patroni's members make them: its acceptance suite serves every REST API with one
 * self-signed certificate that is its own CA (`openssl req -x509`, CA:TRUE), requires client certificates and sets
 * `ctl.insecure`. Deno's verifier refuses a CA certificate as a server certificate, so without `insecure` the
 * members cannot read each other; with it they do, presenting their client certificate.
 */
import assert from "node:assert/strict";
import { createApiHandler, serveApi } from "../../src/api/handler.ts";
import { HttpPeerClient } from "../../src/api/peer_client.ts";
import { insecurePeerGet } from "../../src/api/peer_get.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { NodeSnapshot } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";
import { liveMemberWithMyName } from "../../src/daemon/unique_name.ts";
import { stubControl } from "../helpers/api_stub.ts";
import { member, view } from "../helpers/decide_inputs.ts";

function snapshot(now: number): NodeSnapshot {
  return {
    name: "postgres-0",
    scope: "batman",
    state: "running",
    role: "primary",
    pg: { ...emptyPgObservation(), dataDir: "initialized", running: true, queryable: true, role: "primary" },
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

Deno.test("with ctl.insecure, members read a peer served with Patroni's test certificate (self-signed CA:TRUE, client certificate required)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-insecure-" });
  const abort = new AbortController();
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-nodes",
        "-new",
        "-x509",
        "-subj",
        "/CN=batman.patroni",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        `${dir}/k.pem`,
        "-out",
        `${dir}/c.pem`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const cert = await Deno.readTextFile(`${dir}/c.pem`);
    const key = await Deno.readTextFile(`${dir}/k.pem`);
    const handler = createApiHandler({
      snapshot: () => snapshot(performance.now()),
      now: () => performance.now(),
      wallNow: () => Date.now(),
      loadCluster: () => Promise.reject(new Error("not needed")),
      scope: "batman",
      name: "postgres-0",
      control: stubControl({
        failsafeCall: (body: unknown) =>
          (body as { name?: string }).name === "postgres-1"
            ? { status: 200, body: "Accepted", lsn: 77, ttl: 30 }
            : { status: 500, body: "not following" },
      }),
    });
    const server = await serveApi(handler, {
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      tls: { cert, key, ca: cert, verifyClient: "required" },
    });
    const apiUrl = `https://127.0.0.1:${server.addr.port}/patroni`;

    // Verifying against the certificate itself fails in Deno (a CA used as an end entity).
    const verifying = Deno.createHttpClient({ caCerts: [cert], cert, key });
    const [strict] = await new HttpPeerClient({ httpClient: verifying }).fetchStatuses([{
      name: "postgres-0",
      apiUrl,
    }], 3000);
    assert.equal(strict!.reachable, false);
    verifying.close();

    const get = insecurePeerGet({ cert, key });
    const [peer] = await new HttpPeerClient({ get }).fetchStatuses([{ name: "postgres-0", apiUrl }], 3000);
    assert.equal(peer!.reachable, true);
    assert.equal(peer!.role, "primary");

    // So does the leader's failsafe round, `POST /failsafe` (found through Patroni's dcs_failsafe_mode scenarios: it
    // used the verifying client, every round failed with "fetch failed" and the leader demoted).
    const [answer] = await new HttpPeerClient({ get }).postFailsafe([{ name: "postgres-0", apiUrl }], {
      name: "postgres-1",
    }, 3000);
    assert.deepEqual(answer, { name: "postgres-0", accepted: true, lsn: 77, ttl: 30 });

    // The duplicate-name check reaches it the same way.
    const cluster = view({ members: [member("postgres-0", { api_url: apiUrl })] });
    const dcs = { loadCluster: () => Promise.resolve(cluster) };
    assert.equal(await liveMemberWithMyName(dcs, "postgres-0", undefined, get), apiUrl);

    // Without the client certificate the handshake is refused: insecure skips verifying the server, nothing else.
    const [anonymous] = await new HttpPeerClient({ get: insecurePeerGet(null) }).fetchStatuses(
      [{ name: "postgres-0", apiUrl }],
      3000,
    );
    assert.equal(anonymous!.reachable, false);
    abort.abort();
    await server.finished;
  } finally {
    abort.abort();
    await Deno.remove(dir, { recursive: true });
  }
});
