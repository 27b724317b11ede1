/**
 * Rendering log lines the way Patroni's Python logging does: `log.format` is a Python %-style format
 * (`%(asctime)s %(levelname)s: %(message)s`, with flags, width and precision), `log.dateformat` a strftime
 * pattern, and `log.type: json` writes one JSON object per line whose keys are the format's fields (renamed as
 * configured), then `log.static_fields`, then the line's structured fields, as python-json-logger does.
 * Also the redactor: every rendered line goes through it, so a secret never reaches a log.
 *
 * Pure: no `Deno.*`, no clock; the caller passes the timestamp, process id and time zone in. Imports nothing.
 *
 * @module
 */

/** Python's level names and numbers. */
export const LEVEL_NUMBERS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
export type LevelName = keyof typeof LEVEL_NUMBERS;

/** The default `log.format`, Patroni's. */
export const DEFAULT_FORMAT = "%(asctime)s %(levelname)s: %(message)s";

/**
 * The Python LogRecord attributes hactl can fill: `name` is the logger (`hactl.ha`), `module` its last part
 * (`ha`), `process` the process id. Source locations (`lineno`, `funcName`, `filename`, `pathname`) are not
 * available in a compiled JavaScript binary and are rejected when configured.
 */
export const LOG_FIELDS = [
  "asctime",
  "created",
  "levelname",
  "levelno",
  "message",
  "module",
  "msecs",
  "name",
  "process",
  "processName",
  "relativeCreated",
  "thread",
  "threadName",
] as const;
export type LogField = typeof LOG_FIELDS[number];

const UNAVAILABLE = ["lineno", "funcName", "filename", "pathname", "args", "msg", "exc_info", "exc_text"];

/** One log line before rendering. */
export interface LogLine {
  /** Epoch milliseconds. */
  timestamp: number;
  level: LevelName;
  /** Logger name, dotted: `hactl.ha`. */
  name: string;
  /** The message, already including the error text and (in debug mode) the fields for plain output. */
  message: string;
  /** Structured fields (role, leader, error, ...), written as JSON keys by the JSON renderer. */
  fields: Record<string, unknown>;
}

/** What a line's fields are computed from besides the line itself. */
export interface LineContext {
  pid: number;
  /** Epoch milliseconds when logging started (for `relativeCreated`). */
  startedAt: number;
  /** Minutes east of UTC at `timestamp` (`-new Date(ts).getTimezoneOffset()`): Python formats local time. */
  utcOffsetMinutes: (timestamp: number) => number;
  dateformat?: string;
}

type Piece = string | {
  field: LogField;
  flags: string;
  width: number | undefined;
  precision: number | undefined;
  conversion: string;
};

/** A `log.format` that cannot be used; `message` names what is wrong (never a value from the line). */
export class LogFormatError extends Error {
  override name = "LogFormatError";
}

const SPEC = /%(?:\(([^)]*)\)([-#0 +]*)(\d+)?(?:\.(\d+))?([diouxXeEfFgGcrsa])|%)/g;

/** Parses a Python %-style logging format. Throws `LogFormatError` for unknown fields or bad specifiers. */
export function parseFormat(format: string): Piece[] {
  const pieces: Piece[] = [];
  const literal = (text: string) => {
    const at = text.indexOf("%");
    if (at >= 0) {
      throw new LogFormatError(`a '%' that is not '%(field)s' or '%%' (near "${text.slice(at, at + 12)}")`);
    }
    if (text) pieces.push(text);
  };
  let last = 0;
  for (const m of format.matchAll(SPEC)) {
    literal(format.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[0] === "%%") {
      pieces.push("%");
      continue;
    }
    const field = m[1]!;
    checkField(field);
    pieces.push({
      field: field as LogField,
      flags: m[2] ?? "",
      width: m[3] === undefined ? undefined : Number(m[3]),
      precision: m[4] === undefined ? undefined : Number(m[4]),
      conversion: m[5]!,
    });
  }
  literal(format.slice(last));
  return pieces;
}

function checkField(field: string): void {
  if ((LOG_FIELDS as readonly string[]).includes(field)) return;
  if (UNAVAILABLE.includes(field)) {
    throw new LogFormatError(`%(${field}) is not available in hactl (supported: ${LOG_FIELDS.join(", ")})`);
  }
  throw new LogFormatError(`unknown field %(${field}) (supported: ${LOG_FIELDS.join(", ")})`);
}

/** Checks a JSON field name (from a format string or list) and returns it typed. */
export function checkJsonField(field: string): LogField {
  checkField(field);
  return field as LogField;
}

/** The field names a format string mentions, in order (how python-json-logger picks its keys). */
export function formatFields(format: string): LogField[] {
  return parseFormat(format).flatMap((p) => (typeof p === "string" ? [] : [p.field]));
}

function pad(n: number, width = 2): string {
  return String(Math.trunc(Math.abs(n))).padStart(width, "0");
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/**
 * `asctime`: `YYYY-MM-DD HH:MM:SS,mmm` in local time (Python's default), or `dateformat` as strftime (then, as
 * in Python, without milliseconds unless the pattern has none of its own: `%f` is not a time.strftime code).
 * Supported codes: %Y %y %m %d %e %H %I %M %S %p %j %a %A %b %B %h %z %Z %s %F %T %D %R %n %t %%; others stay.
 */
export function formatAsctime(timestamp: number, offsetMinutes: number, dateformat?: string): string {
  // A Date shifted by the offset, read with the UTC getters = local wall-clock time without touching the TZ.
  const d = new Date(timestamp + offsetMinutes * 60_000);
  const Y = d.getUTCFullYear(), m = d.getUTCMonth(), day = d.getUTCDate();
  const H = d.getUTCHours(), M = d.getUTCMinutes(), S = d.getUTCSeconds();
  if (!dateformat) {
    return `${Y}-${pad(m + 1)}-${pad(day)} ${pad(H)}:${pad(M)}:${pad(S)},${pad(d.getUTCMilliseconds(), 3)}`;
  }
  const start = Date.UTC(Y, 0, 1);
  const yday = Math.floor((Date.UTC(Y, m, day) - start) / 86_400_000) + 1;
  const sign = offsetMinutes < 0 ? "-" : "+";
  const zone = `${sign}${pad(Math.abs(offsetMinutes) / 60)}${pad(Math.abs(offsetMinutes) % 60)}`;
  const codes: Record<string, () => string> = {
    Y: () => String(Y),
    y: () => pad(Y % 100),
    m: () => pad(m + 1),
    d: () => pad(day),
    e: () => String(day).padStart(2, " "),
    H: () => pad(H),
    I: () => pad(H % 12 === 0 ? 12 : H % 12),
    M: () => pad(M),
    S: () => pad(S),
    p: () => (H < 12 ? "AM" : "PM"),
    j: () => pad(yday, 3),
    a: () => DAYS[d.getUTCDay()]!.slice(0, 3),
    A: () => DAYS[d.getUTCDay()]!,
    b: () => MONTHS[m]!.slice(0, 3),
    h: () => MONTHS[m]!.slice(0, 3),
    B: () => MONTHS[m]!,
    z: () => zone,
    Z: () => (offsetMinutes === 0 ? "UTC" : zone),
    s: () => String(Math.floor(timestamp / 1000)),
    F: () => `${Y}-${pad(m + 1)}-${pad(day)}`,
    T: () => `${pad(H)}:${pad(M)}:${pad(S)}`,
    D: () => `${pad(m + 1)}/${pad(day)}/${pad(Y % 100)}`,
    R: () => `${pad(H)}:${pad(M)}`,
    n: () => "\n",
    t: () => "\t",
    "%": () => "%",
  };
  return dateformat.replace(/%([A-Za-z%])/g, (all, c: string) => codes[c]?.() ?? all);
}

/** The value of every LogRecord field for one line. */
export function recordValues(line: LogLine, ctx: LineContext): Record<LogField, string | number> {
  const offset = ctx.utcOffsetMinutes(line.timestamp);
  return {
    asctime: formatAsctime(line.timestamp, offset, ctx.dateformat),
    created: line.timestamp / 1000,
    levelname: line.level,
    levelno: LEVEL_NUMBERS[line.level],
    message: line.message,
    module: line.name.split(".").pop() ?? line.name,
    msecs: line.timestamp % 1000,
    name: line.name,
    process: ctx.pid,
    processName: "MainProcess",
    relativeCreated: line.timestamp - ctx.startedAt,
    thread: ctx.pid,
    threadName: "MainThread",
  };
}

function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const body = text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}

function applySpec(value: string | number, p: Exclude<Piece, string>): string {
  let text: string;
  switch (p.conversion) {
    case "d":
    case "i":
    case "u":
      text = typeof value === "number" ? String(Math.trunc(value)) : value;
      break;
    case "f":
    case "F":
      text = typeof value === "number" ? value.toFixed(p.precision ?? 6) : value;
      break;
    case "r":
    case "a":
      text = typeof value === "number" ? String(value) : pythonRepr(value);
      break;
    default:
      text = String(value);
      if (p.precision !== undefined && p.conversion === "s") text = text.slice(0, p.precision);
  }
  if (p.width !== undefined && text.length < p.width) {
    const numeric = typeof value === "number" && "dfFiu".includes(p.conversion);
    if (p.flags.includes("-")) text = text.padEnd(p.width, " ");
    else if (p.flags.includes("0") && numeric) {
      const neg = text.startsWith("-");
      text = (neg ? "-" : "") + text.slice(neg ? 1 : 0).padStart(p.width - (neg ? 1 : 0), "0");
    } else text = text.padStart(p.width, " ");
  }
  return text;
}

/** Renders a parsed %-format with the record's values. */
export function renderFormat(pieces: Piece[], values: Record<LogField, string | number>): string {
  return pieces.map((p) => (typeof p === "string" ? p : applySpec(values[p.field], p))).join("");
}

/** One JSON key: the record field it takes its value from, and the key it is written under. */
export interface JsonKey {
  field: LogField;
  key: string;
}

/**
 * One JSON object: the format's fields under their (renamed) keys, then the static fields, then the line's
 * structured fields that do not collide with either (a field can never overwrite `levelname` or a static field).
 */
export function renderJson(
  keys: JsonKey[],
  staticFields: Record<string, unknown>,
  line: LogLine,
  ctx: LineContext,
): string {
  const values = recordValues(line, ctx);
  const out: Record<string, unknown> = {};
  for (const { field, key } of keys) out[key] = values[field];
  for (const [k, v] of Object.entries(staticFields)) if (!(k in out)) out[k] = v;
  for (const [k, v] of Object.entries(line.fields)) if (!(k in out)) out[k] = v;
  return JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * A function that removes secrets from rendered text: `password=...`/`password: ...` values, the password part of
 * `scheme://user:password@host`, HTTP `Basic`/`Bearer` credentials, and every literal occurrence of the given
 * secret values (as written, JSON-escaped and percent-encoded). Secrets shorter than 4 characters are only caught
 * by the patterns: replacing every occurrence of, say, "pg" would mangle every line and hide nothing worth hiding.
 */
export function makeRedactor(secrets: Iterable<string>): (text: string) => string {
  const literal = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    literal.add(s);
    literal.add(JSON.stringify(s).slice(1, -1));
    literal.add(encodeURIComponent(s));
  }
  // Longest first, so a secret that contains another is replaced whole.
  const ordered = [...literal].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text
      .replace(
        /(password\\?"?\s*[=:]\s*)('(?:[^'\\]|\\.)*'|\\?"(?:[^"\\]|\\.)*?\\?"|[^\s,;)}&]+)/gi,
        "$1******",
      )
      .replace(/(\/\/[^:/@\s]+:)[^@/\s]+@/g, "$1******@")
      .replace(/\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{6,}/g, "$1 ******");
    for (const s of ordered) out = out.replaceAll(s, "******");
    return out;
  };
}
