/**
 * What the REST handler does around every answer, tested in-process: `/patroni/...` routed to `/patroni`, the extra
 * headers of restapi.http_extra_headers, and a short 500 on an unexpected exception.
 *
 * @module
 */
import assert from "node:assert/strict";
import { call, getJson, primarySnap, replicaSnap } from "../helpers/api_snapshots.ts";

Deno.test("GET /patroni/anything is routed to /patroni", async () => {
  const { status, body } = await getJson(replicaSnap(), "/patroni/extra?x=1");
  assert.equal(status, 200);
  assert.equal(body.patroni.name, "pg2");
});

Deno.test("extra headers from restapi.http_extra_headers are added", async () => {
  const r = await call(primarySnap(), "/patroni", "GET", { extraHeaders: { "X-Frame-Options": "DENY" } });
  assert.equal(r.headers.get("x-frame-options"), "DENY");
});

Deno.test("an unexpected exception answers 500 with a short message", async () => {
  const r = await call(primarySnap(), "/primary", "GET", {
    snapshot: () => {
      throw new TypeError("boom");
    },
  });
  assert.equal(r.status, 500);
  assert.equal(r.text.includes("boom"), false);
});

Deno.test("health checks do not answer 200 for a postmaster that has died since the last snapshot", async () => {
  // The snapshot (up to a second old) still says: a running, queryable replica.
  const alive = { postmasterAlive: () => true };
  assert.equal((await call(replicaSnap(), "/replica", "GET", alive)).status, 200);
  assert.equal((await call(replicaSnap(), "/health", "GET", alive)).status, 200);
  // The postmaster was killed since: answered as Patroni answers when its query to Postgres fails.
  const dead = { postmasterAlive: () => false };
  assert.equal((await call(replicaSnap(), "/replica", "GET", dead)).status, 503);
  assert.equal((await call(replicaSnap(), "/read-only", "GET", dead)).status, 503);
  assert.equal((await call(replicaSnap(), "/health", "GET", dead)).status, 503);
  assert.equal((await call(replicaSnap(), "/readiness", "GET", dead)).status, 503);
  const { status, body } = await getJson(replicaSnap(), "/patroni", dead);
  assert.equal(status, 200);
  assert.equal(body.state, "unknown");
  assert.equal(body.role, "replica");
  assert.equal(body.xlog, undefined);
  // The leader still answers as the leader (it holds the key; the HA loop acts on the crash).
  assert.equal((await call(primarySnap(), "/leader", "GET", dead)).status, 200);
});

Deno.test("the postmaster check is not made when the snapshot already says Postgres is not running", async () => {
  let checks = 0;
  const counting = {
    postmasterAlive: () => {
      checks++;
      return true;
    },
  };
  const stopped = replicaSnap({
    state: "stopped",
    pg: { ...replicaSnap().pg, running: false, queryable: false },
  });
  assert.equal((await call(stopped, "/replica", "GET", counting)).status, 503);
  assert.equal(checks, 0);
  await call(replicaSnap(), "/replica", "GET", counting);
  assert.equal(checks, 1);
});
