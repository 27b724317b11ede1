/**
 * The logging settings as the log layer uses them (`LogConfig`) and Patroni's defaults for them. The `log` section
 * of the YAML is read into this shape by src/config/log_section.ts.
 *
 * @module
 */
import { DEFAULT_FORMAT, type JsonKey, type LevelName } from "./format.ts";

export interface LogConfig {
  level: LevelName;
  type: "plain" | "json";
  /** `ERROR` (default): stack traces of unexpected errors at any level; `DEBUG`: only when `level` is DEBUG. */
  tracebackLevel: "ERROR" | "DEBUG";
  /** The %-style line format for `type: plain`. */
  format: string;
  /** The keys of a `type: json` line: the format's fields, renamed where the list said `{field: key}`. */
  jsonKeys: JsonKey[];
  /** strftime pattern for `asctime`; absent: `YYYY-MM-DD HH:MM:SS,mmm`. */
  dateformat?: string;
  /** Added to every JSON line. */
  staticFields: Record<string, unknown>;
  /** Write `<dir>/patroni.log` (rotated) instead of stderr. */
  dir?: string;
  /** Permissions of the log files. */
  mode?: number;
  fileNum: number;
  fileSize: number;
  /** Per-logger levels, e.g. `{"hactl.postgres": "DEBUG"}` (`patroni.*` names map to `hactl.*`). */
  loggers: Record<string, LevelName>;
  /** Drop a "no action. ..." heartbeat line identical to the previous one. */
  deduplicateHeartbeatLogs: boolean;
  /** Accepted for compatibility: hactl writes synchronously and has no queue. */
  maxQueueSize: number;
}

/** The `log` section when the file has none: Patroni's defaults. */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  level: "INFO",
  type: "plain",
  tracebackLevel: "ERROR",
  format: DEFAULT_FORMAT,
  jsonKeys: [],
  staticFields: {},
  fileNum: 4,
  fileSize: 25_000_000,
  loggers: {},
  deduplicateHeartbeatLogs: false,
  maxQueueSize: 1000,
});
