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
