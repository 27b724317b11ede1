/**
 * The `log` section of the configuration (Patroni's keys and defaults): level, traceback_level, type, format,
 * dateformat, static_fields, dir, mode, file_num, file_size, loggers, deduplicate_heartbeat_logs and
 * max_queue_size, validated into one `LogConfig`. The format is cosmetic, so it never stops an agent: a field
 * hactl cannot fill (Python's source locations `%(pathname)s`, `%(lineno)d`, ... or an unknown one) is shown as
 * its nearest equivalent or `-`, and a stray `%` as itself, each with a warning naming `log.format`. Internal to
 * `./config.ts`.
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
  LOG_FIELDS,
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

/** Python LogRecord fields hactl cannot fill, and the field shown instead (absent: `-`). */
const NEAREST: Record<string, string> = { msg: "message", pathname: "module", filename: "module" };

const SPEC = /%(?:\(([^)]*)\)([-#0 +]*)(\d+)?(?:\.(\d+))?([diouxXeEfFgGcrsa])|%)|%/g;

/**
 * A plain `log.format` hactl can render: every field it cannot fill replaced by its nearest equivalent (`%(msg)s`
 * by `%(message)s`, `%(pathname)s` and `%(filename)s` by `%(module)s`) or by `-`, a stray `%` kept as itself; one
 * warning lists the replacements.
 */
export function renderableFormat(format: string, warnings: string[]): string {
  const changes: string[] = [];
  const out = format.replace(SPEC, (all, field: string | undefined, flags = "", width = "") => {
    if (all === "%%") return all;
    if (all === "%") {
      changes.push("a stray '%' shown as '%'");
      return "%%";
    }
    if ((LOG_FIELDS as readonly string[]).includes(field!)) return all;
    const nearest = NEAREST[field!];
    changes.push(`${all} shown as ${nearest ? `%(${nearest})s` : "'-'"}`);
    return nearest ? `%(${nearest})${flags}${width}s` : "-";
  });
  if (changes.length > 0) {
    warnings.push(`log.format: ${changes.join(", ")} (hactl has no Python source locations or arguments)`);
  }
  return out;
}

/** `log.format` for JSON: a format string (its fields) or a list of field names and `{field: key}` mappings. */
function readJsonKeys(r: Reader, raw: unknown, warnings: string[]): JsonKey[] {
  const keys: JsonKey[] = [];
  const add = (field: string, key: string, path: string) => {
    const nearest = NEAREST[field];
    if (!(LOG_FIELDS as readonly string[]).includes(field) && nearest === undefined) {
      return void warnings.push(`${path}: field ${field} left out (hactl cannot fill it)`);
    }
    if (nearest !== undefined) warnings.push(`${path}: field ${field} filled with ${nearest}`);
    keys.push({ field: checkJsonField(nearest ?? field), key });
  };
  if (typeof raw === "string") {
    for (const field of formatFields(renderableFormat(raw, warnings))) keys.push({ field, key: field });
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
export function readLogConfig(r: Reader, log: Doc, warnings: string[]): LogConfig {
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
      const renderable = renderableFormat(rawFormat, warnings);
      try {
        parseFormat(renderable);
        format = renderable;
      } catch (err) {
        if (!(err instanceof LogFormatError)) throw err;
        warnings.push(`log.format: ${err.message}; using the default format`);
      }
    }
  }
  const jsonKeys = type === "json" ? readJsonKeys(r, rawFormat, warnings) : [];

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
