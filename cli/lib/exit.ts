/**
 * hactl's exit codes, in one place, and the patronictl compatibility switch.
 *
 * - 0: success.
 * - 1 ({@linkcode EXIT_FAILED}): the command ran and something failed: `Error: ...`, a refused request
 *   (`Failed: ...`, `Switchover failed, ...`), a `--wait` that ran out of time; for the agent a fatal runtime error.
 * - 2 ({@linkcode EXIT_USAGE}): bad arguments or a bad option value (the message names the option).
 * - 78 ({@linkcode EXIT_CONFIG}, sysexits' EX_CONFIG): the configuration is invalid (`hactl agent`,
 *   `hactl validate-config`); the systemd units carry `RestartPreventExitStatus=78`, so a broken configuration is
 *   not restarted every few seconds forever.
 *
 * patronictl exits 0 after printing `Failed: ...` or `Switchover failed, ...`; scripts written against it may rely
 * on that, so `--patroni-compat` or `HACTL_PATRONI_COMPAT=1` turns {@linkcode EXIT_FAILED} from a refused request
 * back into 0 (errors patronictl itself exits non-zero for stay non-zero).
 *
 * Pure; imports nothing.
 *
 * @module
 */

/** The command ran and failed (also a refused request or a timed-out `--wait`). */
export const EXIT_FAILED = 1;
/** Bad arguments or option values. */
export const EXIT_USAGE = 2;
/** sysexits.h EX_CONFIG: the configuration is invalid; restarting will not help. */
export const EXIT_CONFIG = 78;

/** The environment variable that turns patronictl-compatible exit codes on. */
export const PATRONI_COMPAT_ENV = "HACTL_PATRONI_COMPAT";

/** Whether patronictl's exit codes are wanted: `--patroni-compat`, or `HACTL_PATRONI_COMPAT` set to 1/true/yes. */
export function patroniCompat(values: Record<string, unknown>, env: Record<string, string>): boolean {
  if (values["patroni-compat"] === true) return true;
  return ["1", "true", "yes", "on"].includes((env[PATRONI_COMPAT_ENV] ?? "").trim().toLowerCase());
}

/** The exit code of a command that reported a failure on stdout, as hactl gives it or as patronictl did. */
export function failedExit(values: Record<string, unknown>, env: Record<string, string>): number {
  return patroniCompat(values, env) ? 0 : EXIT_FAILED;
}
