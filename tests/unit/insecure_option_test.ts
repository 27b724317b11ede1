/**
 * `-k/--insecure` and `ctl.insecure` in the control commands, against the real REST API handler served over HTTPS
 * with a certificate from a CA the CLI is not given, and `verify_client: required` (so a request only gets through
 * when the CLI presents `ctl.certfile`/`keyfile`). The commands run in-process with their real HTTP dependencies;
 * only the cluster view (etcd) is replaced. Without `-k` the certificate is refused and the command says why; with
 * `-k` (or `ctl.insecure: true`) it goes through and still presents the client certificate; with `ctl.cacert` it
 * goes through verified, without `-k`.
 */
import { stubApiDeps } from "../helpers/api_stub.ts";
import assert from "node:assert/strict";
import { createApiHandler, serveApi } from "../../src/api/handler.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { makeTestPki } from "../helpers/etcd.ts";
import { run as reload } from "../../cli/reload.ts";
import { run as pause } from "../../cli/pause.ts";
import { REAL_DEPS as PAUSE_DEPS } from "../../cli/pause.ts";
import { REAL_DEPS as VERSION_DEPS, run as version } from "../../cli/version.ts";
import { REAL_MEMBER_DEPS } from "../../cli/lib/member_deps.ts";

function clusterView(apiUrl: string, config: Record<string, unknown>): ClusterView {
  return {
    initialize: "7393828465826342947",
    config: { value: config, modRevision: "2" },
    leader: { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" },
    members: [{
      name: "pg1",
      data: {
        conn_url: "postgres://127.0.0.1:5432/postgres",
        api_url: apiUrl,
        state: "running",
        role: "primary",
        version: "0.1.0",
      },
      modRevision: "1",
      lease: "1",
    }],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "1",
    problems: [],
  };
}

Deno.test("-k/--insecure and ctl.insecure skip the server certificate check and still send the client certificate", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-ctl-insecure-" });
  const abort = new AbortController();
  try {
    const pki = await makeTestPki(dir, "api");
    const ca = await Deno.readTextFile(pki.server.ca);
    let reloads = 0;
    const configWrites: unknown[] = [];
    let config: Record<string, unknown> = { loop_wait: 7 };
    let apiUrl = "";
    const handler = createApiHandler(stubApiDeps("demo", { verifyClient: "required" }, {
      readCluster: () => Promise.resolve(clusterView(apiUrl, config)),
      setConfig: (value) => (configWrites.push(value), config = value, Promise.resolve(true)),
      loopWait: () => 7,
      reload: () => void reloads++,
    }, () => Promise.resolve(clusterView(apiUrl, config))));
    const server = await serveApi(handler, {
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      tls: {
        cert: await Deno.readTextFile(pki.server.cert),
        key: await Deno.readTextFile(pki.server.key),
        ca,
        verifyClient: "required",
      },
    });
    apiUrl = `https://127.0.0.1:${server.addr.port}/patroni`;

    // The CLI's configuration: a client certificate the API accepts, and no CA for the API's certificate.
    const writeConfig = async (name: string, ctl: Record<string, unknown>) => {
      const path = `${dir}/${name}.yml`;
      await Deno.writeTextFile(path, JSON.stringify({ scope: "demo", etcd3: { hosts: "127.0.0.1:1" }, ctl }));
      return path;
    };
    const clientCert = { certfile: pki.client.cert, keyfile: pki.client.key };
    const strict = await writeConfig("strict", clientCert);
    const insecureInFile = await writeConfig("insecure", { ...clientCert, insecure: true });
    const trusted = await writeConfig("trusted", { ...clientCert, cacert: pki.server.ca });
    const noClientCert = await writeConfig("nocert", {});

    const runReload = async (args: string[]) => {
      const out: string[] = [];
      const code = await reload(["demo", "pg1", "--force", ...args], {}, {
        ...REAL_MEMBER_DEPS,
        loadCluster: () => Promise.resolve(clusterView(apiUrl, config)),
        out: (s) => void out.push(s),
        err: (s) => void out.push(s),
      });
      return { code, out: out.join("") };
    };

    await t.step("reload without -k: the certificate is refused, the member is not reached", async () => {
      const r = await runReload(["-c", strict]);
      assert.equal(
        r.code,
        1,
        "a member that could not be reached is a failure (patronictl's 0 only with --patroni-compat)",
      );
      assert.match(r.out, /Failed: reload for member pg1, \(.*certificate.*UnknownIssuer.*\)\n/);
      assert.equal(reloads, 0);
    });

    await t.step(
      "reload -k (or --insecure, or ctl.insecure) goes through, with the client certificate",
      async () => {
        for (const args of [["-c", strict, "-k"], ["--insecure", "-c", strict], ["-c", insecureInFile]]) {
          const before = reloads;
          const r = await runReload(args);
          assert.equal(r.code, 0);
          assert.equal(
            r.out,
            "Reload request received for member pg1 and will be processed within 7 seconds\n",
            args.join(" "),
          );
          assert.equal(reloads, before + 1, args.join(" "));
        }
      },
    );

    await t.step("-k without a client certificate is still refused by verify_client: required", async () => {
      const before = reloads;
      const r = await runReload(["-c", noClientCert, "-k"]);
      assert.match(r.out, /^Failed: reload for member pg1, \(.+\)\n$/);
      assert.equal(reloads, before);
    });

    await t.step("with ctl.cacert the certificate is verified and accepted without -k", async () => {
      const before = reloads;
      const r = await runReload(["-c", trusted]);
      assert.match(r.out, /^Reload request received for member pg1/);
      assert.equal(reloads, before + 1);
    });

    await t.step("pause: no member reachable without -k (exit 1); with -k it is paused", async () => {
      const out: string[] = [];
      const deps = {
        ...PAUSE_DEPS,
        loadCluster: () => Promise.resolve(clusterView(apiUrl, config)),
        out: (s: string) => void out.push(s),
        err: (s: string) => void out.push(s),
      };
      assert.equal(await pause("pause", ["-c", strict, "demo"], {}, deps), 1);
      assert.equal(out.join(""), "Error: Can not find accessible cluster member\n");
      assert.deepEqual(configWrites, []);
      out.length = 0;
      assert.equal(await pause("pause", ["-c", strict, "-k", "demo"], {}, deps), 0);
      assert.equal(out.join(""), "Success: cluster management is paused\n");
      assert.deepEqual(configWrites, [{ loop_wait: 7, pause: true }]);
    });

    await t.step("version reads GET /patroni with -k; without it, says why it could not", async () => {
      const run = async (args: string[]) => {
        const out: string[] = [];
        const code = await version([...args, "demo"], {}, {
          ...VERSION_DEPS,
          loadCluster: () => Promise.resolve(clusterView(apiUrl, config)),
          out: (s) => void out.push(s),
          err: (s) => void out.push(s),
        });
        assert.equal(code, 0);
        return out.join("").split("\n\n")[1];
      };
      assert.match((await run(["-c", strict]))!, /^pg1: failed to get version: .*certificate.*UnknownIssuer/);
      assert.match((await run(["-c", strict, "-k"]))!, /^pg1: hactl \S+ PostgreSQL 15\.8\n$/);
    });
  } finally {
    abort.abort();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
