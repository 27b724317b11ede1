/**
 * The `log` section of the configuration (Patroni's keys and defaults): level, traceback_level, type, format,
 * dateformat, static_fields, dir, mode, file_num, file_size, loggers, deduplicate_heartbeat_logs and
 * max_queue_size, validated into one `LogConfig`. A format hactl cannot render (an unknown `%(field)`, a stray
 * `%`) is an error naming `log.format`, not a surprise at the first log line. Internal to `./config.ts`.
 *
 * Pure. Imports `yaml`, `./read.ts` (the Reader), `./env.ts` (types), `../log/format.ts` and `../log/settings.ts`.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import type { Doc } from "./env.ts";
import { kindOf, type Reader } from "./read.ts";
import {
  checkJsonField,
  DEFAULT_FORMAT,
  formatFields,
  type JsonKey,
  type LevelName,
  LogFormatError,
  parseFormat,
} from "../log/format.ts";
import { DEFAULT_LOG_CONFIG, type LogConfig } from "../log/settings.ts";

export { DEFAULT_LOG_CONFIG, type LogConfig };

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
const ALIASES: Record<string, LevelName> = { WARN: "WARNING", FATAL: "CRITICAL" };

function readLevel(r: Reader, value: unknown, path: string, fallback: LevelName): LevelName {
  const upper = typeof value === "string" ? value.toUpperCase() : value;
  const canonical = typeof upper === "string" ? ALIASES[upper] ?? upper : upper;
  return r.oneOf({ v: canonical }, "v", path, LEVELS, fallback);
}

/** `log.format` for JSON: a format string (its fields) or a list of field names and `{field: key}` mappings. */
function readJsonKeys(r: Reader, raw: unknown): JsonKey[] {
  const keys: JsonKey[] = [];
  const add = (field: string, key: string, path: string) => {
    try {
      keys.push({ field: checkJsonField(field), key });
    } catch (err) {
      r.problem(path, (err as Error).message);
    }
  };
  if (typeof raw === "string") {
    try {
      for (const field of formatFields(raw)) keys.push({ field, key: field });
    } catch (err) {
      r.problem("log.format", (err as Error).message);
    }
  } else if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      const path = `log.format.${i}`;
      if (typeof item === "string") add(item, item, path);
      else if (item !== null && typeof item === "object" && !Array.isArray(item)) {
        for (const [field, key] of Object.entries(item as Doc)) {
          if (typeof key === "string") add(field, key, `${path}.${field}`);
          else r.problem(`${path}.${field}`, `the new key name must be a string, found ${kindOf(key)}`);
        }
      } else r.problem(path, `must be a field name or a {field: key} mapping, found ${kindOf(item)}`);
    });
  } else {
    r.problem("log.format", `must be a string or a list, found ${kindOf(raw)}`);
  }
  return keys.length > 0 ? keys : formatFields(DEFAULT_FORMAT).map((field) => ({ field, key: field }));
}

/** Reads `log`; every problem goes to the Reader as `<source>: log.<key>: <message>`. */
export function readLogConfig(r: Reader, log: Doc): LogConfig {
  const type = r.oneOf(log, "type", "log.type", ["plain", "json"] as const, "plain");
  const traceback = typeof log.traceback_level === "string"
    ? log.traceback_level.toUpperCase()
    : log.traceback_level;
  let rawFormat: unknown = log.format ?? DEFAULT_FORMAT;
  // PATRONI_LOG_FORMAT without any %(...) is a list (Patroni's rule), e.g. "[message, {asctime: '@timestamp'}]".
  if (typeof rawFormat === "string" && !rawFormat.includes("%(") && /^\s*\[/.test(rawFormat)) {
    try {
      rawFormat = parseYaml(rawFormat);
    } catch {
      // left as a string; reported below
    }
  }
  let format = DEFAULT_FORMAT;
  if (type === "plain") {
    if (typeof rawFormat !== "string") {
      r.problem("log.format", `must be a string when log.type is plain, found ${kindOf(rawFormat)}`);
    } else {
      try {
        parseFormat(rawFormat);
        format = rawFormat;
      } catch (err) {
        if (!(err instanceof LogFormatError)) throw err;
        r.problem("log.format", err.message);
      }
    }
  }
  const jsonKeys = type === "json" ? readJsonKeys(r, rawFormat) : [];

  const loggers: Record<string, LevelName> = {};
  const loggersDoc = r.section(log, "loggers", "log.loggers");
  for (const [name, level] of Object.entries(loggersDoc)) {
    const mapped = name.replace(/^patroni(?=\.|$)/, "hactl");
    loggers[mapped] = readLevel(r, level, `log.loggers.${name}`, "INFO");
  }

  const staticFields = r.section(log, "static_fields", "log.static_fields");
  const out: LogConfig = {
    level: readLevel(r, log.level, "log.level", "INFO"),
    type,
    tracebackLevel: r.oneOf(
      { v: traceback },
      "v",
      "log.traceback_level",
      ["ERROR", "DEBUG"] as const,
      "ERROR",
    ),
    format,
    jsonKeys,
    staticFields: { ...staticFields },
    fileNum: r.int(log, "file_num", "log.file_num", 4, 0),
    fileSize: r.int(log, "file_size", "log.file_size", 25_000_000, 0),
    loggers,
    deduplicateHeartbeatLogs: r.bool(
      log,
      "deduplicate_heartbeat_logs",
      "log.deduplicate_heartbeat_logs",
      false,
    ),
    maxQueueSize: r.int(log, "max_queue_size", "log.max_queue_size", 1000, 1),
  };
  const dateformat = r.str(log, "dateformat", "log.dateformat");
  if (dateformat !== undefined) out.dateformat = dateformat;
  const dir = r.str(log, "dir", "log.dir");
  if (dir !== undefined) out.dir = dir;
  if (log.mode !== undefined && log.mode !== null) {
    const mode = r.int(log, "mode", "log.mode", -1, 0);
    if (mode > 0o777) {
      r.problem("log.mode", `must be a file mode between 0 and 0777, found 0${mode.toString(8)}`);
    } else if (mode >= 0) out.mode = mode;
  }
  return out;
}
