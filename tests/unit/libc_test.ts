/**
 * The one libc loader (src/host/libc.ts) that the watchdog device and the systemd notifier share: loaded once, with the
 * symbols of both, and falling back to the next candidate name (musl's `libc.so`) when one cannot be opened.
 */
import assert from "node:assert/strict";
import { loadLibc, openLibc } from "../../src/host/libc.ts";

Deno.test("loadLibc() loads libc once with the watchdog's and sd_notify's symbols", () => {
  const c = loadLibc();
  assert.equal(loadLibc(), c, "loaded once");
  for (const sym of ["open", "close", "write", "ioctl", "access", "socket", "sendto", "__errno_location"]) {
    assert.equal(typeof (c as unknown as Record<string, unknown>)[sym], "function", sym);
  }
});

Deno.test("openLibc() tries the candidates in order and names each failure when none opens", () => {
  const lib = openLibc(["libhactl-missing.so.9", "libc.so.6"]);
  assert.equal(typeof lib.symbols.socket, "function");
  lib.close();
  assert.throws(
    () => openLibc(["libhactl-missing.so.9", "libhactl-missing.so"]),
    /cannot load libc \(run with --allow-ffi\): libhactl-missing\.so\.9: .*; libhactl-missing\.so: /,
  );
});
