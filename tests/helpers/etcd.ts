/**
 * Test harness: real `etcd` processes (1 or 3 members) on free loopback ports, data in a temp dir, logs in
 * `<dir>/etcd-<i>.log`. Waits (deadline-bounded polling) until every member answers `/health`. `stop()` kills every
 * process it started and removes the temp dir. Works as a non-root user (e.g. `postgres`).
 *
 * @example
 * ```ts
 * await using etcd = await startEtcd({ members: 3 });
 * // etcd.endpoints: ["http://127.0.0.1:41234", ...]
 * ```
 *
 * @module
 */

/** A running etcd cluster started by `startEtcd`. */
export interface EtcdCluster {
  /** Client URLs, one per member, e.g. `http://127.0.0.1:41234`. */
  endpoints: string[];
  /** The temp dir holding data dirs and logs. */
  dir: string;
  /** SIGKILL member `i` (0-based) and wait until it has exited. Its data stays, so `restart(i)` can bring it back. */
  kill(i: number): Promise<void>;
  /** Start member `i` again (after `kill`) with its existing data and wait until it is healthy. */
  restart(i: number): Promise<void>;
  /** Kill every member and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const ETCD_BIN = "/usr/bin/etcd";

/** A loopback port that was free a moment ago (bind port 0, read it, close). */
function freePort(taken: Set<number>): number {
  for (;;) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    const text = await res.text();
    return res.ok && /"health":\s*"true"/.test(text);
  } catch {
    return false;
  }
}

async function waitHealthy(
  endpoints: string[],
  children: () => (Deno.ChildProcess | null)[],
  deadlineMs: number,
) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const results = await Promise.all(endpoints.map(healthy));
    if (results.every(Boolean)) return;
    const dead = children().findIndex((c) => c === null);
    if (Date.now() > until) {
      throw new Error(
        `etcd did not become healthy within ${deadlineMs} ms (members healthy: ${results}, dead: ${dead})`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Start an etcd cluster of `members` members; throws (after cleaning up) when it is not healthy within 30 s. */
export async function startEtcd(opts: { members: 1 | 3; baseDir?: string }): Promise<EtcdCluster> {
  const dir = await Deno.makeTempDir({
    prefix: "hactl-etcd-",
    ...(opts.baseDir ? { dir: opts.baseDir } : {}),
  });
  const taken = new Set<number>();
  const names = Array.from({ length: opts.members }, (_, i) => `etcd${i}`);
  const clientPorts = names.map(() => freePort(taken));
  const peerPorts = names.map(() => freePort(taken));
  const endpoints = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(",");
  const children: (Deno.ChildProcess | null)[] = names.map(() => null);
  const exited: Promise<unknown>[] = names.map(() => Promise.resolve());

  const spawn = (i: number, state: "new" | "existing") => {
    const args = [
      `--name=${names[i]}`,
      `--data-dir=${dir}/${names[i]}.data`,
      `--listen-client-urls=${endpoints[i]}`,
      `--advertise-client-urls=${endpoints[i]}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPorts[i]}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPorts[i]}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=${dir.split("/").pop()}`,
      "--heartbeat-interval=100",
      "--election-timeout=1000",
      "--logger=zap",
      "--log-level=warn",
      `--log-outputs=${dir}/${names[i]}.log`,
    ];
    const child = new Deno.Command(ETCD_BIN, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
    children[i] = child;
    exited[i] = child.status.then(() => {
      if (children[i] === child) children[i] = null;
    });
  };

  const kill = async (i: number) => {
    const child = children[i];
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await exited[i];
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(names.map((_, i) => kill(i)));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    names.forEach((_, i) => spawn(i, "new"));
    await waitHealthy(endpoints, () => children, 30_000);
  } catch (err) {
    const logs = await Promise.all(names.map((n) => Deno.readTextFile(`${dir}/${n}.log`).catch(() => "")));
    await stop();
    throw new Error(`${(err as Error).message}\n${logs.join("\n").slice(-2000)}`, { cause: err });
  }

  return {
    endpoints,
    dir,
    kill,
    restart: async (i: number) => {
      if (stopped) throw new Error("etcd cluster already stopped");
      await kill(i);
      spawn(i, "existing");
      await waitHealthy([endpoints[i]!], () => [children[i] ?? null], 30_000);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
