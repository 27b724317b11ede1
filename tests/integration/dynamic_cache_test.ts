/**
 * The local copy of the dynamic configuration end to end (real etcd, PostgreSQL, `hactl agent` processes): after
 * `hactl edit-config`, every member's `<data_dir>/patroni.dynamic.json` holds the new document (mode 0600), and
 * when the `config` key is deleted from etcd the leader writes the last document back, not `bootstrap.dcs`; an
 * agent started over a damaged copy names it in a warning and writes it anew.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { formCluster } from "../helpers/cluster.ts";
import { mainModule, waitFor } from "../../scripts/lib/local_cluster.ts";

const SCOPE = "dyncache";
const CONFIG_KEY = `/service/${SCOPE}/config`;

async function hactl(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** The work_mem of a dynamic configuration document, or what it holds instead. */
function workMem(doc: unknown): unknown {
  const pg = (doc as { postgresql?: { parameters?: Record<string, unknown> } } | null)?.postgresql;
  return pg?.parameters?.["work_mem"] ?? JSON.stringify(doc);
}

Deno.test({
  name: "patroni.dynamic.json: every member keeps etcd's document; a lost config key is written back from it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, SCOPE, {
      etcdMembers: 1,
      members: 2,
    });
    const raw = new Etcd3({ hosts: c.etcd.endpoints });
    try {
      const r = await hactl([
        "edit-config",
        "-c",
        c.leader.configPath,
        SCOPE,
        "-p",
        "work_mem=7MB",
        "--force",
      ]);
      assert.equal(r.code, 0, r.stderr);
      for (const m of c.members) {
        const path = `${m.dataDir}/patroni.dynamic.json`;
        await waitFor(`${m.name}'s ${path} with work_mem 7MB`, 30_000, async () => {
          const text = await Deno.readTextFile(path).catch(() => "null");
          const got = workMem(JSON.parse(text));
          return got === "7MB" ? true : { notYet: String(got) };
        });
        assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600, path);
      }
      // etcd loses the key: the leader writes back the document it last read (work_mem 7MB), as Patroni does.
      await raw.delete().key(CONFIG_KEY);
      const restored = await waitFor("the config key written back", 30_000, async () => {
        const value = await raw.get(CONFIG_KEY).string();
        return value === null ? { notYet: "no config key" } : JSON.parse(value);
      });
      assert.equal(workMem(restored), "7MB");
      // A replica's agent restarted over a damaged copy: a warning names the file, and the agent writes it anew
      // from etcd's document.
      const replica = c.replicas[0]!;
      const path = `${replica.dataDir}/patroni.dynamic.json`;
      const agent = c.agents.get(replica.name)!;
      agent.kill("SIGKILL");
      await agent.status;
      c.agents.delete(replica.name);
      await Deno.writeTextFile(path, "{damaged");
      await c.spawn(replica.name);
      await waitFor(`${replica.name}'s warning naming ${path}`, 30_000, async () => {
        const log = await Deno.readTextFile(replica.logPath);
        return log.includes(`ignoring ${path}: not JSON`) ? true : { notYet: log.slice(-300) };
      });
      await waitFor(`${path} written anew`, 30_000, async () => {
        const text = await Deno.readTextFile(path);
        return text.startsWith("{damaged") ? { notYet: text } : workMem(JSON.parse(text)) === "7MB";
      });
    } catch (err) {
      await c.dumpLogs(SCOPE);
      throw err;
    } finally {
      raw.close();
    }
  },
});
