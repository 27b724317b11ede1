/**
 * The demo: `up` starts a 3-member etcd and three hactl agents on loopback under one folder, waits until the
 * cluster has 1 primary + 2 streaming replicas, and prints `hactl list`; `down` stops everything it started.
 * Processes are started with `setsid` so they keep running after this script exits; their pids are kept in
 * `<dir>/pids`.
 *
 * Usage: deno run -A scripts/demo.ts up|down <dir>
 *
 * @module
 */
import { mainModule, spawnAgent, waitHealthy, writeLayout } from "./lib/local_cluster.ts";

const ETCD_PORT = 2379;
const ETCD_PEER_PORT = 2380;
const ETCD_MEMBERS = 3;

function say(text: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
}

function startEtcd(dir: string): { endpoints: string[]; pids: number[] } {
  const names = Array.from({ length: ETCD_MEMBERS }, (_, i) => `etcd${i + 1}`);
  const peer = (i: number) => `http://127.0.0.1:${ETCD_PEER_PORT + 10 * i}`;
  const client = (i: number) => `http://127.0.0.1:${ETCD_PORT + 10 * i}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(",");
  const pids: number[] = [];
  for (const [i, name] of names.entries()) {
    const child = new Deno.Command("setsid", {
      args: [
        "etcd",
        "--name",
        name,
        "--data-dir",
        `${dir}/${name}.data`,
        "--listen-client-urls",
        client(i),
        "--advertise-client-urls",
        client(i),
        "--listen-peer-urls",
        peer(i),
        "--initial-advertise-peer-urls",
        peer(i),
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        "hactl-demo",
        "--logger",
        "zap",
        "--log-level",
        "warn",
        "--log-outputs",
        `${dir}/${name}.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    pids.push(child.pid);
    child.unref();
  }
  return { endpoints: names.map((_, i) => client(i)), pids };
}

async function up(dir: string): Promise<number> {
  await Deno.mkdir(dir, { recursive: true });
  try {
    await Deno.stat(`${dir}/pids`);
    say(
      `A demo seems to run already in ${dir} (found ${dir}/pids). Stop it first: bash scripts/demo.sh stop`,
    );
    return 1;
  } catch { /* not running */ }
  const etcd = startEtcd(dir);
  const layout = {
    dir,
    scope: "demo",
    members: 3,
    etcdEndpoints: etcd.endpoints,
    basePgPort: 5432,
    baseApiPort: 8008,
    ttl: 30,
    loopWait: 10,
    retryTimeout: 10,
  };
  const members = await writeLayout(layout);
  const pids = [...etcd.pids];
  const t0 = performance.now();
  for (const m of members) {
    const child = await spawnAgent(m, { detached: true });
    pids.push(child.pid);
    child.unref();
  }
  await Deno.writeTextFile(`${dir}/pids`, pids.join("\n") + "\n");
  say(`started etcd (${etcd.endpoints.join(", ")}) and agents ${members.map((m) => m.name).join(", ")}`);
  say("waiting for 1 primary + 2 streaming replicas ...");
  try {
    await waitHealthy(layout, 2, 120_000);
  } catch (err) {
    say(`The cluster did not become healthy: ${(err as Error).message}\nLogs: ${dir}/pg*.log`);
    return 1;
  }
  say(`cluster healthy after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const list = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), "list", "-c", members[0]!.configPath],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  say(`
Try (from the checkout):
  bash scripts/hactl.sh list -c ${members[0]!.configPath}
  curl -s http://127.0.0.1:8008/patroni
  curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:8008/primary
  psql -h 127.0.0.1 -p 5432 -U postgres        (password: see ${members[0]!.configPath})
Logs: ${dir}/pg1.log ${dir}/pg2.log ${dir}/pg3.log
Stop: bash scripts/demo.sh stop`);
  return list.code;
}

async function down(dir: string): Promise<number> {
  let pids: number[] = [];
  try {
    pids = (await Deno.readTextFile(`${dir}/pids`)).split("\n").filter(Boolean).map(Number);
  } catch {
    say(`no demo running in ${dir}`);
  }
  // Agents first (SIGTERM: each stops its Postgres and releases its keys), then etcd.
  for (const pid of pids.slice(ETCD_MEMBERS)) signal(pid, "SIGTERM");
  await waitGone(pids.slice(ETCD_MEMBERS), 40_000);
  for (const pid of pids) signal(pid, "SIGKILL");
  for (const name of ["pg1", "pg2", "pg3"]) {
    await new Deno.Command("pg_ctl", {
      args: ["stop", "-D", `${dir}/${name}/data`, "-m", "immediate"],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
  }
  await Deno.remove(`${dir}/pids`).catch(() => {});
  say(`demo stopped; data kept in ${dir} (remove it to start from scratch)`);
  return 0;
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch { /* gone */ }
}

async function waitGone(pids: number[], deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  const alive = (pid: number) => {
    try {
      return !Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z ");
    } catch {
      return false;
    }
  };
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
}

if (import.meta.main) {
  const [cmd, dir] = Deno.args;
  if (!dir || (cmd !== "up" && cmd !== "down")) {
    say("usage: deno run -A scripts/demo.ts up|down <dir>");
    Deno.exit(2);
  }
  Deno.exit(cmd === "up" ? await up(dir) : await down(dir));
}
