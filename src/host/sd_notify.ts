/**
 * systemd readiness notification (`Type=notify`): sends `READY=1`, `STATUS=...`, `STOPPING=1` datagrams to the
 * unix socket named by `$NOTIFY_SOCKET`, as `sd_notify(3)` does. Without `NOTIFY_SOCKET` (not under systemd, or
 * `Type=simple`) every call is a no-op.
 *
 * Deno has no stable unix datagram socket (`Deno.listenDatagram` with `unixpacket` needs `--unstable-net` and
 * a bound path of its own), so the datagram is sent through libc (`socket`/`sendto`/`close`) over FFI: no
 * unstable flag, no temporary file, and abstract socket names (`@name`) work. The message and address
 * encodings are pure functions (`notifyMessage`, `unixSocketAddress`), tested on their own; the sender is
 * tested against a real socket.
 *
 * libc comes from the shared loader (src/host/libc.ts: glibc, else musl), loaded on the first send. Failures never throw: they are returned for the caller to log once.
 *
 * @module
 */
import { loadLibc } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** `sizeof(struct sockaddr_un)` on Linux: a 2-byte family and 108 bytes of path. */
const SOCKADDR_UN_SIZE = 110;

/** `KEY=value` lines; newlines inside a value (a STATUS sentence) are flattened so they cannot start a new key. */
export function notifyMessage(fields: Record<string, string | number>): string {
  return Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, " ")}`).join("\n");
}

/**
 * `struct sockaddr_un` for `path` and the address length to pass to `sendto`. A leading `@` means the abstract
 * namespace (a NUL byte on the wire, no terminating NUL), as systemd writes it in `NOTIFY_SOCKET`.
 */
export function unixSocketAddress(path: string): { addr: Uint8Array<ArrayBuffer>; length: number } {
  const abstract = path.startsWith("@");
  const name = new TextEncoder().encode(abstract ? path.slice(1) : path);
  const used = 2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1);
  if (path === "" || used > SOCKADDR_UN_SIZE) {
    throw new Error(`NOTIFY_SOCKET: not a usable unix socket path (${name.length} bytes)`);
  }
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, abstract ? 3 : 2);
  return { addr, length: used };
}

/** Sends notifications to systemd. `send` returns null on success, else what went wrong (for one log line). */
export interface SystemdNotifier {
  /** True when `NOTIFY_SOCKET` is set, i.e. systemd is listening. */
  readonly enabled: boolean;
  send(fields: Record<string, string | number>): string | null;
  close(): void;
}

/** The notifier for `env.NOTIFY_SOCKET`; a no-op one when it is unset. libc is loaded on the first send. */
export function systemdNotifier(env: Record<string, string>): SystemdNotifier {
  const socketPath = env["NOTIFY_SOCKET"];
  if (!socketPath) return { enabled: false, send: () => null, close: () => {} };
  return {
    enabled: true,
    send(fields) {
      try {
        const { addr, length } = unixSocketAddress(socketPath);
        const lib = loadLibc();
        const fd = lib.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return "sd_notify: socket() failed";
        try {
          const data = new TextEncoder().encode(notifyMessage(fields));
          const sent = lib.sendto(fd, data, BigInt(data.length), MSG_NOSIGNAL, addr, length);
          return Number(sent) === data.length ? null : `sd_notify: sendto(${socketPath}) failed`;
        } finally {
          lib.close(fd);
        }
      } catch (err) {
        return `sd_notify: ${err instanceof Error ? err.message : String(err)}`;
      }
    },
    close() {
      // libc stays loaded for the process (src/host/libc.ts); there is no socket kept open between sends.
    },
  };
}
