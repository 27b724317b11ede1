/**
 * Logging benchmark: how many lines per second the log pipeline renders and writes (logtape record -> level
 * check -> %-format or JSON -> redaction of the configuration's secrets -> sink), for the plain default, JSON
 * with renamed keys and static fields, and `log.dir` with rotation. The agent writes about one line per HA cycle,
 * so this is headroom, not a bottleneck; it shows what the redactor costs.
 *
 * Prints one JSON object per case on stdout: `{"bench":"log","case":...,"lines":N,"lines_per_s":...,"us_per_line":...}`.
 * Usage: deno run -A scripts/bench/log.ts [--lines N]
 *
 * @module
 */
import { getLogger, resetSync } from "@logtape/logtape";
import { setupLogging } from "../../src/log/log.ts";
import type { LogSettings } from "../../src/log/log.ts";

const lines = Number(Deno.args[Deno.args.indexOf("--lines") + 1] || 100_000);
const SECRETS = ["pg-super-secret", "rep-secret", "rewind-secret", "api-secret", "ctl-secret", "etcd-secret"];
const FIELDS = { role: "primary", leader: "pg1", lsn: 50331744, actions: ["renew_leader", "write_status"] };

function run(name: string, settings: LogSettings): void {
  setupLogging(settings);
  const log = getLogger(["hactl", "ha"]);
  for (let i = 0; i < 1000; i++) log.info("no action. I am (pg1), the leader with the lock", FIELDS);
  const started = performance.now();
  for (let i = 0; i < lines; i++) log.info("no action. I am (pg1), the leader with the lock", FIELDS);
  const seconds = (performance.now() - started) / 1000;
  resetSync();
  // deno-lint-ignore no-console -- the benchmark's machine-readable output
  console.log(JSON.stringify({
    bench: "log",
    case: name,
    lines,
    lines_per_s: Math.round(lines / seconds),
    us_per_line: Number((seconds * 1e6 / lines).toFixed(2)),
  }));
}

const dir = await Deno.makeTempDir({ prefix: "hactl-bench-log-" });
try {
  let sink = 0;
  const write = (text: string) => void (sink += text.length);
  run("plain, no secrets", { level: "INFO", type: "plain", write });
  run("plain, 6 secrets", { level: "INFO", type: "plain", secrets: SECRETS, write });
  run("json renamed + static_fields, 6 secrets", {
    level: "INFO",
    type: "json",
    jsonKeys: [{ field: "message", key: "message" }, { field: "levelname", key: "level" }, {
      field: "asctime",
      key: "@timestamp",
    }],
    staticFields: { service: "hactl" },
    dateformat: "%Y-%m-%dT%H:%M:%S%z",
    secrets: SECRETS,
    write,
  });
  run("log.dir file, 1 MB rotation, 6 secrets", {
    level: "INFO",
    type: "plain",
    dir,
    fileSize: 1_000_000,
    fileNum: 4,
    secrets: SECRETS,
  });
} finally {
  await Deno.remove(dir, { recursive: true });
}
