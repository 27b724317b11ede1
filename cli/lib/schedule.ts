/**
 * `--scheduled` times of `switchover`, `failover` and `restart`, read as patronictl reads them.
 *
 * @module
 */

/**
 * A scheduled time as ISO 8601 with an offset. A value without a timezone is taken as local time, as patronictl
 * does (dateutil), and sent with the local offset.
 */
export function parseScheduled(text: string): string | null {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(t)) return null;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(t);
  const ms = Date.parse(hasZone ? t : t.replace(" ", "T"));
  if (Number.isNaN(ms)) return null;
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const p = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const local = new Date(ms + off * 60_000).toISOString().replace("Z", "").replace(/\.000$/, "");
  return `${local}${sign}${p(off / 60)}:${p(off % 60)}`;
}
