/**
 * click-style questions for the control commands, read line by line from stdin whether it is a terminal or a
 * pipe (Deno's global `prompt()`/`confirm()` answer nothing when stdin is not a terminal, so scripted answers
 * would be lost): `prompt("Text")` shows `Text: ` (`Text [default]: ` with a default) and asks again on an empty
 * answer without a default; `confirm("Text?")` shows `Text? [y/N]: `. End of input raises {@linkcode CtlAborted},
 * which the command frame turns into `Aborted!` and exit code 1, as click does.
 *
 * @module
 */
import { writeOut } from "./io.ts";

/** The user ended the input (EOF, Ctrl-D): click prints `Aborted!` and exits 1. */
export class CtlAborted extends Error {
  constructor() {
    super("Aborted!");
    this.name = "CtlAborted";
  }
}

/** A source of answer lines: null at end of input. */
export interface LineReader {
  readLine(hidden?: boolean): string | null;
}

/** Reads stdin synchronously, keeping what follows the first newline for the next question. */
export class StdinLines implements LineReader {
  #pending = new Uint8Array(0);
  #eof = false;
  readonly #decoder = new TextDecoder();

  readLine(hidden = false): string | null {
    const raw = hidden && Deno.stdin.isTerminal();
    if (raw) Deno.stdin.setRaw(true);
    try {
      for (;;) {
        const nl = this.#pending.indexOf(raw ? 13 : 10);
        const nl2 = raw ? this.#pending.indexOf(10) : -1;
        const at = nl >= 0 && nl2 >= 0 ? Math.min(nl, nl2) : Math.max(nl, nl2);
        if (at >= 0) {
          let line = this.#decoder.decode(this.#pending.subarray(0, at)).replace(/\r$/, "");
          this.#pending = this.#pending.slice(at + 1);
          if (raw) {
            writeOut("\n");
            // Without echo the terminal does not edit the line: apply backspaces here.
            let edited = "";
            for (const ch of line) edited = ch === "\x7f" || ch === "\b" ? edited.slice(0, -1) : edited + ch;
            line = edited;
          }
          return line;
        }
        if (raw && this.#pending.includes(4)) return null; // Ctrl-D
        if (raw && this.#pending.includes(3)) return null; // Ctrl-C
        if (this.#eof) {
          if (this.#pending.length === 0) return null;
          const line = this.#decoder.decode(this.#pending);
          this.#pending = new Uint8Array(0);
          return line;
        }
        const buf = new Uint8Array(4096);
        const n = Deno.stdin.readSync(buf);
        if (n === null || n === 0) this.#eof = true;
        else {
          const next = new Uint8Array(this.#pending.length + n);
          next.set(this.#pending);
          next.set(buf.subarray(0, n), this.#pending.length);
          this.#pending = next;
        }
      }
    } finally {
      if (raw) Deno.stdin.setRaw(false);
    }
  }
}

/** Questions asked through `out` and answered by `reader`. */
export class Asker {
  constructor(readonly reader: LineReader, readonly out: (text: string) => void) {}

  /** click.prompt: repeats until non-empty unless a default is given. Throws `CtlAborted` at end of input. */
  prompt(text: string, opts: { default?: string; hidden?: boolean } = {}): string {
    // click shows any default, even an empty one (`Candidate ['pg2', 'pg3'] []: `).
    const suffix = opts.default !== undefined ? ` [${opts.default}]: ` : ": ";
    for (;;) {
      this.out(text + suffix);
      const line = this.reader.readLine(opts.hidden);
      if (line === null) {
        if (opts.hidden) this.out("\n"); // as click: a newline only after hidden input
        throw new CtlAborted();
      }
      if (line !== "") return line;
      if (opts.default !== undefined) return opts.default;
    }
  }

  /** click.confirm with default No: `y`/`yes` true, `n`/`no`/empty false, anything else asks again. */
  confirm(text: string): boolean {
    for (;;) {
      this.out(`${text} [y/N]: `);
      const line = this.reader.readLine();
      if (line === null) throw new CtlAborted();
      const answer = line.trim().toLowerCase();
      if (answer === "y" || answer === "yes") return true;
      if (answer === "" || answer === "n" || answer === "no") return false;
      this.out("Error: invalid input\n");
    }
  }
}

let shared: Asker | null = null;

/** The process's one `Asker` on stdin and stdout (one reader, so lines read ahead are kept for the next question). */
export function stdinAsker(): Asker {
  shared ??= new Asker(new StdinLines(), writeOut);
  return shared;
}

/** An `Asker` over an array of answers (tests). */
export function scriptedAsker(answers: string[], out: (text: string) => void): Asker {
  const queue = [...answers];
  return new Asker({ readLine: () => queue.shift() ?? null }, out);
}
