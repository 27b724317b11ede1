/**
 * The watchdog's FFI path checked from outside the process: `LinuxWatchdogDevice` runs in a child Deno under
 * strace, against an ordinary file (so no watchdog is ever armed), and strace — which decodes ioctl requests by
 * name from the kernel's own headers — must see WDIOC_GETSUPPORT, WDIOC_SETTIMEOUT with the int 7,
 * WDIOC_GETTIMEOUT and WDIOC_GETTIMELEFT on the descriptor opened write-only and close-on-exec, then the
 * keepalive '1' and the magic 'V' on it. Skipped when strace is not installed.
 *
 * A second test drives a real softdog device, only where one is loaded in a mode that can never reset the host
 * (soft_noboot=1, nowayout=0); it opens the device, sets and reads back the timeout, pings and magic-closes it.
 */
import assert from "node:assert/strict";
import { LinuxWatchdogDevice } from "../../src/host/watchdog_linux.ts";

function which(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const CHILD = `
import { LinuxWatchdogDevice } from ${
  JSON.stringify(import.meta.resolve("../../src/host/watchdog_linux.ts"))
};
const dev = new LinuxWatchdogDevice(Deno.args[0]);
dev.open();
const tryIt = (f) => { try { f(); } catch (err) { console.error(err.message); } };
tryIt(() => dev.support());
tryIt(() => dev.setTimeout(7));
tryIt(() => dev.getTimeout());
tryIt(() => dev.getTimeLeft());
dev.keepalive();
dev.close();
`;

Deno.test({
  name:
    "watchdog FFI: strace sees the WDIOC requests, the int argument and the '1'/'V' writes on one descriptor",
  ignore: !which("strace"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hactl-wd-ffi-" });
    try {
      const script = `${dir}/child.js`;
      const device = `${dir}/device`;
      const trace = `${dir}/trace`;
      await Deno.writeTextFile(script, CHILD);
      await Deno.writeTextFile(device, "");
      const out = await new Deno.Command("strace", {
        args: [
          "-f",
          "-e",
          "trace=openat,ioctl,write",
          "-o",
          trace,
          Deno.execPath(),
          "run",
          "--allow-ffi",
          "--allow-read",
          "--allow-write",
          script,
          device,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, stderr);
      // The child reports each failing ioctl by name with errno (a regular file answers ENOTTY).
      assert.match(stderr, /ioctl WDIOC_GETSUPPORT failed: Inappropriate ioctl for device \(errno 25\)/);
      const lines = (await Deno.readTextFile(trace)).split("\n");
      const opened = lines.find((l) => l.includes(`openat(AT_FDCWD, "${device}"`));
      assert.ok(opened, `no openat of the device in:\n${lines.join("\n")}`);
      assert.match(opened, /O_WRONLY\|O_CLOEXEC/);
      const fd = /= (\d+)$/.exec(opened)![1];
      const calls = lines.filter((l) => l.includes(`ioctl(${fd}, `) || l.includes(`write(${fd}, `))
        .map((l) => l.replace(/^\d+\s+/, "").replace(/0x[0-9a-f]+/g, "PTR").replace(/\s+/g, " "));
      assert.deepEqual(calls, [
        `ioctl(${fd}, WDIOC_GETSUPPORT, PTR) = -1 ENOTTY (Inappropriate ioctl for device)`,
        `ioctl(${fd}, WDIOC_SETTIMEOUT, [7]) = -1 ENOTTY (Inappropriate ioctl for device)`,
        `ioctl(${fd}, WDIOC_GETTIMEOUT, PTR) = -1 ENOTTY (Inappropriate ioctl for device)`,
        `ioctl(${fd}, WDIOC_GETTIMELEFT, PTR) = -1 ENOTTY (Inappropriate ioctl for device)`,
        `write(${fd}, "1", 1) = 1`,
        `write(${fd}, "V", 1) = 1`,
      ]);
      assert.equal(await Deno.readTextFile(device), "1V");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** `/dev/watchdogN` of a loaded softdog that cannot reset this host, or null. */
function safeSoftdog(): string | null {
  try {
    const param = (p: string) => Deno.readTextFileSync(`/sys/module/softdog/parameters/${p}`).trim();
    // soft_noboot=1: softdog only logs when it fires; nowayout=0: the magic close really stops it.
    if (!["Y", "1"].includes(param("soft_noboot")) || !["N", "0"].includes(param("nowayout"))) return null;
    for (const entry of Deno.readDirSync("/sys/class/watchdog")) {
      const identity = Deno.readTextFileSync(`/sys/class/watchdog/${entry.name}/identity`).trim();
      if (identity === "Software Watchdog") return `/dev/${entry.name}`;
    }
  } catch {
    return null;
  }
  return null;
}

const SOFTDOG = safeSoftdog();

Deno.test({
  name: "watchdog FFI on a real softdog (soft_noboot): set the timeout, read it back, ping, magic close",
  ignore: SOFTDOG === null,
  fn() {
    const dev = new LinuxWatchdogDevice(SOFTDOG!);
    dev.open();
    try {
      const support = dev.support();
      assert.equal(support.identity, "Software Watchdog");
      dev.setTimeout(17);
      assert.equal(dev.getTimeout(), 17);
      dev.keepalive();
    } finally {
      dev.close();
    }
  },
});
