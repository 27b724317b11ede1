/**
 * What `hactl agent --generate-sample-config` learns from this host, as Patroni does: the host name and its first
 * address (IPv4 before IPv6), and the major version of the PostgreSQL binaries (`postgres --version` in
 * `postgresql.bin_dir`, `PATRONI_POSTGRESQL_BIN_DIR`, else where hactl finds pg_ctl).
 *
 * I/O: DNS lookup, runs `postgres --version`. May import `src/pg/`.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { resolveBinDir, run } from "../../src/pg/process.ts";
import { NO_VALUE, type SampleInputs } from "./sample_config.ts";

/** `postgres (PostgreSQL) 16.4` -> 160000; `9.6.24` -> 90600; 0 when it cannot be read. */
export function majorVersionNum(text: string): number {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return 0;
  const major = Number(m[1]);
  return major >= 10 ? major * 10000 : major * 10000 + Number(m[2] ?? 0) * 100;
}

/** The host's name and address, and the binaries' major version. */
export async function gatherSampleInputs(env: Record<string, string>): Promise<SampleInputs> {
  let hostname = NO_VALUE;
  let ip = NO_VALUE;
  try {
    hostname = Deno.hostname();
    const addrs = await lookup(hostname, { all: true });
    ip = [...addrs].sort((a, b) => a.family - b.family)[0]?.address ?? NO_VALUE;
  } catch {
    // keep #FIXME
  }
  let pgMajor = 0;
  try {
    const dir = await resolveBinDir(env.PATRONI_POSTGRESQL_BIN_DIR ?? "", env.PATH);
    const r = await run(`${dir}/postgres`, ["--version"], { timeoutMs: 10_000 });
    if (r.code === 0) pgMajor = majorVersionNum(r.stdout);
  } catch {
    // no binaries: the defaults of a recent version
  }
  return { hostname, ip, pgMajor, env };
}
