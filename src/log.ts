/**
 * Logging: configures `@logtape/logtape` with one stderr sink in Patroni's line format
 * (`2026-11-26 12:00:00,123 INFO: no action. I am (pg1), the leader with the lock`) or JSON lines,
 * and adapts it to the agent's `AgentLog` port. Only this module and `cli/` write to stdout/stderr.
 *
 * Secrets: callers never pass them; `redactSecrets` is applied to every rendered line as a last guard against
 * `password=...`-style fragments coming from library error messages.
 *
 * @module
 */
import { configureSync, getLogger, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";
import type { AgentLog } from "./agent.ts";

const ENCODER = new TextEncoder();

/** Patroni level names -> logtape levels. */
const LEVELS: Record<string, LogLevel> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warning",
  WARN: "warning",
  ERROR: "error",
  CRITICAL: "fatal",
  FATAL: "fatal",
};

const LEVEL_NAMES: Record<LogLevel, string> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

/** Replace password-looking values in free text. */
export function redactSecrets(text: string): string {
  return text
    .replace(/(password\s*[=:]\s*)('[^']*'|"[^"]*"|\S+)/gi, "$1******")
    .replace(/(\/\/[^:/@\s]+:)[^@/\s]+@/g, "$1******@");
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** `YYYY-MM-DD HH:MM:SS,mmm` in local time, as Python's logging prints it. */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`;
}

function renderMessage(record: LogRecord): string {
  return record.message.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join("");
}

/** One plain line: timestamp, level, message, then the structured fields as `key=value` in debug mode. */
export function formatPlain(record: LogRecord, withFields: boolean): string {
  let line = `${formatTimestamp(record.timestamp)} ${LEVEL_NAMES[record.level]}: ${renderMessage(record)}`;
  if (withFields) {
    const fields = Object.entries(record.properties).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    if (fields.length) line += ` (${fields.join(" ")})`;
  } else if (record.level !== "info" && record.properties.error !== undefined) {
    line += `: ${String(record.properties.error)}`;
  }
  return redactSecrets(line) + "\n";
}

/** One JSON line with time, level, message and the structured fields. */
export function formatJson(record: LogRecord): string {
  return redactSecrets(JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    levelname: LEVEL_NAMES[record.level],
    message: renderMessage(record),
    ...record.properties,
  })) + "\n";
}

/** Configure the process-wide logger. Call once from `cli/`. */
export function setupLogging(opts: { level: string; type: "plain" | "json" }): void {
  const lowest = LEVELS[opts.level.toUpperCase()] ?? "info";
  const debug = lowest === "debug";
  resetSync();
  configureSync({
    sinks: {
      stderr: (record: LogRecord) => {
        const text = opts.type === "json" ? formatJson(record) : formatPlain(record, debug);
        Deno.stderr.writeSync(ENCODER.encode(text));
      },
    },
    loggers: [
      { category: ["hactl"], lowestLevel: lowest, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The agent's logger: one info line per cycle, warnings and errors with their cause. */
export function agentLog(): AgentLog {
  const logger = getLogger(["hactl", "ha"]);
  return {
    cycle: (reason, fields) => logger.info(reason.replaceAll("{", "{{").replaceAll("}", "}}"), fields),
    info: (message, fields) => logger.info(message.replaceAll("{", "{{").replaceAll("}", "}}"), fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
  };
}

/** A named logger for other parts of the daemon. */
export function moduleLogger(name: string): ReturnType<typeof getLogger> {
  return getLogger(["hactl", name]);
}
