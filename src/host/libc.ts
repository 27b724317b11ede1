/**
 * The process's one handle on the C library over FFI (`Deno.dlopen`, so the process needs `--allow-ffi`): glibc's
 * `libc.so.6`, else musl's `libc.so`, loaded once on first use with every symbol hactl calls: the watchdog
 * device's `open`/`ioctl`/`write`/`close`/`access` (src/host/watchdog_linux.ts) and the systemd notifier's
 * `socket`/`sendto` (src/host/sd_notify.ts).
 *
 * Imports nothing from the project.
 *
 * @module
 */

const LIBC_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The libc library handle. */
export type LibcLibrary = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;
/** libc's functions as hactl calls them. */
export type Libc = LibcLibrary["symbols"];

/** glibc's soname first, then musl's. */
export const LIBC_NAMES = ["libc.so.6", "libc.so"];

/** Open the first of `names` that loads; throws naming every failure (e.g. no FFI permission). */
export function openLibc(names: readonly string[] = LIBC_NAMES): LibcLibrary {
  const errors: string[] = [];
  for (const name of names) {
    try {
      return Deno.dlopen(name, LIBC_SYMBOLS);
    } catch (err) {
      errors.push(`${name}: ${err instanceof Error ? err.message : err}`);
    }
  }
  throw new Error(`cannot load libc (run with --allow-ffi): ${errors.join("; ")}`);
}

let libc: Libc | null = null;

/** libc, loaded on the first call and kept for the life of the process. Throws as `openLibc` does. */
export function loadLibc(): Libc {
  libc ??= openLibc().symbols;
  return libc;
}
