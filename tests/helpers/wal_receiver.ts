/**
 * An external physical consumer for the slot tests: `pg_receivewal` (from the PostgreSQL packages) streams a slot
 * from whichever member the `leader` key names into a directory; when it exits (the primary went away) it is started
 * again against the current leader, as an archiving tool run under a supervisor reconnects. It resumes from the
 * newest segment in its directory, so a gap in what it received shows as a missing segment number.
 *
 * May import scripts/lib/local_cluster.ts and tests/helpers/logical_consumer.ts.
 *
 * @module
 */
import {
  type LayoutOptions,
  LOCAL_SECRETS,
  type MemberLayout,
  readHealth,
} from "../../scripts/lib/local_cluster.ts";
import { pgProgram } from "./logical_consumer.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Cluster {
  layout: LayoutOptions;
  byName(name: string): MemberLayout;
}

export interface WalReceiver {
  /** Completed segments received, as [timeline, segment number], sorted. */
  segments(): Promise<Array<[number, number]>>;
  /** Timeline history files received (`00000002.history` ...). */
  histories(): Promise<string[]>;
  /** How many times pg_receivewal was started, and on which members. */
  readonly starts: string[];
  stop(): Promise<void>;
}

/** Stream `slot` into `dir` with pg_receivewal from the current leader (or only `only` when given), until stopped. */
export async function startWalReceiver(
  c: Cluster,
  slot: string,
  dir: string,
  only?: MemberLayout,
): Promise<WalReceiver> {
  const bin = await pgProgram("pg_receivewal");
  let stopped = false;
  let child: Deno.ChildProcess | null = null;
  const log: string[] = [];
  const starts: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const h = only ? null : await readHealth(c.layout).catch(() => null);
      const leader = only ?? (h?.leader ? c.byName(h.leader) : null);
      if (!leader) {
        await delay(200); // poll again: no leader yet
        continue;
      }
      const dsn = `host=127.0.0.1 port=${leader.pgPort} user=${LOCAL_SECRETS.replication.username}`;
      child = new Deno.Command(bin, {
        args: ["-d", dsn, "-D", dir, "--slot", slot, "--no-loop", "-s", "1"],
        env: { PGPASSWORD: LOCAL_SECRETS.replication.password, PGCONNECT_TIMEOUT: "3" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      starts.push(leader.name);
      const [, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
      if (err.trim()) log.push(`${leader.name}: ${err.trim()}`);
      child = null;
      if (!stopped) await delay(300); // back off before reconnecting
    }
  })();
  const names = async () => {
    const out: string[] = [];
    for await (const e of Deno.readDir(dir)) out.push(e.name);
    return out;
  };
  return {
    starts,
    async segments() {
      return (await names()).filter((n) => /^[0-9A-F]{24}$/.test(n)).map((n): [number, number] => [
        parseInt(n.slice(0, 8), 16),
        parseInt(n.slice(8, 16), 16) * 0x100 + parseInt(n.slice(16, 24), 16),
      ]).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    },
    async histories() {
      return (await names()).filter((n) => n.endsWith(".history")).sort();
    },
    async stop() {
      stopped = true;
      try {
        child?.kill("SIGINT");
      } catch { /* exited meanwhile */ }
      await loop;
      // deno-lint-ignore no-console -- what the receiver said, for a failing run's log
      if (log.length) console.error(`pg_receivewal said:\n${log.slice(-10).join("\n")}`);
      log.length = 0;
    },
  };
}
