/**
 * The Linux watchdog device (`/dev/watchdog`) through Deno FFI: the `_IOC` request encoding of
 * `<asm-generic/ioctl.h>`, the `WDIOC_*` requests and `struct watchdog_info` of `<linux/watchdog.h>`, and a
 * device that opens, configures, pings and magic-closes a watchdog with libc's `open`, `ioctl`, `write` and
 * `close` (libc from the shared loader of src/host/libc.ts, so the process needs `--allow-ffi`).
 *
 * The encoding and the struct layout are pure functions, unit-tested against the kernel's published values; the
 * FFI calls are checked under strace (tests/integration/watchdog_ffi_test.ts), which names each request it sees.
 *
 * Imports only src/host/libc.ts; `watchdog.ts` builds on it.
 *
 * @module
 */
import { type Libc, loadLibc as loadSharedLibc } from "./libc.ts";

/** A watchdog device could not be opened, configured, pinged or closed. */
export class WatchdogError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WatchdogError";
  }
}

/** What `WDIOC_GETSUPPORT` reports: `WDIOF_*` option bits, firmware version, identity. */
export interface WatchdogSupport {
  options: number;
  firmwareVersion: number;
  identity: string;
}

/**
 * One watchdog device (the kernel's, or the testing driver's FIFO). Calls are synchronous and throw
 * `WatchdogError`. After `open()` the device must be kept alive within its timeout or closed.
 */
export interface WatchdogDevice {
  readonly path: string;
  readonly isOpen: boolean;
  /** Human name for logs: identity, firmware, path. */
  describe(): string;
  open(): void;
  support(): WatchdogSupport;
  setTimeout(seconds: number): void;
  getTimeout(): number;
  keepalive(): void;
  /** Write the magic character `V`, then close. */
  close(): void;
}

/** How one architecture lays out an ioctl request number (`_IOC(dir, type, nr, size)`). */
export interface IocLayout {
  sizeBits: number;
  dirBits: number;
  none: number;
  write: number;
  read: number;
}

/** x86, x86-64, arm, arm64, riscv, s390 and most others (`asm-generic/ioctl.h`). */
export const IOC_GENERIC: IocLayout = { sizeBits: 14, dirBits: 2, none: 0, write: 1, read: 2 };
/** mips, powerpc and sparc: 13 size bits, 3 direction bits, `_IOC_READ` 2 and `_IOC_WRITE` 4. */
export const IOC_MIPS_PPC_SPARC: IocLayout = { sizeBits: 13, dirBits: 3, none: 1, write: 4, read: 2 };
/** parisc: the generic widths with read and write swapped. */
export const IOC_PARISC: IocLayout = { sizeBits: 14, dirBits: 2, none: 0, write: 2, read: 1 };

/** The layout for a machine name as `uname -m` (or `Deno.build.arch`) prints it. */
export function iocLayoutFor(machine: string): IocLayout {
  if (/^(mips|sparc|powerpc|ppc)/.test(machine)) return IOC_MIPS_PPC_SPARC;
  if (machine.startsWith("parisc")) return IOC_PARISC;
  return IOC_GENERIC;
}

/**
 * `_IOC(dir, type, nr, size)`: nr in bits 0-7, type in bits 8-15, size from bit 16, direction above it. Computed
 * with arithmetic rather than bit operators, which would turn requests with the top bit set negative.
 */
export function ioc(layout: IocLayout, dir: number, type: string, nr: number, size: number): number {
  const typeCode = type.charCodeAt(0);
  if (type.length !== 1 || typeCode > 0xff) {
    throw new RangeError(`ioctl type must be one byte, found "${type}"`);
  }
  if (nr < 0 || nr > 0xff) throw new RangeError(`ioctl nr must be 0..255, found ${nr}`);
  if (size < 0 || size >= 2 ** layout.sizeBits) throw new RangeError(`ioctl size ${size} does not fit`);
  const dirShift = 16 + layout.sizeBits;
  return dir * 2 ** dirShift + size * 2 ** 16 + typeCode * 2 ** 8 + nr;
}

/** `sizeof(struct watchdog_info)`: u32 options, u32 firmware_version, u8 identity[32]. */
export const WATCHDOG_INFO_SIZE = 40;
/** `sizeof(int)` on every Linux ABI Deno runs on. */
const INT_SIZE = 4;

/** The `WDIOC_*` request numbers for one layout (`<linux/watchdog.h>`; type `'W'`). */
export function watchdogIoctls(layout: IocLayout = IOC_GENERIC) {
  const r = (nr: number, size = INT_SIZE) => ioc(layout, layout.read, "W", nr, size);
  const rw = (nr: number) => ioc(layout, layout.read | layout.write, "W", nr, INT_SIZE);
  return {
    GETSUPPORT: r(0, WATCHDOG_INFO_SIZE),
    GETSTATUS: r(1),
    GETBOOTSTATUS: r(2),
    GETTEMP: r(3),
    // The kernel header declares SETOPTIONS and KEEPALIVE as _IOR, though both pass data in.
    SETOPTIONS: r(4),
    KEEPALIVE: r(5),
    SETTIMEOUT: rw(6),
    GETTIMEOUT: r(7),
    SETPRETIMEOUT: rw(8),
    GETPRETIMEOUT: r(9),
    GETTIMELEFT: r(10),
  } as const;
}

/** `WDIOF_*` option bits reported by `WDIOC_GETSUPPORT`. */
export const WDIOF = {
  OVERHEAT: 0x0001,
  FANFAULT: 0x0002,
  EXTERN1: 0x0004,
  EXTERN2: 0x0008,
  POWERUNDER: 0x0010,
  CARDRESET: 0x0020,
  POWEROVER: 0x0040,
  SETTIMEOUT: 0x0080,
  MAGICCLOSE: 0x0100,
  PRETIMEOUT: 0x0200,
  ALARMONLY: 0x0400,
  KEEPALIVEPING: 0x8000,
} as const;

/** Decode a `struct watchdog_info` as the kernel filled it (native byte order, identity NUL-terminated). */
export function decodeWatchdogInfo(buf: Uint8Array, littleEndian = true): WatchdogSupport {
  if (buf.length < WATCHDOG_INFO_SIZE) {
    throw new RangeError(`struct watchdog_info needs ${WATCHDOG_INFO_SIZE} bytes, got ${buf.length}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, WATCHDOG_INFO_SIZE);
  const identityBytes = buf.subarray(8, 40);
  const end = identityBytes.indexOf(0);
  const identity = new TextDecoder().decode(identityBytes.subarray(0, end < 0 ? 32 : end));
  return {
    options: view.getUint32(0, littleEndian),
    firmwareVersion: view.getUint32(4, littleEndian),
    identity,
  };
}

/** Encode a `struct watchdog_info` (the inverse of `decodeWatchdogInfo`; for tests). */
export function encodeWatchdogInfo(info: WatchdogSupport, littleEndian = true): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(WATCHDOG_INFO_SIZE);
  const view = new DataView(buf.buffer);
  view.setUint32(0, info.options, littleEndian);
  view.setUint32(4, info.firmwareVersion, littleEndian);
  buf.set(new TextEncoder().encode(info.identity).subarray(0, 31), 8);
  return buf;
}

/** An `int` argument for an ioctl, in native byte order. */
export function encodeInt(value: number, littleEndian = true): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(INT_SIZE);
  new DataView(buf.buffer).setInt32(0, value, littleEndian);
  return buf;
}

/** The `int` an ioctl wrote back. */
export function decodeInt(buf: Uint8Array, littleEndian = true): number {
  return new DataView(buf.buffer, buf.byteOffset, INT_SIZE).getInt32(0, littleEndian);
}

/** `open(2)` flags (the generic values; x86-64 and arm64 share them). */
export const O_WRONLY = 0o1;
export const O_CLOEXEC = 0o2000000;
/** `access(2)` mode. */
export const W_OK = 2;

/** libc as this module calls it (the shared loader of src/host/libc.ts). */
export type { Libc };

/** libc (src/host/libc.ts: glibc's `libc.so.6`, else musl's `libc.so`). Throws WatchdogError when it cannot load. */
export function loadLibc(): Libc {
  if (Deno.build.os !== "linux") {
    throw new WatchdogError(`watchdog devices need Linux (this is ${Deno.build.os})`);
  }
  try {
    return loadSharedLibc();
  } catch (err) {
    throw new WatchdogError(`${err instanceof Error ? err.message : err} (needed for the watchdog ioctls)`);
  }
}

/** The C string for a path. */
function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text + "\0");
}

/** `errno` right after a failed call, with its `strerror` text: `Device or resource busy (errno 16)`. */
export function lastError(c: Libc): { errno: number; message: string } {
  const ptr = c.__errno_location();
  const errno = ptr ? new Deno.UnsafePointerView(ptr).getInt32() : 0;
  const text = c.strerror(errno);
  const message = text ? Deno.UnsafePointerView.getCString(text) : "unknown error";
  return { errno, message: `${message} (errno ${errno})` };
}

/**
 * Call `ioctl(fd, request, buf)`; throws WatchdogError naming the request on failure. `buf` is read and/or written
 * by the kernel according to the request's direction bits.
 */
export function ioctl(
  c: Libc,
  fd: number,
  request: number,
  name: string,
  buf: Uint8Array<ArrayBuffer>,
): void {
  if (c.ioctl(fd, BigInt(request), buf) < 0) {
    throw new WatchdogError(`ioctl ${name} failed: ${lastError(c).message}`);
  }
}

/** Whether this process may open `path` for writing (`access(path, W_OK)`); null when yes, else why not. */
export function checkWritable(path: string): string | null {
  const c = loadLibc();
  return c.access(cString(path), W_OK) === 0 ? null : `${path}: ${lastError(c).message}`;
}

/**
 * A Linux watchdog device. Opening it starts the countdown: from then on `keepalive()` must be called within the
 * timeout, or `close()` (which writes the magic character `V` first, so a driver with MAGICCLOSE stops) must be.
 * The descriptor is opened close-on-exec, so Postgres and the callbacks never inherit it.
 */
export class LinuxWatchdogDevice implements WatchdogDevice {
  #fd: number | null = null;
  #support: WatchdogSupport | null = null;
  readonly #ioctls = watchdogIoctls(iocLayoutFor(Deno.build.arch));

  constructor(readonly path: string) {}

  get isOpen(): boolean {
    return this.#fd !== null;
  }

  describe(): string {
    const s = this.#support;
    const what = s?.identity ? s.identity : "Linux watchdog device";
    const firmware = s?.firmwareVersion ? ` (firmware ${s.firmwareVersion})` : "";
    return `${what}${firmware} at ${this.path}`;
  }

  open(): void {
    if (this.#fd !== null) return;
    const c = loadLibc();
    const fd = c.open(cString(this.path), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw new WatchdogError(`cannot open ${this.path}: ${lastError(c).message}`);
    this.#fd = fd;
    this.#support = null;
  }

  support(): WatchdogSupport {
    if (this.#support) return this.#support;
    const buf = new Uint8Array(WATCHDOG_INFO_SIZE);
    ioctl(loadLibc(), this.#requireFd(), this.#ioctls.GETSUPPORT, "WDIOC_GETSUPPORT", buf);
    this.#support = decodeWatchdogInfo(buf);
    return this.#support;
  }

  setTimeout(seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 65534) {
      throw new WatchdogError(`invalid watchdog timeout ${seconds}: must be 1..65534 seconds`);
    }
    ioctl(loadLibc(), this.#requireFd(), this.#ioctls.SETTIMEOUT, "WDIOC_SETTIMEOUT", encodeInt(seconds));
  }

  getTimeout(): number {
    const buf = encodeInt(0);
    ioctl(loadLibc(), this.#requireFd(), this.#ioctls.GETTIMEOUT, "WDIOC_GETTIMEOUT", buf);
    return decodeInt(buf);
  }

  /** Seconds until the device fires (drivers without WDIOC_GETTIMELEFT answer with an error). */
  getTimeLeft(): number {
    const buf = encodeInt(0);
    ioctl(loadLibc(), this.#requireFd(), this.#ioctls.GETTIMELEFT, "WDIOC_GETTIMELEFT", buf);
    return decodeInt(buf);
  }

  keepalive(): void {
    this.#write("1", "keepalive");
  }

  close(): void {
    const fd = this.#fd;
    if (fd === null) return;
    const c = loadLibc();
    let error: string | null = null;
    try {
      this.#write("V", "magic close");
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (c.close(fd) < 0 && error === null) error = `close ${this.path}: ${lastError(c).message}`;
    this.#fd = null;
    if (error) throw new WatchdogError(error);
  }

  #requireFd(): number {
    if (this.#fd === null) throw new WatchdogError(`${this.path} is not open`);
    return this.#fd;
  }

  #write(char: string, what: string): void {
    const c = loadLibc();
    const n = Number(c.write(this.#requireFd(), new TextEncoder().encode(char), 1n));
    if (n !== 1) throw new WatchdogError(`${what} on ${this.path} failed: ${lastError(c).message}`);
  }
}
