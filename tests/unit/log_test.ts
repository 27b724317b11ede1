/**
 * Logging as Patroni's operators expect it: `log.format` (Python %-style) and `log.dateformat`, `log.type: json`
 * with renamed keys and `static_fields`, per-logger levels, `traceback_level`, heartbeat deduplication, the
 * `log` section's validation, `<log.dir>/patroni.log` rotation, and secrets from the configuration never
 * reaching a line, plain or JSON.
 */
import assert from "node:assert/strict";
import { getLogger, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";
import { ConfigError, parseConfig, parseConfigWithWarnings } from "../../src/config/config.ts";
import {
  agentLog,
  configSecrets,
  createRenderer,
  type LogSettings,
  redactLikeLog,
  setupLogging,
} from "../../src/log/log.ts";
import { LOG_FILE_NAME, RotatingLogFile } from "../../src/log/file.ts";
import {
  formatAsctime,
  LogFormatError,
  parseFormat,
  recordValues,
  renderFormat,
} from "../../src/log/format.ts";

/** 2026-11-26 12:00:00.123 UTC. */
const T = Date.UTC(2026, 10, 26, 12, 0, 0, 123);
const CTX = { pid: 4242, startedAt: T - 5000, utcOffsetMinutes: () => 0 };

function record(
  message: string,
  opts: { level?: LogLevel; category?: string[]; fields?: Record<string, unknown> } = {},
): LogRecord {
  return {
    category: opts.category ?? ["hactl", "ha"],
    level: opts.level ?? "info",
    message: [message],
    rawMessage: message,
    timestamp: T,
    properties: opts.fields ?? {},
  };
}

function render(settings: Partial<LogSettings>, ...records: LogRecord[]): string {
  const r = createRenderer({ level: "INFO", type: "plain", ...settings }, CTX);
  return records.map((rec) => r(rec) ?? "").join("");
}

const MINIMAL = `scope: batman
name: pg1
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd3: {host: 127.0.0.1:2379}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/x
  authentication:
    superuser: {username: postgres, password: pg-super-secret}
    replication: {username: replicator, password: rep-secret}
`;

function logSection(yaml: string): ReturnType<typeof parseConfig>["log"] {
  return parseConfig(`${MINIMAL}log:\n${yaml.replace(/^/gm, "  ")}\n`, "hactl.yml", {}).log;
}

function warningsOf(yaml: string): { log: ReturnType<typeof logSection>; warnings: string[] } {
  const { config, warnings } = parseConfigWithWarnings(
    `${MINIMAL}log:\n${yaml.replace(/^/gm, "  ")}\n`,
    "hactl.yml",
    {},
  );
  return { log: config.log, warnings };
}

function problemsOf(yaml: string): string[] {
  try {
    logSection(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

Deno.test("the default line is Patroni's: asctime with milliseconds, levelname, message", () => {
  assert.equal(
    render({}, record("no action. I am (pg1), the leader with the lock")),
    "2026-11-26 12:00:00,123 INFO: no action. I am (pg1), the leader with the lock\n",
  );
});

Deno.test("log.format supports Python's fields, flags, width and precision", () => {
  const format = "%(levelname)-8s|%(name)s|%(module)s|%(process)d|%(levelno)03d|%(message).5s|%(msecs)d|%%";
  assert.equal(render({ format }, record("hello world")), "INFO    |hactl.ha|ha|4242|020|hello|123|%\n");
  assert.equal(render({ format: "%(levelname)8s %(message)r" }, record("it's")), '    INFO "it\'s"\n');
  assert.equal(render({ format: "%(relativeCreated)d %(threadName)s" }, record("x")), "5000 MainThread\n");
});

Deno.test("a format the renderer cannot use is rejected by the parser with the reason", () => {
  assert.throws(() => parseFormat("%(lineno)d %(message)s"), /%\(lineno\) is not available in hactl/);
  assert.throws(() => parseFormat("%(bogus)s"), /unknown field %\(bogus\)/);
  assert.throws(() => parseFormat("100% %(message)s"), LogFormatError);
  assert.throws(() => parseFormat("%s"), /a '%' that is not/);
});

Deno.test("log.format is cosmetic: Python-only fields get their nearest equivalent or '-', with a warning", () => {
  const { log, warnings } = warningsOf(
    "format: '%(asctime)s %(filename)s:%(lineno)d %(msg)s 100% %(bogus)s'",
  );
  assert.equal(log.format, "%(asctime)s %(module)s:- %(message)s 100%% -");
  assert.deepEqual(warnings, [
    "log.format: %(filename)s shown as %(module)s, %(lineno)d shown as '-', %(msg)s shown as %(message)s, " +
    "a stray '%' shown as '%', %(bogus)s shown as '-' (hactl has no Python source locations or arguments)",
  ]);
  assert.equal(render({ format: log.format }, record("hi")), "2026-11-26 12:00:00,123 ha:- hi 100% -\n");
  const json = warningsOf("type: json\nformat: [message, {funcName: fn}, {pathname: where}]");
  assert.deepEqual(json.log.jsonKeys, [{ field: "message", key: "message" }, {
    field: "module",
    key: "where",
  }]);
  assert.deepEqual(json.warnings, [
    "log.format.1.funcName: field funcName left out (hactl cannot fill it)",
    "log.format.2.pathname: field pathname filled with module",
  ]);
});

Deno.test("log.dateformat is strftime in local time; without it asctime has milliseconds", () => {
  assert.equal(formatAsctime(T, 60, "%Y-%m-%dT%H:%M:%S%z"), "2026-11-26T13:00:00+0100");
  assert.equal(formatAsctime(T, -330, "%d/%b/%Y %I:%M %p %j %Z"), "26/Nov/2026 06:30 AM 330 -0530");
  assert.equal(formatAsctime(T, 0), "2026-11-26 12:00:00,123");
  const values = recordValues(
    { timestamp: T, level: "WARNING", name: "hactl.ha", message: "m", fields: {} },
    {
      ...CTX,
      dateformat: "%H:%M:%S",
    },
  );
  assert.equal(renderFormat(parseFormat("%(asctime)s %(levelname)s"), values), "12:00:00 WARNING");
});

Deno.test("log.type json: the format's fields as keys, renamed, then static fields, then the line's fields", () => {
  const defaultJson = render({ type: "json" }, record("no action", { fields: { role: "primary" } }));
  assert.deepEqual(JSON.parse(defaultJson), {
    asctime: "2026-11-26 12:00:00,123",
    levelname: "INFO",
    message: "no action",
    role: "primary",
  });
  const log = logSection(`type: json
format:
  - message
  - {asctime: '@timestamp'}
  - {levelname: level}
static_fields: {app: hactl, levelname: not-overridden}
dateformat: '%Y-%m-%dT%H:%M:%S'`);
  const line = render(log, record("hello", { fields: { app: "field loses", leader: "pg1" } }));
  assert.equal(
    line,
    '{"message":"hello","@timestamp":"2026-11-26T12:00:00","level":"INFO","app":"hactl",' +
      '"levelname":"not-overridden","leader":"pg1"}\n',
  );
  // A string format names the keys, as python-json-logger reads it.
  assert.deepEqual(
    Object.keys(
      JSON.parse(render({ ...logSection("type: json\nformat: '%(name)s %(message)s'") }, record("m"))),
    ),
    [
      "name",
      "message",
    ],
  );
  // PATRONI_LOG_FORMAT without %(...) is a list.
  const env = parseConfig(MINIMAL, "f", {
    PATRONI_LOG_TYPE: "json",
    PATRONI_LOG_FORMAT: "[message, {levelname: lvl}]",
  });
  assert.deepEqual(env.log.jsonKeys, [{ field: "message", key: "message" }, {
    field: "levelname",
    key: "lvl",
  }]);
});

Deno.test("the log section is validated key by key", () => {
  assert.deepEqual(problemsOf("type: plain\nformat: [message]"), [
    "hactl.yml: log.format: must be a string when log.type is plain, found a list",
  ]);
  assert.deepEqual(problemsOf("type: json\nformat: [message, {funcName: fn}, 3]"), [
    "hactl.yml: log.format.2: must be a field name or a {field: key} mapping, found a number",
  ]);
  const bad =
    "traceback_level: LOUD\nfile_num: -1\nmode: 01000\nloggers: {patroni.ha: CHATTY}\nstatic_fields: [a]";
  assert.deepEqual(
    problemsOf(bad).sort(),
    [
      'hactl.yml: log.traceback_level: must be one of ERROR, DEBUG, found "LOUD"',
      'hactl.yml: log.loggers.patroni.ha: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, found "CHATTY"',
      "hactl.yml: log.static_fields: must be a mapping, found a list",
      "hactl.yml: log.file_num: must be >= 0 (found -1)",
      "hactl.yml: log.mode: must be a file mode between 0 and 0777, found 01000",
    ].sort(),
  );
  const ok = logSection(
    "level: warn\ndir: /var/log/hactl\nmode: 0640\nfile_size: 10485760\nfile_num: 2\nloggers: {patroni.postgres: debug}",
  );
  assert.equal(ok.level, "WARNING");
  assert.equal(ok.mode, 0o640);
  assert.equal(ok.fileSize, 10 * 1024 * 1024);
  assert.deepEqual(ok.loggers, { "hactl.postgres": "DEBUG" });
});

Deno.test("log.loggers sets levels per logger, both ways, by the longest matching name", () => {
  const settings = { loggers: { "hactl.postgres": "DEBUG" as const, "hactl.dcs": "ERROR" as const } };
  const out = render(
    settings,
    record("pg detail", { level: "debug", category: ["hactl", "postgres"] }),
    record("pg sub detail", { level: "debug", category: ["hactl", "postgres", "rewind"] }),
    record("ha detail", { level: "debug" }),
    record("dcs warning", { level: "warning", category: ["hactl", "dcs"] }),
    record("dcs error", { level: "error", category: ["hactl", "dcs"] }),
  );
  assert.deepEqual(out.trim().split("\n").map((l) => l.slice(24)), [
    "DEBUG: pg detail",
    "DEBUG: pg sub detail",
    "ERROR: dcs error",
  ]);
});

Deno.test("traceback_level ERROR keeps stack traces; DEBUG keeps them only when the level is DEBUG", () => {
  const error = "Error: boom\n    at decide (file:///src/ha.ts:1:1)\n    at run (file:///src/agent.ts:2:2)";
  const failed = record("the HA cycle failed unexpectedly", { level: "error", fields: { error } });
  assert.ok(render({}, failed).includes("at decide"));
  assert.equal(
    render({ tracebackLevel: "DEBUG" }, failed),
    "2026-11-26 12:00:00,123 ERROR: the HA cycle failed unexpectedly: Error: boom\n",
  );
  assert.ok(render({ tracebackLevel: "DEBUG", level: "DEBUG" }, failed).includes("at run"));
  assert.equal(JSON.parse(render({ type: "json", tracebackLevel: "DEBUG" }, failed)).error, "Error: boom");
});

Deno.test("deduplicate_heartbeat_logs drops a heartbeat identical to the previous one", () => {
  const beat = record("no action. I am (pg1), the leader with the lock");
  const other = record("promoted self to leader by acquiring session lock");
  assert.equal(render({}, beat, beat).split("\n").length - 1, 2);
  const out = render({ deduplicateHeartbeatLogs: true }, beat, beat, beat, other, beat, beat);
  assert.equal(out.split("\n").length - 1, 3);
  assert.equal(
    render({ deduplicateHeartbeatLogs: true, level: "DEBUG" }, beat, beat).split("\n").length - 1,
    2,
  );
});

Deno.test("secrets from the configuration never appear in a line, plain or JSON, wherever they hide", () => {
  const config = parseConfig(
    `scope: batman
name: pg1
restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
  authentication: {username: admin, password: api-secret}
ctl: {authentication: {username: ctl, password: ctl-secret}}
etcd3: {host: 127.0.0.1:2379, username: root, password: etcd-secret}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/x
  authentication:
    superuser: {username: postgres, password: pg-super-secret}
    replication: {username: replicator, password: rep-secret}
    rewind: {username: rewind_user, password: 'rew"ind-secret'}
`,
    "hactl.yml",
    {},
  );
  const secrets = configSecrets(config);
  assert.deepEqual(
    secrets.sort(),
    ["api-secret", "ctl-secret", "etcd-secret", "pg-super-secret", 'rew"ind-secret', "rep-secret"].sort(),
  );
  const leaky = [
    record("could not connect to postgres://postgres:pg-super-secret@127.0.0.1:5432/postgres", {
      level: "warning",
    }),
    record("basebackup failed", {
      level: "error",
      fields: { error: "FATAL: password authentication failed: host=h user=replicator password=rep-secret" },
    }),
    record("etcd auth failed for root/etcd-secret", {
      level: "error",
      fields: { detail: { pw: "etcd-secret" } },
    }),
    record("curl -u admin:api-secret ctl:ctl-secret", {
      level: "warning",
      fields: { rewind: 'rew"ind-secret' },
    }),
    record("peer call with Authorization: Basic " + btoa("admin:api-secret"), { level: "warning" }),
    record("conninfo user=x password='quo ted\\'s' host=y", { level: "warning" }),
    record("encoded postgres://u:" + encodeURIComponent('rew"ind-secret') + "@h", { level: "warning" }),
  ];
  for (const type of ["plain", "json"] as const) {
    for (const level of ["INFO", "DEBUG"] as const) {
      const out = render({ type, level, secrets }, ...leaky);
      assert.equal(out.split("\n").length - 1, leaky.length, out);
      for (const s of [...secrets, 'rew\\"ind-secret', "quo ted", "ted", btoa("admin:api-secret")]) {
        assert.ok(!out.includes(s), `${type}/${level} output leaks ${s}:\n${out}`);
      }
      assert.ok(out.includes("******"));
    }
  }
});

Deno.test("log.dir: patroni.log rotates by size into numbered backups, file_num kept, mode applied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-log-" });
  try {
    const file = new RotatingLogFile({ dir: `${dir}/sub`, fileSize: 100, fileNum: 2, mode: 0o640 });
    const lines = Array.from(
      { length: 12 },
      (_, i) => `line ${String(i).padStart(2, "0")} ${"x".repeat(30)}\n`,
    );
    for (const l of lines) file.write(l);
    file.close();
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name).sort();
    assert.deepEqual(names, [LOG_FILE_NAME, `${LOG_FILE_NAME}.1`, `${LOG_FILE_NAME}.2`]);
    const read = (n: string) => Deno.readTextFileSync(`${dir}/sub/${n}`);
    // Newest in patroni.log, then .1, then .2; every file below file_size; nothing older kept.
    assert.equal(
      read(`${LOG_FILE_NAME}.2`) + read(`${LOG_FILE_NAME}.1`) + read(LOG_FILE_NAME),
      lines.slice(-6).join(""),
    );
    for (const n of names) assert.ok(Deno.statSync(`${dir}/sub/${n}`).size < 100);
    assert.equal(Deno.statSync(`${dir}/sub/${LOG_FILE_NAME}`).mode! & 0o777, 0o640);
    // Appends to an existing file after a restart; file_num 0 never rotates.
    const again = new RotatingLogFile({ dir: `${dir}/sub`, fileSize: 100, fileNum: 0 });
    for (const l of lines) again.write(l);
    again.close();
    assert.equal(read(LOG_FILE_NAME), lines.slice(-2).join("") + lines.join(""));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setupLogging with log.dir writes to the file, not stderr, and names log.dir when it cannot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-log-" });
  const stderr: string[] = [];
  try {
    setupLogging({
      level: "INFO",
      type: "plain",
      dir,
      secrets: ["pg-super-secret"],
      write: (t) => stderr.push(t),
    });
    getLogger(["hactl", "agent"]).info("started with {dsn}", { dsn: "postgres://u:pg-super-secret@h" });
    getLogger(["hactl", "agent"]).debug("not at INFO");
    const text = await Deno.readTextFile(`${dir}/${LOG_FILE_NAME}`);
    assert.match(
      text,
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO: started with postgres:\/\/u:\*\*\*\*\*\*@h\n$/,
    );
    assert.deepEqual(stderr, []);
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    assert.throws(
      () => setupLogging({ level: "INFO", type: "plain", dir: `${dir}/not-a-dir` }),
      /^Error: log\.dir: cannot create .*not-a-dir/,
    );
  } finally {
    resetSync();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agentLog() prints braces in cycle, info, warn and error messages literally (no placeholders)", () => {
  const stderr: string[] = [];
  try {
    setupLogging({ level: "INFO", type: "plain", write: (t) => stderr.push(t) });
    const log = agentLog();
    log.cycle("cycle {a}", {});
    log.info!("info {b}", { b: "X" });
    log.warn("warn {c} {}", { c: "X" });
    log.error('error {"d":1}', { d: "X" });
    const messages = stderr.map((t) => t.replace(/^\S+ \S+ \w+: /, "").trimEnd());
    assert.deepEqual(messages, ["cycle {a}", "info {b}", "warn {c} {}", 'error {"d":1}']);
  } finally {
    resetSync();
  }
});

Deno.test("redactLikeLog() masks what the log masks, following the secrets of the last setupLogging (reload)", () => {
  try {
    setupLogging({ level: "INFO", type: "plain", secrets: ["first-secret"], write: () => {} });
    // A cycle sentence carrying a secret (an error message quoting a DSN) reaches systemd's STATUS= redacted.
    assert.equal(
      redactLikeLog("could not connect: postgres://u:first-secret@h password=abc"),
      "could not connect: postgres://u:******@h password=******",
    );
    setupLogging({ level: "INFO", type: "plain", secrets: ["second-secret"], write: () => {} });
    assert.equal(redactLikeLog("x second-secret y"), "x ****** y");
  } finally {
    resetSync();
  }
});
