/**
 * The frame every patronictl-style control command shares: parse the arguments (the global `-c/-d/-k` options
 * included), answer `--help`, map a usage error to exit code 2, a `CtlError` to `Error: <message>` and exit 1, and
 * the end of input at a question (`CtlAborted`) to `Aborted!` and exit 1.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { CTL_GLOBAL_HELP, CTL_GLOBAL_OPTIONS, CtlError } from "./config.ts";
import { CtlAborted } from "./prompt.ts";

/** A bad argument value found after parsing (e.g. a `--format` choice): usage text, `Error: ...`, exit 2. */
export class CtlUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CtlUsageError";
  }
}

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

/**
 * The global options, minus the short forms a command uses for its own options (`query -c` is `--command` and
 * `-d` is `--dbname`, as in patronictl, where the global `-c`/`-d` go before the subcommand).
 */
function globalOptionsFor(own: ParseArgsOptionsConfig): ParseArgsOptionsConfig {
  const taken = new Set(Object.values(own).map((o) => o.short).filter((s) => s !== undefined));
  return Object.fromEntries(
    Object.entries(CTL_GLOBAL_OPTIONS).map(([name, o]) => {
      if (!("short" in o) || !taken.has(o.short)) return [name, o];
      const { short: _short, ...rest } = o;
      return [name, rest];
    }),
  );
}

/** The global options' help lines without the short forms `own` takes over. */
export function globalHelpFor(own: ParseArgsOptionsConfig): string[] {
  const taken = new Set(Object.values(own).map((o) => o.short).filter((s) => s !== undefined));
  return CTL_GLOBAL_HELP.map((line) => {
    const m = /^ {2}-(\w), (--.*)$/.exec(line);
    return m && taken.has(m[1]!) ? `      ${m[2]}` : line;
  });
}

export async function runCtl(c: CtlCommand): Promise<number> {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: c.args,
      allowPositionals: true,
      strict: true,
      options: { ...globalOptionsFor(c.options), ...c.options, help: { type: "boolean", short: "h" } },
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
    if (err instanceof CtlUsageError) {
      c.err(`${c.usage}\n\nError: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CtlAborted) {
      c.err("Aborted!\n");
      return 1;
    }
    throw err;
  }
}
