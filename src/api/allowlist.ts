/**
 * `restapi.allowlist` matching: is a client's IP address one of a list of IP addresses, CIDR networks (IPv4 and
 * IPv6) or hostnames (already resolved by the caller)? IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as
 * their IPv4 form.
 *
 * Pure: no DNS, no I/O. Imports nothing.
 *
 * @module
 */

/** An address as bytes (4 or 16), or null when the text is not an IP address. */
export function parseIp(text: string): Uint8Array | null {
  const t = text.trim().replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const v4 = parseIpv4(t);
  if (v4) return v4;
  if (!t.includes(":")) return null;
  // A trailing dotted quad (::ffff:1.2.3.4).
  let head = t;
  let tail: number[] = [];
  const lastColon = t.lastIndexOf(":");
  if (t.slice(lastColon + 1).includes(".")) {
    const quad = parseIpv4(t.slice(lastColon + 1));
    if (!quad) return null;
    tail = [(quad[0]! << 8) | quad[1]!, (quad[2]! << 8) | quad[3]!];
    head = t.slice(0, lastColon + 1) + "0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const words = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const w of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const left = words(halves[0]!);
  const right = halves.length === 2 ? words(halves[1]!) : [];
  if (!left || !right) return null;
  if (tail.length > 0) (right.length > 0 ? right : left).splice(-1, 1, ...tail);
  const total = left.length + right.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...left, ...Array(8 - total).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  // IPv4-mapped: compare as IPv4.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return bytes.slice(12);
  }
  return bytes;
}

function parseIpv4(t: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : null;
}

/** A network from `10.0.0.0/8`, `fd00::/8` or a single address; null when it is neither (a hostname). */
export function parseNetwork(entry: string): { base: Uint8Array; bits: number } | null {
  const [addr, prefix, extra] = entry.trim().split("/");
  if (extra !== undefined || addr === undefined) return null;
  const base = parseIp(addr);
  if (!base) return null;
  const max = addr.includes(":") ? 128 : 32;
  if (prefix === undefined) return { base, bits: max };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return null;
  // An IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) counts as the IPv4 network.
  const bits = addr.includes(":") && base.length === 4 ? Number(prefix) - 96 : Number(prefix);
  return bits < 0 ? null : { base, bits };
}

/** Whether `ip` lies in the network. Addresses of different families never match. */
export function inNetwork(ip: Uint8Array, net: { base: Uint8Array; bits: number }): boolean {
  if (ip.length !== net.base.length) return false;
  for (let i = 0; i < net.bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((ip[byte]! & mask) !== (net.base[byte]! & mask)) return false;
  }
  return true;
}

/** True when an entry is an IP address or CIDR network (otherwise it is a hostname to resolve). */
export function isNetworkEntry(entry: string): boolean {
  return parseNetwork(entry) !== null;
}

/**
 * Whether the client address is admitted by `entries` (IPs and CIDRs) or by `resolved` (addresses the caller
 * resolved from the hostnames among the entries and from the members' API hosts).
 */
export function addressAllowed(
  clientIp: string,
  entries: readonly string[],
  resolved: readonly string[],
): boolean {
  const ip = parseIp(clientIp);
  if (!ip) return false;
  for (const entry of [...entries, ...resolved]) {
    const net = parseNetwork(entry);
    if (net && inNetwork(ip, net)) return true;
  }
  return false;
}
