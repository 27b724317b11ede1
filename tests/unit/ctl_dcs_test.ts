/**
 * The control commands' etcd writes (cli/lib/dcs.ts): one path for every write, so each refuses a bad cluster
 * name and reports an unreachable etcd as a CtlError naming the endpoints and what it tried to do.
 */
import assert from "node:assert/strict";
import { buildCtlSettings, CtlError } from "../../cli/lib/config.ts";
import { deleteClusterKeys, writeConfigKey, writeFailoverKey } from "../../cli/lib/dcs.ts";

// Nothing listens on port 1: every call fails fast with a refused connection.
const settings = {
  ...buildCtlSettings({ scope: "batman", etcd3: { host: "127.0.0.1:1" } }, "f"),
  retryTimeout: 1,
};

Deno.test("ctl_dcs writes: an unreachable etcd is a CtlError naming the endpoints and the write", async () => {
  const cases: [() => Promise<unknown>, string][] = [
    [() => writeFailoverKey(settings, "batman", { leader: "pg1" }), "write the failover key"],
    [() => writeConfigKey(settings, "batman", {}, "1"), "write the config key"],
  ];
  for (const [call, what] of cases) {
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof CtlError);
      assert.match(err.message, new RegExp(`^cannot ${what} in etcd at http://127\\.0\\.0\\.1:1: `));
      return true;
    });
  }
  await assert.rejects(deleteClusterKeys(settings, "/"), /invalid cluster name '\/'/);
  await assert.rejects(writeFailoverKey(settings, "a/b", {}), /invalid cluster name 'a\/b'/);
});
