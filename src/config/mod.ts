/**
 * Configuration: Patroni's YAML keys and `PATRONI_*` environment overrides -> one validated, immutable `Config`;
 * the dynamic (cluster-wide) configuration -> `DynamicSettings`; what a reload may change; the pure parts of
 * `edit-config`. Every problem is reported at once as `<file>: <dotted.key>: <message>`.
 *
 * May import: `src/core/` (shared types), `src/log/` (the log format parser that validates `log.format`).
 *
 * @module
 */
export { ConfigError, normalizeDynamic, parseConfig, parseConfigWithWarnings } from "./config.ts";
export type { Config } from "./types.ts";
export { checkConfigEnvironment, loadConfigFile } from "./file.ts";
