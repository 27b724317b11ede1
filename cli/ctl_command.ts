/**
 * The frame every patronictl-style control command shares: parse the arguments (the global `-c/-d/-k` options
 * included), answer `--help`, map a usage error to exit code 2 and a `CtlError` to `Error: <message>` and exit 1.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { CTL_GLOBAL_OPTIONS, CtlError } from "./ctl_config.ts";

export interface CtlCommand {
  /** `Usage: hactl <name> [OPTIONS] ...`, repeated in usage errors. */
  usage: string;
  help: string;
  args: string[];
  /** The command's own options (the global ones and `-h/--help` are added). */
  options: ParseArgsOptionsConfig;
  out(text: string): void;
  err(text: string): void;
  body(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

export async function runCtl(c: CtlCommand): Promise<number> {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: c.args,
      allowPositionals: true,
      strict: true,
      options: { ...CTL_GLOBAL_OPTIONS, ...c.options, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    c.err(`${c.usage}\n\nError: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    c.out(c.help);
    return 0;
  }
  try {
    return await c.body(values, positionals);
  } catch (err) {
    if (err instanceof CtlError) {
      c.err(`Error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
