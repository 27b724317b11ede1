/**
 * `hactl validate-config [--print] [<file|dir>]`: loads a configuration the way the agent does and reports
 * every problem at once, one per line on stderr (exit 78, EX_CONFIG), or `<file>: configuration is valid` (exit 0).
 *
 * The loading and the file-system checks are `src/config/file.ts`, shared with `hactl agent`.
 *
 * @module
 */
import { stringify } from "yaml";
import { ConfigError, redactConfig } from "../src/config/config.ts";
import { checkConfigEnvironment, loadConfigFileWithWarnings } from "../src/config/file.ts";
import { EXIT_CONFIG, EXIT_USAGE } from "./lib/exit.ts";

const USAGE = `Usage: hactl validate-config [--print] [<config.yml | config-dir>]

Checks a hactl (Patroni-compatible) configuration and reports every problem at once.
Without a path, the YAML comes from PATRONI_CONFIGURATION, or else from the PATRONI_* variables alone.

Options:
  -p, --print   also print the merged configuration (environment included) as YAML, secrets redacted
  -h, --help    show this help

Exit codes: 0 valid, 78 (EX_CONFIG) invalid, 2 usage error.
`;

const encoder = new TextEncoder();
function writeOut(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}
function writeErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** `hactl validate-config`; returns the exit code (0 valid, 78 problems, 2 usage). */
export async function run(args: string[]): Promise<number> {
  let print = false;
  const paths: string[] = [];
  for (const arg of args) {
    if (arg === "-h" || arg === "--help") {
      writeOut(USAGE);
      return 0;
    } else if (arg === "-p" || arg === "--print") print = true;
    else if (arg.startsWith("-") && arg !== "-") {
      writeErr(`hactl validate-config: unknown option ${arg}\n\n${USAGE}`);
      return EXIT_USAGE;
    } else paths.push(arg);
  }
  if (paths.length > 1) {
    writeErr(`hactl validate-config: expected at most one path, got ${paths.length}\n\n${USAGE}`);
    return 2;
  }
  try {
    const { config, warnings } = await loadConfigFileWithWarnings(paths[0], Deno.env.toObject());
    for (const warning of warnings) writeErr(`${config.source}: warning: ${warning}`);
    const problems = await checkConfigEnvironment(config);
    if (problems.length > 0) {
      for (const p of problems) writeErr(p);
      return EXIT_CONFIG;
    }
    if (print) writeOut(stringify(redactConfig(config)));
    writeOut(`${config.source}: configuration is valid`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) writeErr(p);
    const source = e.problems[0]?.split(": ")[0] ?? "";
    for (const warning of e.warnings) writeErr(`${source}: warning: ${warning}`);
    return EXIT_CONFIG;
  }
}
