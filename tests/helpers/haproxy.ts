/**
 * Test harness: a real HAProxy (Debian's `haproxy` package, 2.6) in front of a local cluster, configured the way
 * Patroni's documentation recommends: one TCP listener that health-checks every member's REST API with
 * `OPTIONS /primary` and `http-check expect status 200`, so only the current primary is UP, and one for the
 * replicas (`OPTIONS /replica`). A third listener serves HAProxy's statistics page, which `serverStates` reads
 * to see what HAProxy thinks of each member.
 *
 * HAProxy runs in the foreground (`-db`) as the current user (no `user`/`chroot`/`daemon`), with its own config on
 * free loopback ports; `stop()` ends it. `haproxyConfig` is the text docs/compatibility.md shows as tested.
 *
 * @module
 */
import { waitFor } from "../../scripts/lib/local_cluster.ts";

export const HAPROXY_BIN = "/usr/sbin/haproxy";

/** A member as HAProxy sees it: its Postgres port and the port of its REST API (both on 127.0.0.1). */
export interface HaproxyBackend {
  name: string;
  pgPort: number;
  apiPort: number;
}

/** Ports of the three listeners. */
export interface HaproxyPorts {
  /** Writes: only the member whose `OPTIONS /primary` answers 200. */
  primary: number;
  /** Reads: every member whose `OPTIONS /replica` answers 200. */
  replicas: number;
  /** HTTP statistics page (`/stats;csv`). */
  stats: number;
}

/**
 * HAProxy's configuration for `members`: checks every 500 ms, DOWN after 2 failed checks, UP after 1 good one,
 * and client sessions to a server that goes DOWN are cut (`on-marked-down shutdown-sessions`), so a client
 * reconnects to the new primary instead of lingering on the old one.
 */
export function haproxyConfig(members: HaproxyBackend[], ports: HaproxyPorts): string {
  const servers = members.map((m) =>
    `    server ${m.name} 127.0.0.1:${m.pgPort} maxconn 100 check port ${m.apiPort}`
  ).join("\n");
  return `global
    maxconn 200

defaults
    mode tcp
    retries 2
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen primary
    bind 127.0.0.1:${ports.primary}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
${servers}

listen replicas
    bind 127.0.0.1:${ports.replicas}
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
${servers}

listen stats
    mode http
    bind 127.0.0.1:${ports.stats}
    stats enable
    stats uri /stats
`;
}

/** A running HAProxy. */
export interface Haproxy extends AsyncDisposable {
  ports: HaproxyPorts;
  configPath: string;
  /** What HAProxy printed (warnings, alerts), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Write the config into `dir`, check it with `haproxy -c`, start HAProxy and wait until its stats page answers. */
export async function startHaproxy(
  dir: string,
  members: HaproxyBackend[],
  ports: HaproxyPorts,
): Promise<Haproxy> {
  const configPath = `${dir}/haproxy.cfg`;
  await Deno.writeTextFile(configPath, haproxyConfig(members, ports));
  const check = await new Deno.Command(HAPROXY_BIN, {
    args: ["-c", "-f", configPath],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const dec = new TextDecoder();
  if (!check.success) {
    throw new Error(
      `haproxy -c rejected ${configPath}: ${dec.decode(check.stdout)}${dec.decode(check.stderr)}`,
    );
  }
  const child = new Deno.Command(HAPROXY_BIN, {
    args: ["-db", "-f", configPath],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) text += dec.decode(chunk);
  };
  const copied = Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
    await copied;
  };
  try {
    await waitFor("HAProxy's stats page", 20_000, async () => {
      const res = await fetch(`http://127.0.0.1:${ports.stats}/stats;csv`);
      await res.body?.cancel();
      return res.ok;
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; haproxy said: ${text}`);
  }
  return { ports, configPath, output: () => text, stop, [Symbol.asyncDispose]: stop };
}

/**
 * HAProxy's view of its servers, from the statistics CSV: listener name -> server name -> status
 * (`UP`, `DOWN`, `UP 1/2`, ...). The FRONTEND/BACKEND summary rows are left out.
 */
export async function serverStates(statsPort: number): Promise<Map<string, Map<string, string>>> {
  const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
  const csv = await res.text();
  if (!res.ok) throw new Error(`stats page answered ${res.status}: ${csv}`);
  const lines = csv.split("\n").filter((l) => l.length > 0);
  const header = lines[0]?.replace(/^# /, "").split(",") ?? [];
  const [px, sv, st] = ["pxname", "svname", "status"].map((c) => header.indexOf(c));
  if (px! < 0 || sv! < 0 || st! < 0) throw new Error(`unexpected stats header: ${lines[0]}`);
  const out = new Map<string, Map<string, string>>();
  for (const line of lines.slice(1)) {
    const f = line.split(",");
    const server = f[sv!]!;
    if (server === "FRONTEND" || server === "BACKEND") continue;
    const proxy = f[px!]!;
    if (!out.has(proxy)) out.set(proxy, new Map());
    out.get(proxy)!.set(server, f[st!]!);
  }
  return out;
}

/** The servers of `listener` whose status is exactly `UP`, sorted. */
export async function upServers(statsPort: number, listener: string): Promise<string[]> {
  const states = (await serverStates(statsPort)).get(listener);
  if (!states) throw new Error(`HAProxy has no listener named ${listener}`);
  return [...states].filter(([, s]) => s === "UP").map(([n]) => n).sort();
}
