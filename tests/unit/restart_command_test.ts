/**
 * `hactl restart`, `hactl reload`, `hactl flush`: member selection (-r, names, --pending, --any), what is sent
 * where, the prompts patronictl asks, and its per-member messages (soft failures still exit 0).
 */
import assert from "node:assert/strict";
import { run as restart } from "../../cli/restart.ts";
import { run as reload } from "../../cli/reload.ts";
import { type FlushDeps, run as flush } from "../../cli/flush.ts";
import type { ClusterView } from "../../src/core/types.ts";
import { ctlMember, ctlView } from "../helpers/ctl_cluster.ts";

function view(over: Partial<ClusterView> = {}): ClusterView {
  return ctlView({
    config: { value: { loop_wait: 7 }, modRevision: "2" },
    members: [ctlMember("pg1"), ctlMember("pg2", { pending_restart: true }), ctlMember("pg3")],
    ...over,
  });
}

function world(answer: (method: string, url: string) => { status: number; text: string }, v = view()) {
  const out: string[] = [];
  const requests: string[] = [];
  const questions: string[] = [];
  const deps: FlushDeps = {
    loadCluster: () => Promise.resolve(v),
    request: (method, url, body) => {
      requests.push(`${method} ${url} ${body === undefined ? "" : JSON.stringify(body)}`.trim());
      return Promise.resolve(answer(method, url));
    },
    confirm: (m) => (questions.push(m), true),
    prompt: (m, d) => (questions.push(m), d),
    out: (t) => void out.push(t),
    err: (t) => void out.push(`ERR ${t}`),
    random: () => 0.99,
    clearFailoverKey: () => (requests.push("clear failover key"), Promise.resolve()),
  };
  return { deps, out: () => out.join(""), requests, questions };
}

const DCS = ["--dcs-url", "127.0.0.1:2379"];

Deno.test("restart --force -r replica restarts each replica now with an empty body and reports per member", async () => {
  const w = world((_m, url) =>
    url.includes("10.0.0.3")
      ? { status: 503, text: "restart failed" }
      : { status: 200, text: "restarted successfully" }
  );
  // pg3 refused: exit 1 (patronictl's 0 only with --patroni-compat).
  assert.equal(await restart([...DCS, "demo", "-r", "replica", "--force"], {}, w.deps), 1);
  assert.deepEqual(w.requests, [
    "POST http://10.0.0.2:8008/restart {}",
    "POST http://10.0.0.3:8008/restart {}",
  ]);
  assert.match(w.out(), /Success: restart on member pg2\n/);
  assert.match(w.out(), /Failed: restart for member pg3, status code=503, \(restart failed\)\n/);
  assert.deepEqual(w.questions, [], "--force asks nothing");
});

Deno.test("restart without --force asks when, confirms, asks for a version; --pending keeps pending members", async () => {
  const w = world(() => ({ status: 200, text: "restarted successfully" }));
  assert.equal(await restart([...DCS, "demo", "--pending"], {}, w.deps), 0);
  assert.match(w.questions[0]!, /^When should the restart take place \(e\.g\. \d{4}-\d\d-\d\dT\d\d:00\) $/);
  assert.equal(w.questions[1], "Are you sure you want to restart members pg2?");
  assert.equal(w.questions[2], "Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ");
  assert.deepEqual(w.requests, ['POST http://10.0.0.2:8008/restart {"restart_pending":true}']);
});

Deno.test("restart --scheduled sends the schedule with an offset; --force deletes an existing schedule first", async () => {
  const v = view({ members: [ctlMember("pg1", { scheduled_restart: { schedule: "x" } }), ctlMember("pg2")] });
  const w = world(
    (method) => method === "DELETE" ? { status: 200, text: "" } : { status: 202, text: "Restart scheduled" },
    v,
  );
  assert.equal(
    await restart(
      [
        ...DCS,
        "demo",
        "pg1",
        "--scheduled",
        "2030-01-02T03:04+00:00",
        "--pg-version",
        "16.2",
        "--timeout",
        "90",
        "--force",
      ],
      {},
      w.deps,
    ),
    0,
  );
  assert.equal(w.requests[0], "DELETE http://10.0.0.1:8008/restart");
  const body = JSON.parse(w.requests[1]!.replace(/^POST \S+ /, ""));
  assert.equal(body.postgres_version, "16.2");
  assert.equal(body.timeout, "90");
  assert.equal(Date.parse(body.schedule), Date.parse("2030-01-02T03:04:00Z"));
  assert.match(w.out(), /Success: restart scheduled on member pg1\n/);
});

Deno.test("restart refuses a bad version, a schedule in pause, and unknown members with patronictl's errors", async () => {
  const w = world(() => ({ status: 200, text: "" }));
  assert.equal(await restart([...DCS, "demo", "--pg-version", "15", "--force"], {}, w.deps), 1);
  assert.match(w.out(), /Error: Invalid PostgreSQL version format: X\.Y or X\.Y\.Z is accepted: 15/);
  const paused = world(
    () => ({ status: 200, text: "" }),
    view({ config: { value: { pause: true }, modRevision: "2" } }),
  );
  assert.equal(
    await restart([...DCS, "demo", "--scheduled", "2030-01-01T00:00Z", "--force"], {}, paused.deps),
    1,
  );
  assert.match(paused.out(), /Error: Can't schedule restart in the paused state/);
  const unknown = world(() => ({ status: 200, text: "" }));
  assert.equal(await restart([...DCS, "demo", "pg9", "--force"], {}, unknown.deps), 1);
  assert.match(unknown.out(), /Error: pg9 is not a member of cluster/);
  // A role that is not one of the choices is a usage error (2), as any bad option value.
  assert.equal(await restart([...DCS, "demo", "-r", "boss", "--force"], {}, unknown.deps), 2);
  assert.equal(paused.requests.length + w.requests.length + unknown.requests.length, 0);
});

Deno.test("restart --any restarts exactly one of the selected members", async () => {
  const w = world(() => ({ status: 200, text: "restarted successfully" }));
  assert.equal(await restart([...DCS, "demo", "--any", "--force"], {}, w.deps), 0);
  assert.deepEqual(w.requests, ["POST http://10.0.0.3:8008/restart {}"]);
});

Deno.test("reload posts /reload to the chosen members and prints patronictl's three outcomes", async () => {
  const codes: Record<string, number> = { "10.0.0.1": 202, "10.0.0.2": 200, "10.0.0.3": 401 };
  const w = world((_m, url) => ({ status: codes[new URL(url).hostname]!, text: "no auth header received" }));
  // pg3 refused: exit 1 (patronictl's 0 with --patroni-compat).
  assert.equal(await reload([...DCS, "demo", "--force"], {}, w.deps), 1);
  assert.match(w.out(), /Reload request received for member pg1 and will be processed within 7 seconds\n/);
  assert.match(w.out(), /No changes to apply on member pg2\n/);
  assert.match(w.out(), /Failed: reload for member pg3, status code=401, \(no auth header received\)\n/);
  const leaderOnly = world(() => ({ status: 202, text: "" }));
  assert.equal(await reload([...DCS, "demo", "-r", "leader", "--force"], {}, leaderOnly.deps), 0);
  assert.deepEqual(leaderOnly.requests, ["POST http://10.0.0.1:8008/reload {}"]);
});

Deno.test("flush restart deletes only existing schedules; flush switchover asks the leader first", async () => {
  const v = view({ members: [ctlMember("pg1"), ctlMember("pg2", { scheduled_restart: { schedule: "x" } })] });
  const w = world(() => ({ status: 200, text: "scheduled restart deleted" }), v);
  assert.equal(await flush([...DCS, "demo", "restart", "--force"], {}, w.deps), 0);
  assert.deepEqual(w.requests, ["DELETE http://10.0.0.2:8008/restart"]);
  assert.match(w.out(), /No scheduled restart for member pg1\n/);
  assert.match(w.out(), /Success: flush scheduled restart for member pg2\n/);

  const none = world(() => ({ status: 200, text: "" }));
  assert.equal(await flush([...DCS, "demo", "switchover"], {}, none.deps), 0);
  assert.match(none.out(), /No pending scheduled switchover/);

  const scheduled = view({
    failover: { leader: "pg1", scheduledAt: "2030-01-01T00:00:00+00:00", modRevision: "4" },
  });
  const down = world(() => {
    throw new Error("connection refused");
  }, scheduled);
  assert.equal(await flush([...DCS, "demo", "switchover"], {}, down.deps), 0);
  assert.deepEqual(down.requests.slice(0, 1), ["DELETE http://10.0.0.1:8008/switchover"]);
  assert.equal(down.requests.at(-1), "clear failover key");
  assert.match(down.out(), /Could not find any accessible member of cluster demo/);

  const ok = world(() => ({ status: 200, text: "scheduled switchover deleted" }), scheduled);
  assert.equal(await flush([...DCS, "demo", "switchover"], {}, ok.deps), 0);
  assert.match(ok.out(), /Success: scheduled switchover deleted/);
  assert.equal(await flush([...DCS, "demo", "later"], {}, ok.deps), 1);
});
