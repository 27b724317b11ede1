import assert from "node:assert/strict";
import { readJsonObject } from "../../src/api/request_body.ts";

Deno.test("readJsonObject(): an empty body announced with Content-Length: 0 is 400, as Patroni answers (json.loads of nothing)", async () => {
  const req = new Request("http://x/failover", { method: "POST", headers: { "content-length": "0" } });
  const out = await readJsonObject(req);
  assert.ok("error" in out);
  assert.equal(out.status, 400);
});

Deno.test("readJsonObject(): a request without Content-Length (and no body) is 411, as Patroni answers", async () => {
  const out = await readJsonObject(new Request("http://x/failover", { method: "POST" }));
  assert.ok("error" in out);
  assert.equal(out.status, 411);
});
