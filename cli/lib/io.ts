/**
 * Console output for the CLI: the only place besides `src/log/log.ts` that writes to stdout/stderr.
 *
 * @module
 */
const ENCODER = new TextEncoder();

/** Write text to stdout as is. */
export function writeOut(text: string): void {
  Deno.stdout.writeSync(ENCODER.encode(text));
}

/** Write text to stderr as is. */
export function writeErr(text: string): void {
  Deno.stderr.writeSync(ENCODER.encode(text));
}
