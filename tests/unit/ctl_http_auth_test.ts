/**
 * The control commands' HTTP helpers (cli/lib/http.ts) against a real local server: a GET sends no credentials,
 * a POST sends the `ctl` ones as UTF-8 Basic auth (a password outside Latin-1 included).
 */
import assert from "node:assert/strict";
import { buildCtlSettings } from "../../cli/lib/config.ts";
import { ctlRequest, postJson } from "../../cli/lib/http.ts";

Deno.test("ctl_http: GET without an authorization header, POST with UTF-8 Basic credentials", async () => {
  const seen: { method: string; authorization: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push({ method: req.method, authorization: req.headers.get("authorization") });
    return Response.json({ state: "running" }, { headers: { server: "hactl/test" } });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/patroni`;
    const settings = buildCtlSettings(
      { scope: "x", ctl: { authentication: { username: "admin", password: "pässwörd€" } } },
      "f",
    );
    const got = await ctlRequest("GET", url, undefined, settings, 5000);
    assert.deepEqual(got, { status: 200, text: '{"state":"running"}', server: "hactl/test" });
    const posted = await postJson(url, {}, settings, 5000);
    assert.equal(posted.status, 200);
    assert.equal(seen[0]!.authorization, null, "a GET carries no credentials");
    const encoded = seen[1]!.authorization!.replace(/^Basic /, "");
    const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    assert.equal(new TextDecoder().decode(bytes), "admin:pässwörd€");
  } finally {
    await server.shutdown();
  }
});
