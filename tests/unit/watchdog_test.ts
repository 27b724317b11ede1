/**
 * The watchdog: the ioctl request numbers and struct layouts against the kernel's published values, the libc
 * calls through FFI on ordinary files and pipes (no watchdog device is needed, none is opened), the testing
 * driver's protocol, and the modes of the `Watchdog` manager on a testing device backed by a regular file.
 */
import assert from "node:assert/strict";
import {
  ACTIVATION_RETRY_MS,
  TestingWatchdogDevice,
  Watchdog,
  WatchdogError,
  type WatchdogLog,
  watchdogTimeout,
} from "../../src/host/watchdog.ts";
import {
  decodeInt,
  decodeWatchdogInfo,
  encodeInt,
  encodeWatchdogInfo,
  ioc,
  IOC_GENERIC,
  IOC_MIPS_PPC_SPARC,
  IOC_PARISC,
  iocLayoutFor,
  ioctl,
  LinuxWatchdogDevice,
  loadLibc,
  WATCHDOG_INFO_SIZE,
  watchdogIoctls,
  WDIOF,
} from "../../src/host/watchdog_linux.ts";
import type { WatchdogConfig } from "../../src/config/config.ts";

const hex = (n: number) => "0x" + n.toString(16).toUpperCase();

Deno.test("WDIOC_* request numbers are those of <linux/watchdog.h> on x86-64 and arm64", () => {
  const r = watchdogIoctls(IOC_GENERIC);
  assert.deepEqual(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, hex(v)])), {
    GETSUPPORT: "0x80285700",
    GETSTATUS: "0x80045701",
    GETBOOTSTATUS: "0x80045702",
    GETTEMP: "0x80045703",
    SETOPTIONS: "0x80045704",
    KEEPALIVE: "0x80045705",
    SETTIMEOUT: "0xC0045706",
    GETTIMEOUT: "0x80045707",
    SETPRETIMEOUT: "0xC0045708",
    GETPRETIMEOUT: "0x80045709",
    GETTIMELEFT: "0x8004570A",
  });
  assert.equal(iocLayoutFor("x86_64"), IOC_GENERIC);
  assert.equal(iocLayoutFor("aarch64"), IOC_GENERIC);
});

Deno.test("ioc() follows each architecture's layout: powerpc/mips/sparc and parisc differ", () => {
  const ppc = watchdogIoctls(IOC_MIPS_PPC_SPARC);
  // 13 size bits, direction in the top 3 bits with _IOC_READ = 2, _IOC_WRITE = 4.
  assert.equal(hex(ppc.GETSUPPORT), "0x40285700");
  assert.equal(hex(ppc.SETTIMEOUT), "0xC0045706");
  assert.equal(hex(ppc.GETTIMEOUT), "0x40045707");
  // parisc: generic widths, _IOC_READ = 1 and _IOC_WRITE = 2.
  const parisc = watchdogIoctls(IOC_PARISC);
  assert.equal(hex(parisc.GETSUPPORT), "0x40285700");
  assert.equal(hex(parisc.SETTIMEOUT), "0xC0045706");
  assert.equal(iocLayoutFor("ppc64le"), IOC_MIPS_PPC_SPARC);
  assert.equal(iocLayoutFor("mips64"), IOC_MIPS_PPC_SPARC);
  assert.equal(iocLayoutFor("parisc64"), IOC_PARISC);
  // A well-known request as a cross-check of the encoder: TCGETS on powerpc is 0x402C7413.
  assert.equal(hex(ioc(IOC_MIPS_PPC_SPARC, 2, "t", 19, 44)), "0x402C7413");
  assert.throws(() => ioc(IOC_GENERIC, 2, "WW", 0, 4), /one byte/);
  assert.throws(() => ioc(IOC_GENERIC, 2, "W", 256, 4), /nr must be 0..255/);
  assert.throws(() => ioc(IOC_GENERIC, 2, "W", 0, 1 << 14), /does not fit/);
});

Deno.test("struct watchdog_info is 40 bytes: u32 options, u32 firmware_version, NUL-terminated identity", () => {
  const raw = new Uint8Array(WATCHDOG_INFO_SIZE);
  raw.set([0x80, 0x81, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]);
  raw.set(new TextEncoder().encode("Software Watchdog"), 8);
  const info = decodeWatchdogInfo(raw);
  assert.deepEqual(info, { options: 0x8180, firmwareVersion: 3, identity: "Software Watchdog" });
  assert.ok(info.options & WDIOF.MAGICCLOSE && info.options & WDIOF.SETTIMEOUT);
  assert.deepEqual(encodeWatchdogInfo(info), raw);
  // A 32-byte identity without a terminator is taken whole.
  const full = encodeWatchdogInfo({ options: 0, firmwareVersion: 0, identity: "" });
  full.fill(0x41, 8);
  assert.equal(decodeWatchdogInfo(full).identity, "A".repeat(32));
  assert.throws(() => decodeWatchdogInfo(new Uint8Array(39)), /needs 40 bytes/);
  assert.deepEqual([...encodeInt(7)], [7, 0, 0, 0]);
  assert.equal(decodeInt(Uint8Array.of(0x19, 0, 0, 0)), 25);
});

Deno.test("watchdogTimeout(): ttl - safety_margin, or ttl/2 for a margin of -1", () => {
  assert.equal(watchdogTimeout(30, 5), 25);
  assert.equal(watchdogTimeout(21, 5), 16);
  assert.equal(watchdogTimeout(20, 5), 15);
  assert.equal(watchdogTimeout(30, -1), 15);
  assert.equal(watchdogTimeout(11, -1), 5);
});

Deno.test("ioctl() through FFI: an int comes back from the kernel (FIONREAD on a pipe)", () => {
  const extra = Deno.dlopen("libc.so.6", {
    pipe: { parameters: ["buffer"], result: "i32" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const fds = new Int32Array(2);
    assert.equal(extra.symbols.pipe(new Uint8Array(fds.buffer)), 0);
    const [readFd, writeFd] = [fds[0]!, fds[1]!];
    assert.equal(Number(extra.symbols.write(writeFd, new TextEncoder().encode("Ctimeout=7\n"), 11n)), 11);
    const out = encodeInt(-1);
    ioctl(loadLibc(), readFd, 0x541b, /* FIONREAD */ "FIONREAD", out);
    assert.equal(decodeInt(out), 11);
    extra.symbols.close(readFd);
    extra.symbols.close(writeFd);
  } finally {
    extra.close();
  }
});

Deno.test("LinuxWatchdogDevice on a regular file: the WDIOC calls fail with ENOTTY, '1' and 'V' are written", () => {
  const path = Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  try {
    const dev = new LinuxWatchdogDevice(path);
    dev.open();
    assert.ok(dev.isOpen);
    assert.throws(
      () => dev.support(),
      /ioctl WDIOC_GETSUPPORT failed: Inappropriate ioctl for device \(errno 25\)/,
    );
    assert.throws(() => dev.getTimeout(), /WDIOC_GETTIMEOUT failed: .*errno 25/);
    assert.throws(() => dev.setTimeout(7), /WDIOC_SETTIMEOUT failed/);
    assert.throws(() => dev.setTimeout(0), /invalid watchdog timeout 0/);
    dev.keepalive();
    dev.keepalive();
    dev.close();
    assert.ok(!dev.isOpen);
    assert.equal(Deno.readTextFileSync(path), "11V");
    assert.throws(
      () => new LinuxWatchdogDevice(`${path}.missing/x`).open(),
      /No such file or directory \(errno 2\)/,
    );
  } finally {
    Deno.removeSync(path);
  }
});

/** A Watchdog on a testing device backed by a regular file, with a clock and log the test controls. */
function harness(over: Partial<WatchdogConfig> = {}, path?: string) {
  const file = path ?? Deno.makeTempFileSync({ prefix: "hactl-wd-" });
  const config: WatchdogConfig = {
    mode: "automatic",
    device: file,
    safetyMargin: 5,
    driver: "testing",
    ...over,
  };
  const clock = { now: 0 };
  const lines: string[] = [];
  const log: WatchdogLog = {
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
  let probe: string | null = null;
  const device = new TestingWatchdogDevice(file);
  const wd = new Watchdog({ config, device, probe: () => probe, now: () => clock.now, log });
  return {
    wd,
    clock,
    lines,
    written: () => Deno.readTextFileSync(file),
    setProbe: (p: string | null) => void (probe = p),
    [Symbol.dispose]: () => Deno.removeSync(file.replace(/\/no-such-fifo$/, ""), { recursive: true }),
  };
}

Deno.test("Watchdog: activates on the first keepalive, pings once per call, follows ttl, closes with V", () => {
  using h = harness();
  assert.ok(!h.wd.running);
  assert.equal(h.wd.keepalive(30, 10), true);
  assert.ok(h.wd.running);
  assert.equal(h.wd.timeout, 25);
  assert.equal(h.written(), "Ctimeout=25\n1");
  assert.match(
    h.lines.join("\n"),
    /Watchdog test harness at .* activated with 25 second timeout, timing slack 15/,
  );
  h.wd.keepalive(30, 10);
  assert.equal(h.written(), "Ctimeout=25\n11");
  // A ttl change is applied at the next keepalive, after the ping (in step with the lease renewal).
  h.wd.keepalive(20, 10);
  assert.equal(h.written(), "Ctimeout=25\n111Ctimeout=15\n");
  assert.equal(h.wd.timeout, 15);
  h.wd.disable("paused");
  assert.ok(!h.wd.running);
  assert.equal(h.written(), "Ctimeout=25\n111Ctimeout=15\nV");
  assert.match(h.lines.at(-1)!, /INFO watchdog closed: paused/);
  h.wd.disable("again");
  assert.equal(h.written().endsWith("VV"), false, "closing a closed watchdog writes nothing");
});

Deno.test("Watchdog: safety_margin -1 gives ttl/2; a keepalive after the timeout says the watchdog fired", () => {
  using h = harness({ safetyMargin: -1 });
  h.wd.keepalive(30, 10);
  assert.equal(h.written(), "Ctimeout=15\n1");
  h.clock.now += 14_000;
  h.wd.keepalive(30, 10);
  assert.ok(!h.lines.some((l) => l.startsWith("ERROR")), h.lines.join("\n"));
  h.clock.now += 16_500;
  h.wd.keepalive(30, 10);
  assert.match(
    h.lines.join("\n"),
    /ERROR watchdog keepalive came 16\.5 s after the previous keepalive, past the 15 s/,
  );
});

Deno.test("Watchdog in required mode: unusable without the device, and after a failed activation for a while", () => {
  const missing = `${Deno.makeTempDirSync()}/no-such-fifo`;
  using h = harness({ mode: "required" }, missing);
  h.setProbe(`${missing}: No such file or directory`);
  assert.equal(h.wd.unusable(30, 10), `${missing}: No such file or directory`);
  // The probe said yes (say the device appeared) but opening it fails: no leadership, reported for a while.
  h.setProbe(null);
  assert.equal(h.wd.unusable(30, 10), null);
  assert.equal(h.wd.keepalive(30, 10), false);
  assert.match(h.wd.unusable(30, 10) ?? "", /^could not activate the watchdog: cannot open .*no-such-fifo/);
  assert.match(h.lines.join("\n"), /ERROR could not activate the watchdog: .* the watchdog is required/);
  assert.equal(h.wd.keepalive(30, 10), false, "no new attempt before the retry interval");
  h.clock.now += ACTIVATION_RETRY_MS + 1;
  assert.equal(h.wd.unusable(30, 10), null, "after the retry interval the probe decides again");
  // A timeout that leaves no slack over loop_wait is never usable.
  assert.match(h.wd.unusable(12, 10) ?? "", /watchdog timeout 7 s .* is shorter than loop_wait 10 s/);
});

Deno.test("Watchdog in automatic mode carries on without a device; off does nothing", () => {
  const missing = `${Deno.makeTempDirSync()}/no-such-fifo`;
  using auto = harness({ mode: "automatic" }, missing);
  assert.equal(auto.wd.unusable(30, 10), null);
  assert.equal(auto.wd.keepalive(30, 10), true);
  assert.ok(!auto.wd.running);
  assert.match(
    auto.lines.join("\n"),
    /WARN could not activate the watchdog: .*; continuing without a watchdog/,
  );
  auto.wd.keepalive(30, 10);
  auto.clock.now += ACTIVATION_RETRY_MS + 1;
  assert.equal(auto.wd.keepalive(30, 10), true, "retried after the interval, failing the same way");
  assert.equal(auto.lines.filter((l) => l.startsWith("WARN")).length, 1, "one warning, not one per attempt");

  using off = harness({ mode: "off" });
  assert.equal(off.wd.keepalive(30, 10), true);
  assert.equal(off.wd.unusable(30, 10), null);
  assert.equal(off.written(), "");
});

Deno.test("Watchdog: a device timeout longer than asked is refused in required mode, a warning in automatic", () => {
  // A device that ignores SETTIMEOUT and keeps its own 60 s.
  class Stubborn extends TestingWatchdogDevice {
    override setTimeout(): void {}
  }
  for (const mode of ["required", "automatic"] as const) {
    const file = Deno.makeTempFileSync();
    const lines: string[] = [];
    const wd = new Watchdog({
      config: { mode, device: file, safetyMargin: 5, driver: "testing" },
      device: new Stubborn(file),
      probe: () => null,
      now: () => 0,
      log: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    });
    const ok = wd.keepalive(30, 10);
    if (mode === "required") {
      assert.equal(ok, false);
      assert.ok(!wd.running);
      assert.equal(Deno.readTextFileSync(file), "V", "the half-configured device was closed");
      assert.match(lines.join("\n"), /timeout is 60 s, more than the 25 s/);
    } else {
      assert.equal(ok, true);
      assert.ok(wd.running);
      assert.match(lines.join("\n"), /does not ensure a safe termination/);
      wd.disable("test");
    }
    Deno.removeSync(file);
  }
});

Deno.test("Watchdog: a ttl decrease that leaves the timeout no slack over loop_wait is not applied; required mode gives the key up", () => {
  for (const mode of ["required", "automatic"] as const) {
    using h = harness({ mode });
    assert.equal(h.wd.keepalive(30, 1), true);
    // ttl 5 would give a 0 s timeout, under loop_wait 1: not applied, said once, the device keeps its 25 s, which
    // fires 20 s after the 5 s lease has expired: it no longer guards the key.
    const ok = h.wd.keepalive(5, 1);
    assert.equal(h.wd.timeout, 25);
    assert.equal(h.lines.filter((l) => /could not change the watchdog timeout to 0 s/.test(l)).length, 1);
    assert.equal(h.written(), "Ctimeout=25\n11");
    if (mode === "required") {
      assert.equal(ok, false, "the renewal's keepalive reports it");
      assert.match(h.wd.unusable(5, 1) ?? "", /could not be lowered to 0 s .*25 s/);
    } else {
      assert.equal(ok, true);
      assert.equal(h.wd.unusable(5, 1), null);
    }
    // Closed, it could not be activated again with that ttl.
    h.wd.disable("paused");
    if (mode === "required") {
      assert.match(h.wd.unusable(5, 1) ?? "", /shorter than loop_wait|could not be lowered/);
    }
  }
});

Deno.test("Watchdog in required mode: a timeout that cannot be lowered with ttl makes it unusable", () => {
  // A device that takes its first timeout but refuses any change afterwards.
  class Frozen extends TestingWatchdogDevice {
    #set = false;
    override setTimeout(seconds: number): void {
      if (this.#set) throw new WatchdogError("WDIOC_SETTIMEOUT failed: Invalid argument (errno 22)");
      this.#set = true;
      super.setTimeout(seconds);
    }
  }
  for (const mode of ["required", "automatic"] as const) {
    const file = Deno.makeTempFileSync();
    const lines: string[] = [];
    const clock = { now: 0 };
    const wd = new Watchdog({
      config: { mode, device: file, safetyMargin: 5, driver: "testing" },
      device: new Frozen(file),
      probe: () => null,
      now: () => clock.now,
      log: { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    });
    assert.equal(wd.keepalive(30, 5), true);
    // ttl 30 -> 20: the device keeps firing 25 s after a ping, past the 20 s lease.
    const ok = wd.keepalive(20, 5);
    assert.equal(wd.timeout, 25);
    assert.match(lines.join("\n"), /could not change the watchdog timeout to 15 s/);
    if (mode === "required") {
      assert.equal(ok, false, "the renewal's keepalive reports it");
      assert.match(wd.unusable(20, 5) ?? "", /could not be lowered to 15 s .*25 s/);
    } else {
      assert.equal(ok, true);
      assert.equal(wd.unusable(20, 5), null);
    }
    // A raise that fails leaves a shorter timeout: it fires early, never late, so it stays usable.
    wd.disable("test");
    Deno.removeSync(file);
  }
});

Deno.test("Watchdog.pingTimeout(): the longer of the running and the wanted timeout; null when off", () => {
  using h = harness();
  assert.equal(h.wd.pingTimeout(30), 25, "closed: the timeout it would activate with");
  h.wd.keepalive(30, 10);
  assert.equal(h.wd.pingTimeout(20), 25, "running with 25 s: a ping counts 25 s before the change to 15 s");
  h.wd.keepalive(20, 10);
  assert.equal(h.wd.pingTimeout(20), 15);
  using off = harness({ mode: "off" });
  assert.equal(off.wd.pingTimeout(30), null);
});
