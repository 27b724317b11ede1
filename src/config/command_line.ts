/**
 * Command lines as Patroni splits them (Python's `shlex.split`, POSIX rules, no expansions), for every command
 * hactl runs without a shell: the callbacks, `pre_promote`, `before_stop`, a replica method's or a custom
 * bootstrap's `command`, `post_bootstrap`. What `shlex.split` refuses (an unclosed quote, a trailing backslash) is
 * refused here too, so the configuration reader can name the key when the file is read rather than the command
 * failing when it is run.
 *
 * Pure. Imports nothing.
 *
 * @module
 */

/** A command line that cannot be split: `no closing quotation` or `no escaped character`, as `shlex` says. */
export class CommandSplitError extends Error {
  override name = "CommandSplitError";
}

/**
 * Split a command line as Patroni does: whitespace separates words; single quotes keep everything up to the next
 * one; inside double quotes a backslash escapes only `"` and `\\`; outside quotes it escapes any character; quoted
 * and plain parts of one word join (`--dbname="host=a user=b"` is one argument). Throws `CommandSplitError` on an
 * unclosed quote or a backslash with nothing after it.
 */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  const escaped = (i: number): string => {
    if (i >= command.length) throw new CommandSplitError("no escaped character");
    return command[i]!;
  };
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && (command[i + 1] === '"' || command[i + 1] === "\\")) word += command[++i];
      else if (c === "\\" && i + 1 >= command.length) escaped(i + 1);
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else {
      word ??= "";
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\") word += escaped(++i);
      else word += c;
    }
  }
  if (quote !== null) throw new CommandSplitError("no closing quotation");
  if (word !== null) out.push(word);
  return out;
}

/** Why `command` cannot be split (`no closing quotation`, `no escaped character`), or null when it can. */
export function commandProblem(command: string): string | null {
  try {
    splitCommand(command);
    return null;
  } catch (e) {
    if (e instanceof CommandSplitError) return e.message;
    throw e;
  }
}
