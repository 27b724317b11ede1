/**
 * `ctlRequest` (cli/lib/http.ts) over its two paths against one HTTPS server: `fetch` (the server verified with
 * `ctl.cacert`) and `node:https` (`ctl.insecure`, no verification). Both send the same request (method, JSON body,
 * Basic auth) and read the same answer (status, text, `Server` header), give up at the same deadline and refuse an
 * answer above `MAX_ANSWER_BYTES` with the same wording; plain `http://` ignores `insecure`.
 */
import assert from "node:assert/strict";
import { ctlRequest, MAX_ANSWER_BYTES } from "../../cli/lib/http.ts";
import { buildCtlSettings, type CtlSettings } from "../../cli/lib/config.ts";
import { makeTestPki } from "../helpers/etcd.ts";

Deno.test("ctlRequest: the fetch and node:https paths send, read and give up alike", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-ctl-http-" });
  let release = () => {};
  const released = new Promise<void>((r) => release = r);
  const abort = new AbortController();
  try {
    const pki = await makeTestPki(dir, "api");
    const handler = async (req: Request) => {
      const path = new URL(req.url).pathname;
      if (path === "/slow") {
        await released;
        return new Response("late");
      }
      if (path === "/big") return new Response(new Uint8Array(MAX_ANSWER_BYTES + 1).fill(65));
      const seen = [
        req.method,
        req.headers.get("content-type"),
        req.headers.get("authorization"),
        await req.text(),
      ];
      return new Response(JSON.stringify(seen), { status: 202, headers: { server: "hactl/test" } });
    };
    const tlsServer = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: () => {},
      cert: await Deno.readTextFile(pki.server.cert),
      key: await Deno.readTextFile(pki.server.key),
    }, handler);
    const plainServer = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: () => {},
    }, handler);
    const base = `https://127.0.0.1:${tlsServer.addr.port}`;
    const ctl = { authentication: { username: "admin", password: "s3cret" } };
    const paths: [string, CtlSettings][] = [
      ["fetch", buildCtlSettings({ ctl: { ...ctl, cacert: pki.server.ca } }, "test.yml")],
      ["node:https", buildCtlSettings({ ctl: { ...ctl, insecure: true } }, "test.yml")],
    ];

    await t.step("the same request and answer", async () => {
      for (const [name, settings] of paths) {
        const res = await ctlRequest("PATCH", `${base}/config`, { pause: true }, settings, 5000);
        assert.deepEqual(res, {
          status: 202,
          text: JSON.stringify([
            "PATCH",
            "application/json",
            `Basic ${btoa("admin:s3cret")}`,
            '{"pause":true}',
          ]),
          server: "hactl/test",
        }, name);
        const del = await ctlRequest("DELETE", `${base}/restart`, undefined, settings, 5000);
        assert.equal(del.text, JSON.stringify(["DELETE", null, `Basic ${btoa("admin:s3cret")}`, ""]), name);
      }
    });

    await t.step("the same deadline", async () => {
      for (const [name, settings] of paths) {
        const started = performance.now();
        await assert.rejects(ctlRequest("GET", `${base}/slow`, undefined, settings, 300), {
          message: "no answer within 0.3 s",
        }, name);
        assert.ok(performance.now() - started < 10_000, name);
      }
    });

    await t.step("the same size cap", async () => {
      for (const [name, settings] of paths) {
        await assert.rejects(ctlRequest("GET", `${base}/big`, undefined, settings, 10_000), {
          message: `answer larger than ${MAX_ANSWER_BYTES} bytes`,
        }, name);
      }
    });

    await t.step(
      "without insecure or a CA the server's certificate is refused, with the reason",
      async () => {
        await assert.rejects(
          ctlRequest("GET", `${base}/patroni`, undefined, buildCtlSettings({}, "test.yml"), 5000),
          /invalid peer certificate: UnknownIssuer/,
        );
      },
    );

    await t.step("insecure leaves plain http alone; an unreadable certfile is named", async () => {
      const insecure = paths[1]![1];
      const res = await ctlRequest(
        "POST",
        `http://127.0.0.1:${plainServer.addr.port}/reload`,
        {},
        insecure,
        5000,
      );
      assert.equal(res.status, 202);
      const missing = buildCtlSettings(
        { ctl: { insecure: true, certfile: `${dir}/none.pem`, keyfile: `${dir}/none-key.pem` } },
        "test.yml",
      );
      await assert.rejects(
        ctlRequest("GET", `${base}/patroni`, undefined, missing, 5000),
        /^Error: ctl\.certfile: /,
      );
    });
  } finally {
    release();
    abort.abort();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
