/**
 * Tests for `cli/lib/config.ts`, the lenient configuration loader of the control commands: file, directory,
 * environment alone, `PATRONI_CONFIGURATION`, `--dcs-url`, and the patronictl error messages.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withTempDir } from "../helpers/temp_dir.ts";
import {
  buildCtlSettings,
  CtlError,
  ctlOptionsFrom,
  describeEndpoints,
  loadCtlConfig,
  requireEtcd,
} from "../../cli/lib/config.ts";

const PATRONICTL_YAML = `
scope: batman
namespace: /db
etcd3:
  hosts: 10.0.0.1:2379,10.0.0.2:2379
  username: root
  password: secret
restapi:
  authentication:
    username: api
    password: apipass
  cafile: /etc/ssl/ca.pem
ctl:
  insecure: true
`;

Deno.test("loadCtlConfig() reads a patronictl.yaml without the daemon-only keys", async () => {
  await withTempDir("hactl-ctl-config-", async (dir) => {
    const file = `${dir}/patronictl.yaml`;
    await Deno.writeTextFile(file, PATRONICTL_YAML);
    const s = await loadCtlConfig({ configFile: file }, {});
    assert.equal(s.source, file);
    assert.equal(s.scope, "batman");
    assert.equal(s.namespace, "/db/");
    assert.deepEqual(s.etcd3, {
      hosts: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
      protocol: "http",
      username: "root",
      password: "secret",
    });
    assert.deepEqual(s.ctl, {
      insecure: true,
      authentication: { username: "api", password: "apipass" },
      cacert: "/etc/ssl/ca.pem",
    });
    assert.equal(s.retryTimeout, 10);
    assert.equal(s.ttl, 30);
  });
});

Deno.test("PATRONI_* variables override the file; PATRONICTL_CONFIG_FILE names the file", async () => {
  await withTempDir("hactl-ctl-config-", async (dir) => {
    const file = `${dir}/ctl.yml`;
    await Deno.writeTextFile(file, PATRONICTL_YAML);
    const s = await loadCtlConfig({}, {
      PATRONICTL_CONFIG_FILE: file,
      PATRONI_SCOPE: "robin",
      PATRONI_ETCD3_HOSTS: "'e1:2379','e2:2380'",
    });
    assert.equal(s.scope, "robin");
    assert.deepEqual(s.etcd3?.hosts, ["http://e1:2379", "http://e2:2380"]);
    assert.equal(s.etcd3?.username, "root");
  });
});

Deno.test("the default ~/.config/patroni/patronictl.yaml is used when present and ignored when absent", async () => {
  await withTempDir("hactl-ctl-config-", async (home) => {
    const none = await loadCtlConfig({}, { HOME: home, PATRONI_SCOPE: "x" });
    assert.equal(none.source, "environment");
    await Deno.mkdir(`${home}/.config/patroni`, { recursive: true });
    await Deno.writeTextFile(
      `${home}/.config/patroni/patronictl.yaml`,
      "scope: fromhome\netcd3:\n  host: h:1\n",
    );
    const s = await loadCtlConfig({}, { HOME: home });
    assert.equal(s.scope, "fromhome");
    assert.deepEqual(s.etcd3?.hosts, ["http://h:1"]);
  });
});

Deno.test("the environment alone: PATRONI_SCOPE, PATRONI_NAMESPACE and PATRONI_ETCD3_HOST/URL", async () => {
  const s = await loadCtlConfig({}, {
    PATRONI_SCOPE: "batman",
    PATRONI_NAMESPACE: "service2",
    PATRONI_ETCD3_HOST: "127.0.0.1:2379",
  });
  assert.equal(s.source, "environment");
  assert.equal(s.scope, "batman");
  assert.equal(s.namespace, "/service2/");
  assert.deepEqual(s.etcd3?.hosts, ["http://127.0.0.1:2379"]);
  const u = await loadCtlConfig({}, { PATRONI_ETCD3_URL: "https://etcd.example:2379" });
  assert.deepEqual(u.etcd3?.hosts, ["https://etcd.example:2379"]);
  assert.equal(u.scope, null);
  assert.equal(u.namespace, "/service/");
});

Deno.test("PATRONI_CONFIGURATION is the whole document when no file exists", async () => {
  const s = await loadCtlConfig({}, {
    PATRONI_CONFIGURATION: "scope: joker\netcd3:\n  hosts: [a:2379]\n",
    PATRONI_SCOPE: "ignored",
  });
  assert.equal(s.scope, "joker");
  assert.deepEqual(s.etcd3?.hosts, ["http://a:2379"]);
});

Deno.test("--dcs-url replaces the file's DCS section and sets the namespace", async () => {
  await withTempDir("hactl-ctl-config-", async (dir) => {
    const file = `${dir}/ctl.yml`;
    await Deno.writeTextFile(file, PATRONICTL_YAML);
    const s = await loadCtlConfig({ configFile: file, dcsUrl: "etcd3://10.1.1.1:2381/other" }, {});
    assert.deepEqual(s.etcd3, { hosts: ["http://10.1.1.1:2381"], protocol: "http" });
    assert.equal(s.namespace, "/other/");
    assert.equal(s.scope, "batman");
  });
  const bare = await loadCtlConfig({ dcsUrl: "localhost" }, {});
  assert.deepEqual(bare.etcd3?.hosts, ["http://localhost:2379"]);
  const etcd = await loadCtlConfig({}, { DCS_URL: "etcd://h1:2379" });
  assert.deepEqual(etcd.etcd3?.hosts, ["http://h1:2379"]);
  assert.throws(
    () => buildCtlSettings({}, "x", { dcsUrl: "consul://h:8500" }),
    /Unsupported dcs scheme: consul/,
  );
  assert.throws(() => buildCtlSettings({}, "x", { dcsUrl: "foo://h" }), /Unknown dcs scheme: foo/);
});

Deno.test("an explicitly named missing file is patronictl's error", async () => {
  await assert.rejects(
    loadCtlConfig({ configFile: "/nonexistent/ctl.yml" }, {}),
    (err: unknown) =>
      err instanceof CtlError &&
      err.message ===
        "Provided config file /nonexistent/ctl.yml not existing or no read rights. Check the -c/--config-file parameter",
  );
  await assert.rejects(loadCtlConfig({}, { PATRONICTL_CONFIG_FILE: "/nonexistent/x.yml" }), CtlError);
});

Deno.test("a directory of YAML files is merged in sorted order; a non-mapping file is invalid", async () => {
  await withTempDir("hactl-ctl-config-", async (dir) => {
    await Deno.writeTextFile(`${dir}/10-base.yml`, "scope: a\netcd3:\n  host: h:2379\n");
    await Deno.writeTextFile(`${dir}/20-over.yaml`, "scope: b\n");
    await Deno.writeTextFile(`${dir}/ignored.txt`, "scope: c\n");
    const s = await loadCtlConfig({ configFile: dir }, {});
    assert.equal(s.scope, "b");
    assert.deepEqual(s.etcd3?.hosts, ["http://h:2379"]);
    await Deno.writeTextFile(`${dir}/bad.yml`, "- just\n- a list\n");
    await assert.rejects(loadCtlConfig({ configFile: `${dir}/bad.yml` }, {}), /invalid config file/);
  });
});

Deno.test("the etcd v2 section is accepted as etcd3; no DCS at all is an error only when required", () => {
  const s = buildCtlSettings({ scope: "x", etcd: { host: "e:2379" } }, "f");
  assert.deepEqual(s.etcd3?.hosts, ["http://e:2379"]);
  const none = buildCtlSettings({ scope: "x" }, "f");
  assert.equal(none.etcd3, null);
  assert.throws(
    () => requireEtcd(none),
    /Can not find suitable configuration of distributed configuration store/,
  );
});

Deno.test("ctl settings: -k forces insecure, ctl.authentication wins over restapi's", () => {
  const s = buildCtlSettings(
    {
      ctl: { authentication: { username: "c", password: "p" }, cacert: "/ca" },
      restapi: { authentication: { username: "r", password: "q" }, cafile: "/other" },
    },
    "f",
    { insecure: true },
  );
  assert.deepEqual(s.ctl, {
    insecure: true,
    authentication: { username: "c", password: "p" },
    cacert: "/ca",
  });
  assert.deepEqual(ctlOptionsFrom({ "config-file": "a", dcs: "b", insecure: true }), {
    configFile: "a",
    dcsUrl: "b",
    insecure: true,
  });
});

Deno.test("describeEndpoints() drops credentials embedded in URLs", () => {
  assert.equal(
    describeEndpoints(["http://u:pw@h1:2379", "https://h2:2379"]),
    "http://h1:2379,https://h2:2379",
  );
});

Deno.test("ttl and retry_timeout are read as the agent reads the dynamic configuration (normalizeDynamic)", () => {
  const read = (doc: Record<string, unknown>) => {
    const s = buildCtlSettings(doc, "ctl.yml");
    return [s.ttl, s.retryTimeout];
  };
  assert.deepEqual(read({}), [30, 10]);
  assert.deepEqual(read({ ttl: 40, retry_timeout: "15" }), [40, 15]);
  assert.deepEqual(read({ ttl: "soon", retry_timeout: [1] }), [30, 10]);
  // The agent's minimums and its loop_wait + 2 * retry_timeout <= ttl repair.
  assert.deepEqual(read({ ttl: 4, retry_timeout: 1 }), [5, 2]);
  assert.deepEqual(read({ ttl: 20, loop_wait: 10, retry_timeout: 12 }), [20, 9]);
});
