/**
 * `hactl reinit`: what is posted where, Patroni's messages, and `--wait` finishing only once the member's Postgres
 * really restarted (regression: it used to trust a member key that still showed the old "running").
 */
import assert from "node:assert/strict";
import { type ReinitDeps, run } from "../../cli/reinit.ts";
import type { ClusterView, Member } from "../../src/core/types.ts";

function member(name: string): Member {
  return {
    name,
    data: {
      conn_url: `postgres://h/${name}`,
      api_url: `http://${name}:8008/patroni`,
      state: "running",
      role: "replica",
      version: "0",
    },
    modRevision: "1",
    lease: "1",
  };
}

const VIEW: ClusterView = {
  initialize: "7393828465826342947",
  config: null,
  leader: { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" },
  members: [member("pg1"), member("pg2")],
  status: null,
  failover: null,
  sync: null,
  history: [],
  revision: "1",
  problems: [],
};

Deno.test("reinit --force --wait posts /reinitialize and waits for a restarted replica, not a stale state", async () => {
  const out: string[] = [];
  const posts: string[] = [];
  // pg2's /patroni over time: before the request, then still the old process, then cloning, then the new one.
  const answers = [
    { state: "running", role: "replica", postmaster_start_time: "A" },
    { state: "running", role: "replica", postmaster_start_time: "A" },
    { state: "creating replica", role: "uninitialized" },
    { state: "running", role: "replica", postmaster_start_time: "B" },
  ];
  let polls = 0;
  const deps: ReinitDeps = {
    loadCluster: () => Promise.resolve(VIEW),
    post: (url) => {
      posts.push(url);
      return Promise.resolve({ status: 200, text: "reinitialize started" });
    },
    confirm: () => true,
    status: () => Promise.resolve(answers[Math.min(polls++, answers.length - 1)]!),
    sleep: () => Promise.resolve(),
    out: (t) => void out.push(t),
    err: () => {},
  };
  assert.equal(await run(["--dcs-url", "127.0.0.1:2379", "demo", "pg2", "--force", "--wait"], {}, deps), 0);
  assert.deepEqual(posts, ["http://pg2:8008/reinitialize"]);
  const text = out.join("");
  assert.match(text, /Success: reinitialize for member pg2\n/);
  assert.match(text, /Reinitialize is completed on: pg2\n/);
  assert.equal(polls, 4, "done only after the new postmaster answered");
});

Deno.test("reinit prints Patroni's Failed line for a refused member and exits 1 (0 with HACTL_PATRONI_COMPAT=1)", async () => {
  const out: string[] = [];
  const deps: ReinitDeps = {
    loadCluster: () => Promise.resolve(VIEW),
    post: () => Promise.resolve({ status: 503, text: "I am the leader, can not reinitialize" }),
    confirm: () => true,
    status: () => Promise.resolve(null),
    sleep: () => Promise.resolve(),
    out: (t) => void out.push(t),
    err: () => {},
  };
  assert.equal(await run(["--dcs-url", "127.0.0.1:2379", "demo", "pg1", "--force"], {}, deps), 1);
  assert.equal(
    await run(["--dcs-url", "127.0.0.1:2379", "demo", "pg1", "--force"], { HACTL_PATRONI_COMPAT: "1" }, deps),
    0,
  );
  assert.match(
    out.join(""),
    /Failed: reinitialize for member pg1, status code=503, \(I am the leader, can not reinitialize\)/,
  );
});

Deno.test("reinit --wait prints each state change once and exits 1 at its limit, naming the last state", async () => {
  const out: string[] = [];
  let polls = 0;
  const deps: ReinitDeps = {
    loadCluster: () => Promise.resolve(VIEW),
    post: () => Promise.resolve({ status: 200, text: "reinitialize started" }),
    confirm: () => true,
    // Before the request, then cloning for good (a basebackup that never ends).
    status: () =>
      Promise.resolve(
        polls++ === 0
          ? { state: "running", role: "replica", postmaster_start_time: "A" }
          : { state: "creating replica", role: "uninitialized" },
      ),
    sleep: () => Promise.resolve(),
    out: (t) => void out.push(t),
    err: () => {},
  };
  assert.equal(await run(["--dcs-url", "127.0.0.1:2379", "demo", "pg2", "--force", "--wait"], {}, deps), 1);
  const text = out.join("");
  assert.equal(text.match(/pg2: creating replica \(uninitialized\)\n/g)?.length, 1, text);
  assert.match(
    text,
    /Reinitialize did not complete within 600 seconds on: pg2 \(last: creating replica \(uninitialized\)\)\n$/,
  );
  assert.equal(polls, 601, "one look before the request, then one a second up to the limit");
});

Deno.test("reinit --from-leader asks the member to clone from the leader (from_leader in the body)", async () => {
  const bodies: unknown[] = [];
  const deps: ReinitDeps = {
    loadCluster: () => Promise.resolve(VIEW),
    post: (_url, body) => (bodies.push(body), Promise.resolve({ status: 200, text: "reinitialize started" })),
    confirm: () => true,
    status: () => Promise.resolve(null),
    sleep: () => Promise.resolve(),
    out: () => {},
    err: () => {},
  };
  assert.equal(
    await run(["--dcs-url", "127.0.0.1:2379", "demo", "pg2", "--force", "--from-leader"], {}, deps),
    0,
  );
  assert.equal(await run(["--dcs-url", "127.0.0.1:2379", "demo", "pg2", "--force"], {}, deps), 0);
  assert.deepEqual(bodies, [{ force: true, from_leader: true }, { force: true }]);
});
