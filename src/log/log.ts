/**
 * Logging: configures `@logtape/logtape` with one sink that renders each record as Patroni does
 * (`log.format`, default `2026-11-26 12:00:00,123 INFO: no action. I am (pg1), the leader with the lock`, or JSON
 * lines with `log.type: json`) and writes it to stderr, or to `<log.dir>/patroni.log` with size rotation. Levels
 * per logger (`log.loggers`), stack traces per `log.traceback_level`, and Patroni's
 * `deduplicate_heartbeat_logs`. Adapts the logger to the agent's `AgentLog` port. Only this module and `cli/`
 * write to stdout/stderr.
 *
 * Secrets: callers never pass them on purpose; as a last guard every rendered line goes through a redactor that
 * knows the configuration's secret values (`configSecrets`) and `password=...`-style patterns, so a library error
 * message quoting a connection string cannot leak one, in plain or JSON output.
 *
 * Imports `@logtape/logtape`, `./log_format.ts`, `./log_file.ts` and types.
 *
 * @module
 */
import { configureSync, getLogger, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";
import type { AgentLog } from "../core/ports.ts";
import type { LogConfig } from "./settings.ts";
import {
  DEFAULT_FORMAT,
  formatAsctime,
  formatFields,
  type LevelName,
  type LineContext,
  type LogLine,
  makeRedactor,
  parseFormat,
  recordValues,
  renderFormat,
  renderJson,
} from "./format.ts";
import { RotatingLogFile } from "./file.ts";

export { makeRedactor } from "./format.ts";

/** Replaces password-looking values in free text (the patterns of `makeRedactor`, without known secrets). */
export const redactSecrets: (text: string) => string = makeRedactor([]);

/** `YYYY-MM-DD HH:MM:SS,mmm` in local time, as Python's logging prints `asctime` by default. */
export function formatTimestamp(ms: number): string {
  return formatAsctime(ms, -new Date(ms).getTimezoneOffset());
}

const ENCODER = new TextEncoder();

const TO_LOGTAPE: Record<LevelName, LogLevel> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warning",
  ERROR: "error",
  CRITICAL: "fatal",
};

const FROM_LOGTAPE: Record<LogLevel, LevelName> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

const RANK: Record<LevelName, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

/** Everything `setupLogging` needs: the `log` section (only `level` and `type` are required) and the secrets. */
export type LogSettings = Partial<LogConfig> & Pick<LogConfig, "level" | "type"> & {
  /** Values never to print (see `configSecrets`). */
  secrets?: Iterable<string>;
  /** Where lines go when `dir` is not set; stderr by default (tests pass a collector). */
  write?: (text: string) => void;
};

/**
 * Every secret value in a configuration object: strings under a key that names a password, passphrase or secret,
 * or is `token`, at any depth (superuser/replication/rewind passwords, restapi and ctl authentication, etcd3 password,
 * keyfile passwords, ...).
 */
export function configSecrets(config: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, key: string) => {
    if (typeof value === "string") {
      if ((/password|passphrase|secret/i.test(key) || key === "token") && value !== "") found.add(value);
    } else if (Array.isArray(value)) value.forEach((v) => walk(v, key));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(config, "");
  return [...found];
}

function renderMessage(record: LogRecord): string {
  return record.message.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join("");
}

/** A stack trace is kept only where `traceback_level` allows: always for ERROR, at DEBUG level for DEBUG. */
function trimStacks(fields: Record<string, unknown>, keepStacks: boolean): Record<string, unknown> {
  if (keepStacks) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = typeof v === "string" && /\n\s+at /.test(v) ? v.split("\n")[0] : v;
  }
  return out;
}

/** The effective level of a logger: the longest configured prefix of its dotted name, else the root level. */
function levelFor(name: string, root: LevelName, loggers: Record<string, LevelName>): LevelName {
  let best = "";
  let level = root;
  for (const [prefix, l] of Object.entries(loggers)) {
    if ((name === prefix || name.startsWith(prefix + ".")) && prefix.length > best.length) {
      best = prefix;
      level = l;
    }
  }
  return level;
}

/** Turns logtape records into rendered, redacted lines. Exported for tests; `setupLogging` wires it. */
export function createRenderer(settings: LogSettings, ctx: Omit<LineContext, "dateformat">) {
  const loggers = settings.loggers ?? {};
  const keepStacks = (settings.tracebackLevel ?? "ERROR") === "ERROR" || settings.level === "DEBUG";
  const plain = parseFormat(settings.format ?? DEFAULT_FORMAT);
  const jsonKeys = settings.jsonKeys?.length
    ? settings.jsonKeys
    : formatFields(settings.format ?? DEFAULT_FORMAT).map((field) => ({ field, key: field }));
  const redact = makeRedactor(settings.secrets ?? []);
  const lineCtx: LineContext = {
    ...ctx,
    ...(settings.dateformat ? { dateformat: settings.dateformat } : {}),
  };
  let lastHeartbeat: string | null = null;

  return (record: LogRecord): string | null => {
    const level = FROM_LOGTAPE[record.level];
    const name = record.category.join(".");
    if (RANK[level] < RANK[levelFor(name, settings.level, loggers)]) return null;
    let message = renderMessage(record);
    // As Patroni: only at level INFO (at DEBUG every heartbeat is shown).
    if (
      settings.deduplicateHeartbeatLogs && settings.level === "INFO" && name === "hactl.ha" &&
      level === "INFO"
    ) {
      const heartbeat = message.startsWith("no action. ") || message.startsWith("PAUSE: no action");
      if (heartbeat && message === lastHeartbeat) return null;
      lastHeartbeat = heartbeat ? message : null;
    }
    const fields = trimStacks(record.properties, keepStacks);
    if (settings.type !== "json") {
      if (level === "DEBUG" || settings.level === "DEBUG") {
        const extra = Object.entries(fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
        if (extra.length) message += ` (${extra.join(" ")})`;
      } else if (level !== "INFO" && fields.error !== undefined && !message.includes(String(fields.error))) {
        message += `: ${String(fields.error)}`;
      }
    }
    const line: LogLine = { timestamp: record.timestamp, level, name, message, fields };
    const text = settings.type === "json"
      ? renderJson(jsonKeys, settings.staticFields ?? {}, line, lineCtx)
      : renderFormat(plain, recordValues(line, lineCtx));
    return redact(text) + "\n";
  };
}

// The redaction of the last setupLogging (its secrets follow a reload), for text that leaves the process by
// another way than the log (systemd's STATUS=).
let currentRedact: (text: string) => string = redactSecrets;

/** Redact `text` as the log does: the configured secrets (as of the last `setupLogging`) and password patterns. */
export function redactLikeLog(text: string): string {
  return currentRedact(text);
}

// The one open log file of the process, closed when logging is configured again (logtape is process-wide too).
let openFile: RotatingLogFile | null = null;

/**
 * Configures the process-wide logger (again, on reload: the previous file is closed). Throws an Error naming
 * `log.dir` when the log file cannot be opened; nothing is changed then.
 */
export function setupLogging(settings: LogSettings): void {
  const file = settings.dir !== undefined
    ? new RotatingLogFile({
      dir: settings.dir,
      fileSize: settings.fileSize ?? 25_000_000,
      fileNum: settings.fileNum ?? 4,
      ...(settings.mode !== undefined ? { mode: settings.mode } : {}),
    })
    : null;
  const toStderr = settings.write ?? ((text: string) => void Deno.stderr.writeSync(ENCODER.encode(text)));
  const render = createRenderer(settings, {
    pid: Deno.pid,
    startedAt: Date.now(),
    utcOffsetMinutes: (ts) => -new Date(ts).getTimezoneOffset(),
  });
  const lowest = [settings.level, ...Object.values(settings.loggers ?? {})]
    .reduce((a, b) => (RANK[b] < RANK[a] ? b : a));
  let fileBroken = false;
  currentRedact = makeRedactor(settings.secrets ?? []);
  resetSync();
  openFile?.close();
  openFile = file;
  configureSync({
    sinks: {
      main: (record: LogRecord) => {
        const text = render(record);
        if (text === null) return;
        if (file && !fileBroken) {
          try {
            file.write(text);
            return;
          } catch (err) {
            // A full disk must not stop the agent: say so once on stderr and keep logging there.
            fileBroken = true;
            toStderr(
              `log.dir: cannot write ${file.path} (${err instanceof Error ? err.message : err}); ` +
                "logging to stderr from now on\n",
            );
          }
        }
        toStderr(text);
      },
    },
    loggers: [
      { category: ["hactl"], lowestLevel: TO_LOGTAPE[lowest], sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** A finished message (often a template string) for logtape: its braces are text, not placeholders. */
function literal(message: string): string {
  return message.replaceAll("{", "{{").replaceAll("}", "}}");
}

/** The agent's logger: one info line per cycle, warnings and errors with their cause. */
export function agentLog(): AgentLog {
  const logger = getLogger(["hactl", "ha"]);
  return {
    cycle: (reason, fields) => logger.info(literal(reason), fields),
    info: (message, fields) => logger.info(literal(message), fields ?? {}),
    warn: (message, fields) => logger.warn(literal(message), fields ?? {}),
    error: (message, fields) => logger.error(literal(message), fields ?? {}),
  };
}

/** A named logger for other parts of the daemon. */
export function moduleLogger(name: string): ReturnType<typeof getLogger> {
  return getLogger(["hactl", name]);
}
