/**
 * A logical-decoding consumer and a writer for the logical slot tests: `pg_recvlogical` (from the PostgreSQL
 * packages) streams a slot from whichever member the `leader` key names, appending what it receives to a file
 * (flushed and confirmed every second); when it exits (the primary went away) it is started again against the
 * current leader, as a CDC tool reconnects. The writer inserts one row per transaction into a table on the
 * current leader; the ground truth of what was committed is the table itself at the end.
 *
 * May import scripts/lib/local_cluster.ts.
 *
 * @module
 */
import {
  type LayoutOptions,
  LOCAL_SECRETS,
  type MemberLayout,
  readHealth,
  withSql,
} from "../../scripts/lib/local_cluster.ts";
import postgres from "postgres";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The newest PostgreSQL `bin` directory that has `program`. */
export async function pgProgram(program: string): Promise<string> {
  const versions: number[] = [];
  for await (const e of Deno.readDir("/usr/lib/postgresql")) if (/^\d+$/.test(e.name)) versions.push(+e.name);
  for (const v of versions.sort((a, b) => b - a)) {
    const path = `/usr/lib/postgresql/${v}/bin/${program}`;
    if (await Deno.stat(path).then(() => true, () => false)) return path;
  }
  throw new Error(`no ${program} under /usr/lib/postgresql/*/bin`);
}

interface Cluster {
  layout: LayoutOptions;
  byName(name: string): MemberLayout;
}

/** The member the `leader` key names, or null. */
async function currentLeader(c: Cluster): Promise<MemberLayout | null> {
  const h = await readHealth(c.layout).catch(() => null);
  return h?.leader ? c.byName(h.leader) : null;
}

export interface Consumer {
  /** The ids of `table` received so far, in order (a change sent twice appears twice). */
  received(): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * Stream `slot` (test_decoding) into `file` (appending), from the current leader, reconnecting until stopped;
 * `starts.count` counts the starts of pg_recvlogical. Stopping twice is harmless.
 */
export async function startConsumer(
  c: Cluster,
  slot: string,
  file: string,
  table: string,
  starts: { count: number },
): Promise<Consumer> {
  const bin = await pgProgram("pg_recvlogical");
  let stopped = false;
  let child: Deno.ChildProcess | null = null;
  const log: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const leader = await currentLeader(c);
      if (!leader) {
        await delay(200); // poll again: no leader yet
        continue;
      }
      const dsn =
        `host=127.0.0.1 port=${leader.pgPort} dbname=postgres user=${LOCAL_SECRETS.superuser.username}`;
      child = new Deno.Command(bin, {
        args: ["-d", dsn, "--slot", slot, "--start", "--no-loop", "-f", file, "-F", "1", "-s", "1"],
        env: { PGPASSWORD: LOCAL_SECRETS.superuser.password, PGCONNECT_TIMEOUT: "3" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      starts.count++;
      const [, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
      if (err.trim()) log.push(`${leader.name}: ${err.trim()}`);
      child = null;
      if (!stopped) await delay(300); // back off before reconnecting, as a CDC tool does
    }
  })();
  const pattern = new RegExp(`^table public\\.${table}: INSERT: id\\[integer\\]:(\\d+)`, "gm");
  return {
    async received() {
      const text = await Deno.readTextFile(file).catch(() => "");
      return [...text.matchAll(pattern)].map((m) => Number(m[1]));
    },
    async stop() {
      stopped = true;
      try {
        child?.kill("SIGINT");
      } catch { /* exited meanwhile */ }
      await loop;
      // deno-lint-ignore no-console -- what the consumer said, for a failing run's log
      if (log.length) console.error(`pg_recvlogical said:\n${log.slice(-10).join("\n")}`);
      log.length = 0;
    },
  };
}

export interface RowWriter {
  /** Ids whose INSERT the current leader acknowledged. */
  readonly acked: () => number;
  stop(): Promise<void>;
}

/** Insert id 1, 2, ... (one transaction each, about every 10 ms) into `table` on the current leader. */
export function startRowWriter(c: Cluster, table: string): RowWriter {
  let stopped = false;
  let acked = 0;
  let next = 1;
  const loop = (async () => {
    while (!stopped) {
      const leader = await currentLeader(c);
      if (!leader) {
        await delay(100); // poll again: no leader yet
        continue;
      }
      const sql = postgres({
        host: "127.0.0.1",
        port: leader.pgPort,
        database: "postgres",
        username: LOCAL_SECRETS.superuser.username,
        password: LOCAL_SECRETS.superuser.password,
        max: 1,
        connect_timeout: 2,
        onnotice: () => {},
      });
      try {
        while (!stopped) {
          await sql.unsafe(`INSERT INTO ${table} (id) VALUES ($1)`, [next++]);
          acked++;
          await delay(10); // pacing
        }
      } catch {
        await delay(100); // the primary went away (or is read-only): find the leader again
      } finally {
        await sql.end({ timeout: 1 }).catch(() => {});
      }
    }
  })();
  return {
    acked: () => acked,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The ids in `table` on `m`. */
export function committedIds(m: MemberLayout, table: string): Promise<number[]> {
  return withSql(m, async (sql) => {
    const rows = await sql.unsafe(`SELECT id FROM ${table} ORDER BY id`);
    return rows.map((r) => Number(r["id"]));
  });
}
