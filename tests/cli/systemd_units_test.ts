/**
 * The systemd units in scripts/systemd/ pass `systemd-analyze verify` without a single warning about them, and
 * keep the settings the deployment depends on (Postgres outlives an agent restart, SIGHUP reloads, the watchdog
 * device stays reachable, V8 can still JIT). `verify` needs ExecStart's binary to exist, so each unit is checked
 * as a temporary copy whose ExecStart points at a placeholder executable.
 */
import assert from "node:assert/strict";

const SYSTEMD_DIR = new URL("../../scripts/systemd/", import.meta.url).pathname;
const UNITS = ["hactl.service", "hactl@.service"];
const BINARY = "/usr/local/bin/hactl";

/**
 * Runs `systemd-analyze verify` on a copy of `text` named `name`, with ExecStart's binary replaced by a placeholder
 * script; returns the exit code and every line it printed.
 */
async function verify(name: string, text: string): Promise<{ code: number; lines: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "hactl-units-" });
  try {
    const placeholder = `${dir}/hactl`;
    await Deno.writeTextFile(placeholder, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/${name}`, text.replaceAll(`=${BINARY} `, `=${placeholder} `));
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", "--man=no", `${dir}/${name}`],
      stdout: "piped",
      stderr: "piped",
      env: { SYSTEMD_LOG_COLOR: "0", SYSTEMD_PAGER: "" },
    }).output();
    const dec = new TextDecoder();
    const lines = (dec.decode(out.stdout) + dec.decode(out.stderr)).split("\n").filter((l) =>
      l.trim() !== ""
    );
    return { code: out.code, lines };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The complaints about this unit: lines naming it (systemd prefixes them with the unit name or its path). */
function complaintsAbout(name: string, lines: string[]): string[] {
  return lines.filter((l) => l.includes(name) || l.includes("hactl-units-"));
}

/** `Key=value` settings of a unit file (comments and sections dropped; repeated keys kept in order). */
function settings(text: string): [string, string][] {
  return text.split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("["))
    .map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)] as [string, string];
    });
}

for (const name of UNITS) {
  Deno.test(`${name} passes systemd-analyze verify with no warning about it`, async () => {
    const text = await Deno.readTextFile(SYSTEMD_DIR + name);
    const { code, lines } = await verify(name, text);
    assert.deepEqual(complaintsAbout(name, lines), [], lines.join("\n"));
    assert.equal(code, 0, lines.join("\n"));
  });

  Deno.test(`${name} keeps Postgres running across agent restarts and allows the watchdog`, async () => {
    const all = settings(await Deno.readTextFile(SYSTEMD_DIR + name));
    const get = (key: string) => all.filter(([k]) => k === key).map(([, v]) => v);
    assert.deepEqual(get("KillMode"), ["process"]);
    assert.deepEqual(get("User"), ["postgres"]);
    assert.deepEqual(get("Restart"), ["on-failure"]);
    // An invalid configuration exits 78 (EX_CONFIG): never restarted in a loop.
    assert.deepEqual(get("RestartPreventExitStatus"), ["78"]);
    assert.deepEqual(get("Type"), ["notify"]);
    assert.deepEqual(get("RemoveIPC"), ["no"]);
    assert.match(get("ExecReload")[0] ?? "", /kill -HUP \$MAINPID$/);
    const configPath = (get("ExecStart")[0] ?? "").replace(
      "${HACTL_CONFIG}",
      (get("Environment").find((e) => e.startsWith("HACTL_CONFIG=")) ?? "").slice("HACTL_CONFIG=".length),
    );
    assert.match(configPath, new RegExp(`^${BINARY} agent /etc/\\S+\\.yml$`));
    const stopSeconds = /^(\d+)min$/.test(get("TimeoutStopSec")[0] ?? "")
      ? Number(get("TimeoutStopSec")[0]!.replace("min", "")) * 60
      : Number((get("TimeoutStopSec")[0] ?? "0").replace(/s$/, ""));
    assert.ok(stopSeconds >= 60, `TimeoutStopSec too short for a clean demotion: ${get("TimeoutStopSec")}`);
    assert.ok(get("DeviceAllow").includes("/dev/watchdog rw"), "DeviceAllow=/dev/watchdog rw is missing");
    assert.ok(!get("PrivateDevices").includes("yes"), "PrivateDevices=yes would hide /dev/watchdog");
    assert.ok(!get("MemoryDenyWriteExecute").includes("yes"), "V8's JIT needs writable+executable memory");
    assert.deepEqual(get("NoNewPrivileges"), ["yes"]);
  });
}

Deno.test("the verify check is not vacuous: a unit with an unknown key or a missing binary is reported", async () => {
  const text = await Deno.readTextFile(SYSTEMD_DIR + "hactl.service");
  const unknown = await verify("hactl.service", text.replace("[Service]\n", "[Service]\nBogusKey=1\n"));
  assert.ok(
    complaintsAbout("hactl.service", unknown.lines).some((l) => l.includes("BogusKey")),
    unknown.lines.join("\n"),
  );
  const missing = await verify(
    "hactl.service",
    text.replace(`ExecStart=${BINARY}`, "ExecStart=/nonexistent/hactl"),
  );
  assert.notEqual(missing.code, 0);
  assert.ok(complaintsAbout("hactl.service", missing.lines).some((l) => l.includes("/nonexistent/hactl")));
});

Deno.test("the template runs one agent per instance name, in Patroni's layout, with hactl's as an override", async () => {
  const text = await Deno.readTextFile(SYSTEMD_DIR + "hactl@.service");
  const all = settings(text);
  assert.ok(all.some(([k, v]) => k === "ExecStart" && v === `${BINARY} agent \${HACTL_CONFIG}`));
  assert.ok(all.some(([k, v]) => k === "Environment" && v === "HACTL_CONFIG=/etc/patroni/%i.yml"));
  const files = all.filter(([k]) => k === "EnvironmentFile").map(([, v]) => v);
  // Patroni's shared file first, then the instance's own file, which may set HACTL_CONFIG=/etc/hactl/%i.yml.
  assert.deepEqual(files, ["-/etc/patroni/env.conf", "-/etc/hactl/%i.env"]);
});
