/**
 * Logging as Patroni writes it: `log.format` (Python %-style) or JSON lines, `log.dir` with size rotation,
 * per-logger levels, and the redactor every line passes through so no secret reaches a log. Adapts the logger to
 * the agent's `AgentLog` port.
 *
 * May import: `src/core/` (the `AgentLog` port). Only this layer and `cli/` write to stdout/stderr.
 *
 * @module
 */
export { agentLog, configSecrets, moduleLogger, redactLikeLog, setupLogging } from "./log.ts";
export { DEFAULT_LOG_CONFIG, type LogConfig } from "./settings.ts";
