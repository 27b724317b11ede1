/**
 * Network namespaces for the chaos suite (needs root): one Linux bridge and N namespaces, each joined to the
 * bridge by a veth pair and given a private address in a random 10.x.y.0/24 that no route on this host uses. The
 * root namespace gets `.1` on the bridge (where the writer and the observers run); member i gets `.(10+i)`.
 *
 * Every name carries this process's pid (`hactl-chaos-<pid>-<member>`, bridge `hcb<pid>`, veth `hcv<pid>n<i>`,
 * data directory `/tmp/hactl-chaos-<pid>-*`), so `removeLeftovers()` removes only what an earlier run that is no
 * longer alive left behind (killing the processes inside its namespaces), never the resources of a run still
 * going. `teardown()` kills every process inside the namespaces (they were all started
 * by this suite) and removes the namespaces and the bridge.
 *
 * Faults are nftables rules inside a member's namespace (table `inet hactl_chaos`), so the host's own firewall is
 * never touched: `cutFrom(addresses)`, `cutAll()`, `cutTcpPort(port)`, `heal()`.
 *
 * @module
 */

/** Run a command; throw with its stderr when it fails. */
export async function sh(cmd: string, args: string[], deadlineMs = 20_000, cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    ...(cwd ? { cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(deadlineMs),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return text;
}

/** One member's namespace. */
export interface NetNode {
  /** Namespace name, e.g. `hactl-chaos-1234-pg1`. */
  ns: string;
  /** The member's address on the bridge. */
  ip: string;
  /** Drop every packet between this namespace and `addresses` (both directions, on its bridge link). */
  cutFrom(addresses: string[]): Promise<void>;
  /** Drop every packet on its bridge link (loopback inside the namespace keeps working). */
  cutAll(): Promise<void>;
  /** Drop outgoing connections to a TCP port on any address, its own included (e.g. etcd's client port). */
  cutTcpPort(port: number): Promise<void>;
  /** Remove every fault rule. */
  heal(): Promise<void>;
  /** Pids of the processes living in this namespace. */
  pids(): Promise<number[]>;
}

/** The bridge and its namespaces. */
export interface NetLab {
  /** The root namespace's address on the bridge (the writer's source address). */
  hostIp: string;
  /** `10.x.y.0/24`. */
  subnet: string;
  nodes: NetNode[];
  /** Kill every process in the namespaces, remove them and the bridge. Idempotent. */
  teardown(): Promise<void>;
}

const PREFIX = "hactl-chaos-";

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Kill the processes inside a namespace: SIGQUIT to postmasters first (they clean up), then SIGKILL to all. */
async function killNamespace(ns: string): Promise<void> {
  const list = async () =>
    (await sh("ip", ["netns", "pids", ns]).catch(() => "")).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of await list()) {
    const comm = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
    if (comm.trim() === "postgres") {
      try {
        Deno.kill(pid, "SIGQUIT");
      } catch { /* gone */ }
    }
  }
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const left = await list();
    if (left.length === 0) return;
    const stillPostgres = [];
    for (const pid of left) {
      if ((await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "")).trim() === "postgres") {
        stillPostgres.push(pid);
      }
    }
    if (stillPostgres.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (let round = 0; round < 20; round++) {
    const left = await list();
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Remove namespaces and links that an earlier run (whose pid is gone) left behind. */
export async function removeLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const names = (await sh("ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
  for (const ns of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    await killNamespace(ns);
    await sh("ip", ["netns", "del", ns]).catch(() => {});
    removed.push(ns);
  }
  // Data directories of clusters whose runner died (scripts/chaos/cluster.ts names them hactl-chaos-<pid>-*).
  for await (const e of Deno.readDir("/tmp")) {
    const m = /^hactl-chaos-(\d+)-/.exec(e.name);
    if (!e.isDirectory || !m || alive(Number(m[1]))) continue;
    await Deno.remove(`/tmp/${e.name}`, { recursive: true }).catch(() => {});
    removed.push(`/tmp/${e.name}`);
  }
  const links = (await sh("ip", ["-o", "link", "show"])).split("\n")
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((n): n is string => !!n);
  for (const link of links) {
    const m = /^hc[bv](\d+)/.exec(link);
    if (!m || alive(Number(m[1]))) continue;
    await sh("ip", ["link", "del", link]).catch(() => {});
    removed.push(link);
  }
  return removed;
}

/** A random 10.x.y.0/24 that no address or route of this host overlaps. */
async function pickSubnet(): Promise<string> {
  const routes = await sh("ip", ["-4", "route", "show", "table", "all"]);
  const addrs = await sh("ip", ["-4", "-o", "addr", "show"]);
  for (let i = 0; i < 200; i++) {
    const x = 200 + Math.floor(Math.random() * 50);
    const y = 1 + Math.floor(Math.random() * 250);
    const net = `10.${x}.${y}.`;
    if (routes.includes(net) || addrs.includes(net) || routes.includes(`10.${x}.0.0/16`)) continue;
    if (/(^|\s)10\.0\.0\.0\/8/.test(routes)) continue;
    return `${net}0/24`;
  }
  throw new Error("no free 10.x.y.0/24 found for the chaos bridge");
}

/** Create the bridge and `count` namespaces named `hactl-chaos-<pid>-<names[i]>`. */
export async function createNetLab(names: string[]): Promise<NetLab> {
  if (Deno.uid() !== 0) throw new Error("the chaos suite needs root (network namespaces)");
  await removeLeftovers();
  const pid = Deno.pid;
  const subnet = await pickSubnet();
  const base = subnet.replace(/0\/24$/, "");
  const bridge = `hcb${pid}`;
  const nodes: NetNode[] = [];
  const created: string[] = [];
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    for (const ns of created) await killNamespace(ns);
    for (const ns of created) await sh("ip", ["netns", "del", ns]).catch(() => {});
    for (let i = 0; i < names.length; i++) await sh("ip", ["link", "del", `hcv${pid}n${i}`]).catch(() => {});
    await sh("ip", ["link", "del", bridge]).catch(() => {});
  };
  try {
    await sh("ip", ["link", "add", bridge, "type", "bridge"]);
    await sh("ip", ["addr", "add", `${base}1/24`, "dev", bridge]);
    await sh("ip", ["link", "set", bridge, "up"]);
    for (const [i, name] of names.entries()) {
      const ns = `${PREFIX}${pid}-${name}`;
      const veth = `hcv${pid}n${i}`;
      const ip = `${base}${11 + i}`;
      await sh("ip", ["netns", "add", ns]);
      created.push(ns);
      await sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      await sh("ip", ["link", "set", veth, "master", bridge, "up"]);
      await sh("ip", ["-n", ns, "addr", "add", `${ip}/24`, "dev", "eth0"]);
      await sh("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      await sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
      nodes.push(netNode(ns, ip));
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  return { hostIp: `${base}1`, subnet, nodes, teardown };
}

function netNode(ns: string, ip: string): NetNode {
  const nft = (script: string) => runNft(ns, script);
  const table = "table inet hactl_chaos";
  const ensure = `add ${table}
add chain inet hactl_chaos in { type filter hook input priority -10; policy accept; }
add chain inet hactl_chaos out { type filter hook output priority -10; policy accept; }
`;
  return {
    ns,
    ip,
    cutFrom: (addresses) => {
      const set = `{ ${addresses.join(", ")} }`;
      return nft(`${ensure}add rule inet hactl_chaos in iifname "eth0" ip saddr ${set} drop
add rule inet hactl_chaos out oifname "eth0" ip daddr ${set} drop
`).then(() => {});
    },
    cutAll: () =>
      nft(`${ensure}add rule inet hactl_chaos in iifname "eth0" drop
add rule inet hactl_chaos out oifname "eth0" drop
`).then(() => {}),
    cutTcpPort: (port) =>
      nft(`${ensure}add rule inet hactl_chaos out tcp dport ${port} drop\n`).then(() => {}),
    heal: () => runNft(ns, `${ensure}delete ${table}\n`).then(() => {}),
    pids: async () =>
      (await sh("ip", ["netns", "pids", ns]).catch(() => "")).split(/\s+/).filter(Boolean).map(Number),
  };
}

async function runNft(ns: string, script: string): Promise<void> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "nft", "-f", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`nft in ${ns} failed: ${new TextDecoder().decode(out.stderr).trim()}\n${script}`);
  }
}
