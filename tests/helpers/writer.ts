/**
 * Observers for fault tests and the failover benchmark:
 *
 * - `startWriter`: a continuous writer. Every `intervalMs` it tries to insert one row `(seq, node, at)` into
 *   every member (one independent loop per member, each with its own connection), so it always finds whichever
 *   member accepts writes as soon as it does, and a member that hangs delays only its own loop. Each attempt takes
 *   the next client-generated sequence number; only ACKNOWLEDGED inserts are recorded (`{seq, node, sentAt,
 *   ackAt}`, monotonic ms from `performance.now()`). Connect and statement timeouts are ~1 s, enforced on the
 *   client side too, so no attempt blocks longer than that. Trying every member, rather than only the last good
 *   one, is what lets a test see two writable primaries at once instead of hoping to stumble on the second.
 * - pure analysis of the records: per-node ack windows and their overlaps (two writable primaries), the longest
 *   gap between consecutive acks (write unavailability), the first ack after a moment.
 * - `missingOn`: which acknowledged sequence numbers a member does not have (lost writes).
 * - `watchLeaderKey`: the leader key's puts and deletes with arrival times (lease expiry, new leader).
 *
 * Superuser credentials come from `LOCAL_SECRETS` (scripts/lib/local_cluster.ts).
 *
 * @module
 */
import postgres from "postgres";
import { Etcd3 } from "etcd3";
import { LOCAL_SECRETS, type MemberLayout } from "../../scripts/lib/local_cluster.ts";

/**
 * A member the writer addresses: its name (recorded as `node`) and its Postgres port, on loopback unless `host`
 * names another address (the chaos suite's namespace addresses).
 */
export type WriterTarget = Pick<MemberLayout, "name" | "pgPort"> & { host?: string };

/** One acknowledged write. Times are `performance.now()` readings (ms, monotonic). */
export interface AckRecord {
  seq: number;
  node: string;
  sentAt: number;
  ackAt: number;
}

/** Options of `startWriter`. */
export interface WriterOptions {
  /** Pause between two attempts on one member (default 20 ms). */
  intervalMs?: number;
  /** Connect and statement deadline per attempt (default 1000 ms). */
  timeoutMs?: number;
  /** Table to write (default `hactl_writes`; create it with `createWriteTable`). */
  table?: string;
  /**
   * The server-side `statement_timeout` (default: `timeoutMs`; 0: none). In synchronous replication a commit
   * whose wait for the standby is cancelled (by a statement timeout) is reported as successful although the
   * standby may not have it: sync tests pass 0 and rely on the client-side deadline alone, which never counts
   * as an acknowledgement.
   */
  statementTimeoutMs?: number;
}

/** A running writer. */
export interface Writer {
  /** The acknowledged writes so far (a live array; copy it to keep a snapshot). */
  readonly acks: readonly AckRecord[];
  /** Attempts that failed, per member (diagnostics). */
  readonly failures: Readonly<Record<string, number>>;
  /** The last error seen per member (diagnostics). */
  readonly lastErrors: Readonly<Record<string, string>>;
  /** Stop every loop, close the connections, return every acknowledged write in ack order. */
  stop(): Promise<AckRecord[]>;
}

export const WRITE_TABLE = "hactl_writes";

/** Create the writer's table on the primary (idempotent). */
export async function createWriteTable(primary: WriterTarget, table = WRITE_TABLE): Promise<void> {
  const sql = connect(primary, 3000);
  try {
    await sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${table} (seq bigint PRIMARY KEY, node text NOT NULL, at timestamptz NOT NULL)`,
    );
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function connect(t: WriterTarget, timeoutMs: number, statementTimeoutMs = timeoutMs): postgres.Sql {
  return postgres({
    host: t.host ?? "127.0.0.1",
    port: t.pgPort,
    database: "postgres",
    username: LOCAL_SECRETS.superuser.username,
    password: LOCAL_SECRETS.superuser.password,
    max: 1,
    connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
    idle_timeout: 0,
    max_lifetime: null,
    onnotice: () => {},
    // The writer's refused inserts (read-only replicas, 50 a second) stay out of the Postgres log.
    connection: {
      statement_timeout: statementTimeoutMs,
      application_name: "hactl-fault-writer",
      log_min_messages: "fatal",
      log_min_error_statement: "panic",
    },
  });
}

/** An error Postgres answered with while the session stays usable (e.g. read-only transaction on a replica). */
function sessionSurvives(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  // SQLSTATE classes 22/23/25/42: data, constraint, transaction state (read-only), syntax/undefined table.
  return typeof code === "string" && /^(22|23|25|42)/.test(code);
}

/** Start writing to every target at once; see the module comment. */
export function startWriter(targets: WriterTarget[], opts: WriterOptions = {}): Writer {
  const intervalMs = opts.intervalMs ?? 20;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const table = opts.table ?? WRITE_TABLE;
  const acks: AckRecord[] = [];
  const failures: Record<string, number> = {};
  const lastErrors: Record<string, string> = {};
  let nextSeq = 1;
  let stopped = false;
  const sleeps = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleeps.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleeps.add(done);
    });

  const loop = async (t: WriterTarget) => {
    failures[t.name] = 0;
    let sql: postgres.Sql | null = null;
    const drop = () => {
      // Do not wait for a hung server: close the socket now, in the background.
      sql?.end({ timeout: 0 }).catch(() => {});
      sql = null;
    };
    while (!stopped) {
      const seq = nextSeq++;
      sql ??= connect(t, timeoutMs, opts.statementTimeoutMs ?? timeoutMs);
      const client: postgres.Sql = sql;
      const sentAt = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 100);
        });
        await Promise.race([
          client.unsafe(`INSERT INTO ${table} (seq, node, at) VALUES ($1, $2, now())`, [seq, t.name]),
          deadline,
        ]);
        acks.push({ seq, node: t.name, sentAt, ackAt: performance.now() });
      } catch (err) {
        failures[t.name]!++;
        lastErrors[t.name] = err instanceof Error ? err.message : String(err);
        if (!sessionSurvives(err)) drop();
      } finally {
        clearTimeout(timer);
      }
      if (!stopped) await sleep(intervalMs);
    }
    drop();
  };
  const loops = targets.map(loop);

  return {
    acks,
    failures,
    lastErrors,
    async stop() {
      stopped = true;
      for (const wake of [...sleeps]) wake();
      await Promise.all(loops);
      return [...acks].sort((a, b) => a.ackAt - b.ackAt);
    },
  };
}

/** One node's span of acknowledged writes: first and last ack, and how many. */
export interface AckWindow {
  node: string;
  first: number;
  last: number;
  count: number;
}

/** Per node, the span from its first to its last acknowledged write (ordered by first ack). */
export function ackWindows(records: readonly AckRecord[]): AckWindow[] {
  const byNode = new Map<string, AckWindow>();
  for (const r of records) {
    const w = byNode.get(r.node);
    if (!w) byNode.set(r.node, { node: r.node, first: r.ackAt, last: r.ackAt, count: 1 });
    else {
      w.first = Math.min(w.first, r.ackAt);
      w.last = Math.max(w.last, r.ackAt);
      w.count++;
    }
  }
  return [...byNode.values()].sort((a, b) => a.first - b.first);
}

/** Two nodes that both acknowledged writes within one time window. */
export interface AckOverlap {
  nodes: [string, string];
  /** The intersection of the two nodes' ack windows (ms, monotonic). */
  from: number;
  to: number;
  /** Acks of each node inside the intersection. */
  acks: [number, number];
}

/**
 * Pairs of nodes whose ack windows intersect: node A acknowledged writes both before and after node B did (or at
 * the same moment), so both were writable primaries at once. Assumes, as in every fault test, that a node is
 * primary for at most one stretch while recording (a node promoted twice would also show up here, which is then
 * worth a look too). Empty when there was one writable primary at a time.
 */
export function overlappingWindows(records: readonly AckRecord[]): AckOverlap[] {
  const windows = ackWindows(records);
  const out: AckOverlap[] = [];
  for (let i = 0; i < windows.length; i++) {
    for (let j = i + 1; j < windows.length; j++) {
      const a = windows[i]!;
      const b = windows[j]!;
      const from = Math.max(a.first, b.first);
      const to = Math.min(a.last, b.last);
      if (from > to) continue;
      const inside = (n: string) =>
        records.filter((r) => r.node === n && r.ackAt >= from && r.ackAt <= to).length;
      out.push({ nodes: [a.node, b.node], from, to, acks: [inside(a.node), inside(b.node)] });
    }
  }
  return out;
}

/** A human line for overlaps, relative to `t0`. */
export function describeOverlaps(overlaps: readonly AckOverlap[], t0 = 0): string {
  return overlaps.map((o) =>
    `${o.nodes[0]} and ${o.nodes[1]} both acknowledged writes between ${(o.from - t0).toFixed(0)} and ${
      (o.to - t0).toFixed(0)
    } ms (${o.acks[0]} and ${o.acks[1]} acks)`
  ).join("; ");
}

/** The longest stretch without an acknowledged write. */
export interface AckGap {
  ms: number;
  /** The ack before the gap (null: the gap starts at `from`). */
  before: AckRecord | null;
  /** The ack after the gap (null: no ack after it until `to`). */
  after: AckRecord | null;
}

/**
 * The longest gap between consecutive acknowledged writes (any node) within [from, to]; the edges count as
 * boundaries when given, so a writer that never recovered shows the whole tail as a gap.
 */
export function longestGap(records: readonly AckRecord[], from?: number, to?: number): AckGap {
  const sorted = records.filter((r) =>
    (from === undefined || r.ackAt >= from) && (to === undefined || r.ackAt <= to)
  )
    .sort((a, b) => a.ackAt - b.ackAt);
  let best: AckGap = { ms: 0, before: null, after: null };
  let prevAt = from ?? sorted[0]?.ackAt ?? 0;
  let prev: AckRecord | null = null;
  for (const r of sorted) {
    if (r.ackAt - prevAt > best.ms) best = { ms: r.ackAt - prevAt, before: prev, after: r };
    prevAt = r.ackAt;
    prev = r;
  }
  if (to !== undefined && to - prevAt > best.ms) best = { ms: to - prevAt, before: prev, after: null };
  return best;
}

/** The first acknowledged write after `t` (optionally on one node), or null. */
export function firstAckAfter(records: readonly AckRecord[], t: number, node?: string): AckRecord | null {
  let best: AckRecord | null = null;
  for (const r of records) {
    if (r.ackAt > t && (node === undefined || r.node === node) && (!best || r.ackAt < best.ackAt)) best = r;
  }
  return best;
}

/** Acknowledged sequence numbers that `target` does not hold (sorted). Throws when it cannot be read. */
export async function missingOn(
  target: WriterTarget,
  records: readonly AckRecord[],
  table = WRITE_TABLE,
): Promise<number[]> {
  const sql = connect(target, 5000);
  try {
    const rows = await sql.unsafe<{ seq: string }[]>(`SELECT seq::text AS seq FROM ${table}`);
    const present = new Set(rows.map((r) => Number(r.seq)));
    return records.map((r) => r.seq).filter((s) => !present.has(s)).sort((a, b) => a - b);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** An event on the leader key, with the time it reached this process (`performance.now()`). */
export interface LeaderEvent {
  type: "put" | "delete";
  /** The member named by a put; null for a delete. */
  value: string | null;
  at: number;
}

/** A live watch on `/<namespace>/<scope>/leader`. */
export interface LeaderWatch {
  readonly events: readonly LeaderEvent[];
  /** The first event after `t` matching `pred`, or null. */
  firstAfter(t: number, pred: (e: LeaderEvent) => boolean): LeaderEvent | null;
  close(): Promise<void>;
}

/** Watch the leader key (deletes include lease expiry). Resolves once the watch is established. */
export async function watchLeaderKey(
  endpoints: string[],
  scope: string,
  namespace = "/service/",
): Promise<LeaderWatch> {
  const client = new Etcd3({ hosts: endpoints });
  const events: LeaderEvent[] = [];
  const key = `${namespace.replace(/\/?$/, "/")}${scope}/leader`;
  try {
    const watcher = await client.watch().key(key).create();
    watcher.on(
      "put",
      (kv) => events.push({ type: "put", value: kv.value.toString(), at: performance.now() }),
    );
    watcher.on("delete", () => events.push({ type: "delete", value: null, at: performance.now() }));
    return {
      events,
      firstAfter: (t, pred) => events.find((e) => e.at > t && pred(e)) ?? null,
      async close() {
        await watcher.cancel().catch(() => {});
        client.close();
      },
    };
  } catch (err) {
    client.close();
    throw err;
  }
}
