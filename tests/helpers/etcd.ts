/**
 * Test harness: real `etcd` processes (1 or 3 members) on free loopback ports, data in a temp dir, logs in
 * `<dir>/etcd-<i>.log`. Waits (deadline-bounded polling) until every member answers `/health`. `stop()` kills every
 * process it started and removes the temp dir. Works as a non-root user (e.g. `postgres`).
 *
 * With `tls`, the harness first makes a throwaway CA, a server certificate for `127.0.0.1`/`localhost` and a client
 * certificate with `openssl` in the temp dir (see `makeTestPki`); the client URLs become `https://` and, with
 * `clientCertAuth`, etcd refuses clients without a certificate signed by that CA (without it, etcd gets no
 * trusted CA file and accepts any client). Peer traffic stays plain HTTP.
 *
 * @example
 * ```ts
 * await using etcd = await startEtcd({ members: 3 });
 * // etcd.endpoints: ["http://127.0.0.1:41234", ...]
 * await using secure = await startEtcd({ members: 1, tls: { clientCertAuth: true } });
 * // secure.endpoints: ["https://127.0.0.1:41240"]; secure.tls: { ca, cert, key } (file paths)
 * ```
 *
 * @module
 */
import { freePort as anyFreePort } from "./processes.ts";

/** A running etcd cluster started by `startEtcd`. */
export interface EtcdCluster {
  /** Client URLs, one per member, e.g. `http://127.0.0.1:41234`. */
  endpoints: string[];
  /** The temp dir holding data dirs and logs. */
  dir: string;
  /** With `tls`: PEM file paths of the CA and of a client certificate/key signed by it; otherwise null. */
  tls: TlsFiles | null;
  /** SIGKILL member `i` (0-based) and wait until it has exited. Its data stays, so `restart(i)` can bring it back. */
  kill(i: number): Promise<void>;
  /** Start member `i` again (after `kill`) with its existing data and wait until it is healthy. */
  restart(i: number): Promise<void>;
  /** Kill every member and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** PEM file paths: the CA certificate, and a certificate with its private key. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** A CA, a server certificate for the loopback address and a client certificate, all signed by that CA. */
export interface TestPki {
  /** `ca`: the CA certificate; `cert`/`key`: the client's. */
  client: TlsFiles;
  /** `ca`: the CA certificate; `cert`/`key`: the server's (SAN IP:127.0.0.1, DNS:localhost). */
  server: TlsFiles;
}

/** Options of `startEtcd`. */
export interface StartEtcdOptions {
  members: 1 | 3;
  baseDir?: string;
  /** Serve clients over TLS; `clientCertAuth` additionally requires a client certificate signed by the CA. */
  tls?: boolean | { clientCertAuth: boolean };
}

const ETCD_BIN = "/usr/bin/etcd";
const OPENSSL_BIN = "/usr/bin/openssl";

/** Run openssl with a deadline; throws with its stderr on failure. */
async function openssl(args: string[], deadlineMs = 20_000): Promise<void> {
  const out = await new Deno.Command(OPENSSL_BIN, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // No config file lookups or random-seed files outside `dir`, whoever runs the tests.
    env: { OPENSSL_CONF: "/dev/null", RANDFILE: "/dev/null" },
    signal: AbortSignal.timeout(deadlineMs),
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]} failed (${out.code}): ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/**
 * Make a throwaway PKI in `dir` with openssl (P-256 keys, valid one day, no network): `<name>-ca.pem`, a server
 * certificate for `127.0.0.1`/`localhost` and a client certificate, both signed by that CA. Every call makes a new
 * CA, so a second call with another `name` gives a CA that does not trust the first one's certificates.
 */
export async function makeTestPki(dir: string, name = "test"): Promise<TestPki> {
  const path = (what: string) => `${dir}/${name}-${what}`;
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...key,
    "-keyout",
    path("ca-key.pem"),
    "-out",
    path("ca.pem"),
    "-days",
    "1",
    "-subj",
    `/CN=hactl ${name} test CA`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-addext",
    "subjectKeyIdentifier=hash",
  ]);
  const issue = async (who: string, cn: string, extensions: string[]) => {
    await Deno.writeTextFile(path(`${who}.ext`), extensions.join("\n") + "\n");
    await openssl([
      "req",
      "-new",
      ...key,
      "-keyout",
      path(`${who}-key.pem`),
      "-out",
      path(`${who}.csr`),
      "-subj",
      `/CN=${cn}`,
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      path(`${who}.csr`),
      "-CA",
      path("ca.pem"),
      "-CAkey",
      path("ca-key.pem"),
      "-set_serial",
      `0x${
        crypto.getRandomValues(new Uint8Array(8)).reduce((h, x) => h + x.toString(16).padStart(2, "0"), "")
      }`,
      "-days",
      "1",
      "-extfile",
      path(`${who}.ext`),
      "-out",
      path(`${who}.pem`),
    ]);
  };
  const common = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature"];
  await issue("server", "127.0.0.1", [
    ...common,
    "extendedKeyUsage=serverAuth",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  await issue("client", `hactl-${name}-client`, [...common, "extendedKeyUsage=clientAuth"]);
  return {
    client: { ca: path("ca.pem"), cert: path("client.pem"), key: path("client-key.pem") },
    server: { ca: path("ca.pem"), cert: path("server.pem"), key: path("server-key.pem") },
  };
}

/** A loopback port that was free a moment ago, below the ephemeral range, not handed out before in this run. */
function freePort(taken: Set<number>): number {
  for (;;) {
    const port = anyFreePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

async function healthy(endpoint: string, client: Deno.HttpClient | undefined): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, {
      signal: AbortSignal.timeout(1000),
      ...(client ? { client } : {}),
    });
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
  client: Deno.HttpClient | undefined,
) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const results = await Promise.all(endpoints.map((e) => healthy(e, client)));
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

/**
 * Start an etcd cluster of `members` members (over TLS with `tls`); throws (after cleaning up) when it is not
 * healthy within 30 s.
 */
export async function startEtcd(opts: StartEtcdOptions): Promise<EtcdCluster> {
  const dir = await Deno.makeTempDir({
    prefix: "hactl-etcd-",
    ...(opts.baseDir ? { dir: opts.baseDir } : {}),
  });
  let pki: TestPki | null = null;
  let healthClient: Deno.HttpClient | undefined;
  const clientCertAuth = typeof opts.tls === "object" && opts.tls.clientCertAuth;
  if (opts.tls) {
    try {
      pki = await makeTestPki(dir);
      const [ca, cert, key] = await Promise.all(
        [pki.client.ca, pki.client.cert, pki.client.key].map((f) => Deno.readTextFile(f)),
      );
      healthClient = Deno.createHttpClient({ caCerts: [ca!], cert: cert!, key: key! });
    } catch (err) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw err;
    }
  }
  const tlsArgs = pki
    ? [
      `--cert-file=${pki.server.cert}`,
      `--key-file=${pki.server.key}`,
      // etcd 3.4 requires a client certificate whenever it is given a trusted CA file, so only then.
      ...(clientCertAuth ? ["--client-cert-auth", `--trusted-ca-file=${pki.server.ca}`] : []),
    ]
    : [];
  const scheme = pki ? "https" : "http";
  const taken = new Set<number>();
  const names = Array.from({ length: opts.members }, (_, i) => `etcd${i}`);
  const clientPorts = names.map(() => freePort(taken));
  const peerPorts = names.map(() => freePort(taken));
  const endpoints = clientPorts.map((p) => `${scheme}://127.0.0.1:${p}`);
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
      ...tlsArgs,
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
    healthClient?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    names.forEach((_, i) => spawn(i, "new"));
    await waitHealthy(endpoints, () => children, 30_000, healthClient);
  } catch (err) {
    const logs = await Promise.all(names.map((n) => Deno.readTextFile(`${dir}/${n}.log`).catch(() => "")));
    await stop();
    throw new Error(`${(err as Error).message}\n${logs.join("\n").slice(-2000)}`, { cause: err });
  }

  return {
    endpoints,
    dir,
    tls: pki ? { ...pki.client } : null,
    kill,
    restart: async (i: number) => {
      if (stopped) throw new Error("etcd cluster already stopped");
      await kill(i);
      spawn(i, "existing");
      await waitHealthy([endpoints[i]!], () => [children[i] ?? null], 30_000, healthClient);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
