/**
 * docs/monitoring/ against the real thing: promtool (Debian's `prometheus` package, installed by scripts/setup.sh;
 * missing, the tests fail) checks the alert rules and runs their unit tests (tests/cli/monitoring/alerts_test.yml),
 * lints a live agent's `/metrics`, and parses every query of the Grafana dashboard; every metric the rules and the
 * dashboard name must be one the live agent exports. The agent runs with etcd unreachable (no Postgres is started):
 * its HA loop still cycles and its REST API serves `/metrics`.
 */
import assert from "node:assert/strict";
import { freePorts } from "../helpers/processes.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const MAIN = `${REPO}main.ts`;
const RULES = `${REPO}docs/monitoring/alerts.yml`;
const DASHBOARD = `${REPO}docs/monitoring/grafana-dashboard.json`;
const dec = new TextDecoder();

/**
 * promtool's lint findings that come from Patroni's own metric names, which hactl keeps for compatibility
 * (Patroni exports these counters without `_total` too). Nothing else may be reported.
 */
const PATRONI_NAME_FINDINGS = [
  'patroni_xlog_location counter metrics should have "_total" suffix',
  'patroni_xlog_received_location counter metrics should have "_total" suffix',
  'patroni_xlog_replayed_location counter metrics should have "_total" suffix',
];

async function promtool(args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new Error(
      "promtool is missing: install Debian's 'prometheus' package (scripts/setup.sh does); these checks must run",
      { cause: err },
    );
  }
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

function agentConfig(dir: string, apiPort: number, etcdPort: number, pgPort: number): string {
  return `scope: batman
name: pg1
restapi:
  listen: 127.0.0.1:${apiPort}
  connect_address: 127.0.0.1:${apiPort}
etcd3:
  host: 127.0.0.1:${etcdPort}
bootstrap:
  dcs: {ttl: 10, loop_wait: 1, retry_timeout: 3}
postgresql:
  listen: 127.0.0.1:${pgPort}
  connect_address: 127.0.0.1:${pgPort}
  data_dir: ${dir}/data
  authentication:
    superuser: {username: postgres, password: pg}
    replication: {username: replicator, password: rep}
`;
}

/** A live agent's `/metrics` once it has run two HA cycles (its etcd calls have failed by then). */
async function liveMetrics(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hactl-metrics-" });
  const [apiPort, etcdPort, pgPort] = await freePorts(3, 1);
  await Deno.writeTextFile(`${dir}/hactl.yml`, agentConfig(dir, apiPort!, etcdPort!, pgPort!));
  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "agent", `${dir}/hactl.yml`],
    stdout: "null",
    stderr: "null",
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1" },
    clearEnv: true,
  }).spawn();
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      assert.ok(Date.now() < deadline, "the agent's /metrics did not show two HA cycles within 90 s");
      const text = await fetch(`http://127.0.0.1:${apiPort}/metrics`).then((r) => r.text()).catch(() => "");
      const cycles = /^hactl_ha_cycle_duration_seconds_count\{[^}]*\} (\d+)$/m.exec(text);
      if (cycles && Number(cycles[1]) >= 2) return text;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    try {
      agent.kill("SIGTERM");
    } catch {
      // It exited already (the assertion above says why it is missing).
    }
    await agent.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Metric families of an exposition text: name -> type, from its `# TYPE` lines. */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** The metric names a PromQL expression uses that the exposition does not export (a histogram's series count). */
function unknownMetrics(expr: string, exported: Map<string, string>): string[] {
  const names = [...expr.matchAll(/\b(?:patroni|hactl)_[a-z0-9_]+\b/g)].map((m) => m[0]);
  return names.filter((n) => {
    if (exported.has(n)) return false;
    const base = n.replace(/_(bucket|sum|count)$/, "");
    return exported.get(base) !== "histogram";
  });
}

/** Every query of the dashboard: panel targets and template variable queries. */
function dashboardQueries(dashboard: Record<string, unknown>): string[] {
  const exprs: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if ((k === "expr" || k === "definition") && typeof x === "string") exprs.push(x);
        else walk(x);
      }
    }
  };
  walk(dashboard);
  return exprs;
}

Deno.test("promtool accepts the alert rules, and each alert fires on its series and not on a healthy cluster", async () => {
  const check = await promtool(["check", "rules", RULES]);
  assert.equal(check.code, 0, check.output);
  assert.match(check.output, /SUCCESS: \d+ rules found/);
  const unit = await promtool(["test", "rules", `${REPO}tests/cli/monitoring/alerts_test.yml`]);
  assert.equal(unit.code, 0, unit.output);
});

Deno.test("a live agent's /metrics passes promtool, and every metric of the rules and the dashboard is exported", async () => {
  const text = await liveMetrics();
  const lint = await promtool(["check", "metrics"], text);
  const findings = lint.output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  assert.deepEqual(findings.filter((f) => !PATRONI_NAME_FINDINGS.includes(f)), [], lint.output);
  assert.ok([0, 3].includes(lint.code), `promtool check metrics exited ${lint.code}: ${lint.output}`);

  const exported = families(text);
  for (
    const name of ["hactl_ha_cycle_duration_seconds", "hactl_dcs_call_duration_seconds", "hactl_build_info"]
  ) {
    assert.ok(exported.has(name), `${name} is not exported`);
  }
  const rules = await Deno.readTextFile(RULES);
  const ruleExprs = [...rules.matchAll(/expr: (?:>-\n((?: {10}.*\n)+)|(.*)\n)/g)].map((m) => (m[1] ?? m[2])!);
  assert.ok(ruleExprs.length >= 10, `found ${ruleExprs.length} rule expressions`);
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD)) as Record<string, unknown>;
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 20, `found ${queries.length} dashboard queries`);
  for (const expr of [...ruleExprs, ...queries]) {
    assert.deepEqual(unknownMetrics(expr, exported), [], `not exported by the agent, in: ${expr}`);
  }
});

Deno.test("every query of the Grafana dashboard is valid PromQL (checked by promtool as recording rules)", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD)) as Record<string, unknown>;
  const exprs = dashboardQueries(dashboard).filter((q) => !q.startsWith("label_values("));
  const dir = await Deno.makeTempDir({ prefix: "hactl-dashboard-" });
  try {
    // Grafana's variables, as Grafana substitutes them for "All".
    const rules = exprs.map((e, i) =>
      `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(e.replaceAll("$scope", ".*"))}\n`
    ).join("");
    await Deno.writeTextFile(`${dir}/dashboard.yml`, `groups:\n  - name: dashboard\n    rules:\n${rules}`);
    const check = await promtool(["check", "rules", `${dir}/dashboard.yml`]);
    assert.equal(check.code, 0, check.output);
    assert.match(check.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
