/**
 * `hactl switchover` / `hactl failover` with the world replaced: what is asked, what is refused with which
 * message, what is posted where, and the fallback to the DCS.
 */
import assert from "node:assert/strict";
import { run, type SwitchoverDeps } from "../../cli/switchover.ts";
import { parseScheduled } from "../../cli/lib/schedule.ts";
import type { ClusterView, Member } from "../../src/core/types.ts";

function member(name: string, tags?: Member["data"]["tags"]): Member {
  return {
    name,
    data: {
      conn_url: `postgres://10.0.0.${name.slice(2)}:5432/postgres`,
      api_url: `http://10.0.0.${name.slice(2)}:8008/patroni`,
      state: "running",
      role: name === "pg1" ? "primary" : "replica",
      version: "0",
      ...(tags ? { tags } : {}),
    },
    modRevision: "1",
    lease: "1",
  };
}

const VIEW: ClusterView = {
  initialize: "7393828465826342947",
  config: null,
  leader: { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" },
  members: [member("pg1"), member("pg2"), member("pg3", { nofailover: true })],
  status: null,
  failover: null,
  sync: null,
  history: [],
  revision: "1",
  problems: [],
};

function fake(opts: { answers?: string[]; confirm?: boolean; post?: "ok" | "down" } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const posts: { url: string; body: unknown }[] = [];
  const keys: Record<string, unknown>[] = [];
  const asked: string[] = [];
  const answers = [...(opts.answers ?? [])];
  const deps: SwitchoverDeps = {
    loadCluster: () => Promise.resolve(VIEW),
    post: (url, body) => {
      if (opts.post === "down") return Promise.reject(new Error("connection refused"));
      posts.push({ url, body });
      return Promise.resolve({ status: 200, text: 'Successfully switched over to "pg2"' });
    },
    writeFailoverKey: (_s, _scope, value) => Promise.resolve(void keys.push(value)),
    prompt: (message, fallback) => {
      asked.push(message);
      return answers.shift() ?? fallback;
    },
    confirm: (message) => {
      asked.push(message);
      return opts.confirm ?? true;
    },
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    now: () => new Date(2026, 10, 26, 12, 0, 0),
    sleep: () => Promise.resolve(),
    isTerminal: () => false,
  };
  return { deps, out, err, posts, keys, asked };
}

const BASE = ["--dcs-url", "127.0.0.1:2379", "demo"];

Deno.test("switchover --force posts to the leader's REST API and prints the answer and the table", async () => {
  const f = fake();
  assert.equal(await run("switchover", [...BASE, "--candidate", "pg2", "--force"], {}, f.deps), 0);
  assert.deepEqual(f.posts, [{
    url: "http://10.0.0.1:8008/switchover",
    body: { leader: "pg1", candidate: "pg2" },
  }]);
  assert.deepEqual(f.asked, [], "--force asks nothing");
  const text = f.out.join("");
  assert.match(text, /^Current cluster topology\n\+ Cluster: demo/);
  assert.match(text, /2026-11-26 12:00:00\.00000 Successfully switched over to "pg2"/);
});

Deno.test("switchover asks for the leader, the candidate, the time and a confirmation", async () => {
  const f = fake({ answers: ["pg1", "pg2", "now"] });
  assert.equal(await run("switchover", BASE, {}, f.deps), 0);
  assert.deepEqual(f.asked, [
    "Primary",
    "Candidate ['pg2']",
    "When should the switchover take place (e.g. 2026-11-26T12:00 ) ",
    "Are you sure you want to switchover cluster demo, demoting current leader pg1?",
  ]);
  const no = fake({ answers: ["pg1", "pg2", "now"], confirm: false });
  assert.equal(await run("switchover", BASE, {}, no.deps), 1);
  assert.deepEqual(no.err, ["Error: Aborting switchover\n"]);
  assert.deepEqual(no.posts, []);
});

Deno.test("switchover and failover refuse bad names with patronictl's messages (exit 1)", async () => {
  const cases: [("switchover" | "failover"), string[], string][] = [
    ["switchover", ["--leader", "pg2", "--force"], "Error: Member pg2 is not the leader of cluster demo\n"],
    [
      "switchover",
      ["--candidate", "pg3", "--force"],
      "Error: Member pg3 does not exist in cluster demo or is tagged as nofailover\n",
    ],
    [
      "switchover",
      ["--candidate", "pg1", "--force"],
      "Error: Member pg1 is already the leader of cluster demo\n",
    ],
    ["failover", ["--force"], "Error: Failover could be performed only to a specific candidate\n"],
    [
      "switchover",
      ["--scheduled", "soonish", "--force"],
      "Error: Unable to parse scheduled timestamp (soonish). It should be in an unambiguous format (e.g. ISO 8601)\n",
    ],
  ];
  for (const [action, extra, message] of cases) {
    const f = fake();
    assert.equal(await run(action, [...BASE, ...extra], {}, f.deps), 1, extra.join(" "));
    assert.deepEqual(f.err, [message]);
    assert.deepEqual(f.posts, []);
  }
});

Deno.test("switchover falls back to writing the failover key when no REST API answers", async () => {
  const f = fake({ post: "down" });
  assert.equal(await run("switchover", [...BASE, "--candidate", "pg2", "--force"], {}, f.deps), 0);
  assert.match(f.out.join(""), /Could not switchover using Patroni api, falling back to DCS/);
  assert.deepEqual(f.keys, [{ leader: "pg1", member: "pg2" }]);
});

Deno.test("parseScheduled() keeps an explicit offset and reads a bare time as local time", () => {
  assert.equal(
    parseScheduled("2026-11-26T13:00:00+02:00")?.endsWith(
      new Date(Date.parse("2026-11-26T13:00:00+02:00")).getTimezoneOffset() === 0 ? "+00:00" : "",
    ),
    true,
  );
  assert.equal(parseScheduled("tomorrow"), null);
  const local = parseScheduled("2026-11-26 13:00")!;
  assert.equal(Date.parse(local), new Date(2026, 10, 26, 13, 0).getTime());
});
