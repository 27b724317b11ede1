/**
 * Write-ahead log positions: Postgres's `X/Y` text and the absolute byte position hactl computes with.
 *
 * Pure. May import: nothing.
 *
 * @module
 */

/** Convert an `X/Y` LSN into its absolute byte position. */
export function parseLsn(text: string): number {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`invalid LSN ${JSON.stringify(text)}: expected X/Y with hex parts`);
  return parseInt(m[1]!, 16) * 0x1_0000_0000 + parseInt(m[2]!, 16);
}

/** Format an absolute byte position as `X/Y` (upper-case hex, as Postgres prints it). */
export function formatLsn(pos: number): string {
  const hi = Math.floor(pos / 0x1_0000_0000);
  const lo = pos - hi * 0x1_0000_0000;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}
