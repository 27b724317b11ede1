/**
 * The transcript language of `tests/sim/testdata/*.txt` and its interpreter.
 *
 * A transcript opens with a `#` line stating its intent. Lines starting with `#` and blank lines are kept as they
 * are; other unindented lines are commands; indented lines are output, regenerated on every replay:
 *
 * ```
 * members 3                  start a cluster of pg1..pg3 (optional: seed=N)
 * run 60s                    advance virtual time (ms, s, m); prints the cycles whose sentence changed
 * partition pg1 / heal pg1   cut the host from etcd, peers and replication / heal it
 * partition-dcs pg1          cut only the etcd link (healed by `heal`)
 * crash-postgres pg1         the postmaster dies
 * stop-agent pg1 / start-agent pg1 / restart-agent pg1   graceful shutdown, fresh agent
 * kill-agent pg1             the agent process dies, Postgres keeps running
 * host-crash pg1 / host-start pg1
 * delay pg1 15s              hold back pg1's cycles
 * lag pg2 / catch-up pg2     a replica stops receiving WAL / resumes
 * stop-receiver pg2 / start-receiver pg2   a replica's WAL receiver goes down (in archive recovery) / comes back
 * write 100000               clients write bytes on the running primary
 * set-config synchronous_mode true   merge one key (its value as YAML) into the `config` key
 * expect leader pg2          pg2 holds the leader key and runs as primary (`expect leader none`: nobody does)
 * expect streaming pg2 pg3   each is a running replica that streams
 * expect not-streaming pg1   pg1 is not streaming (stopped, primary, or in archive recovery)
 * expect timeline pg2 2      pg2's data is on timeline 2
 * ```
 *
 * Output: each member's cycle sentence is printed when it differs from the one printed before for that member
 * (with the cycle's actions), and every fault or event is printed as `-- what happened`. Expectations print
 * nothing; a failed one throws.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { Sim } from "./sim.ts";
import { formatTraceLine, type TraceLine } from "./trace.ts";

/** Parse `60s`, `500ms`, `2m`, `1.5s` into ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(text)}: expected e.g. 500ms, 60s or 2m`);
  const n = Number(m[1]);
  return Math.round(m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000);
}

/** Replay a transcript; returns the regenerated text (same commands and comments, fresh output). */
export async function replayTranscript(source: string, file = "<transcript>"): Promise<string> {
  const out: string[] = [];
  let sim: Sim | null = null;
  const lastPrinted = new Map<string, string>();
  const onLine = (l: TraceLine) => {
    if (l.kind === "event") {
      lastPrinted.delete(l.member);
    } else {
      const key = l.text + (l.failed ?? "");
      if (lastPrinted.get(l.member) === key) return;
      lastPrinted.set(l.member, key);
    }
    out.push(`  ${formatTraceLine(l).trimStart()}`);
  };
  const lines = source.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [i, line] of lines.entries()) {
    if (/^\s+\S/.test(line)) continue; // old output
    out.push(line);
    if (line.trim() === "" || line.startsWith("#")) continue;
    const where = `${file}:${i + 1}: ${line}`;
    const [cmd, ...args] = line.trim().split(/\s+/);
    const need = (): Sim => {
      if (!sim) throw new Error(`${where}: no cluster yet; start with "members N"`);
      return sim;
    };
    const arg = (k: number): string => {
      const v = args[k];
      if (v === undefined) throw new Error(`${where}: missing argument ${k + 1}`);
      return v;
    };
    try {
      switch (cmd) {
        case "members": {
          const opts = Object.fromEntries(args.slice(1).map((a) => a.split("=") as [string, string]));
          const rewind = opts["rewind"] === "on";
          sim = new Sim({
            members: Number(arg(0)),
            seed: Number(opts["seed"] ?? 1),
            onLine,
            ...(rewind ? { bootstrapDcs: { postgresql: { use_slots: true, use_pg_rewind: true } } } : {}),
          });
          break;
        }
        case "run":
          await need().run(parseDuration(arg(0)));
          break;
        case "partition":
          need().partition(arg(0), true);
          break;
        case "partition-dcs":
          need().partitionDcs(arg(0), true);
          break;
        case "heal": {
          const s = need();
          if (s.member(arg(0)).dcsPartitioned) s.partitionDcs(arg(0), false);
          if (s.member(arg(0)).partitioned) s.partition(arg(0), false);
          break;
        }
        case "crash-postgres":
          need().crashPostgres(arg(0));
          break;
        case "stop-agent":
          need().stopAgent(arg(0));
          break;
        case "start-agent":
          need().startAgent(arg(0));
          break;
        case "restart-agent":
          need().restartAgent(arg(0));
          break;
        case "kill-agent":
          need().killAgent(arg(0));
          break;
        case "host-crash":
          need().hostCrash(arg(0));
          break;
        case "host-start":
          need().hostStart(arg(0));
          break;
        case "delay":
          need().delay(arg(0), parseDuration(arg(1)));
          break;
        case "lag":
          need().lag(arg(0), true);
          break;
        case "catch-up":
          need().lag(arg(0), false);
          break;
        case "stop-receiver":
          need().stopReceiver(arg(0), true);
          break;
        case "start-receiver":
          need().stopReceiver(arg(0), false);
          break;
        case "write":
          need().write(Number(arg(0)));
          break;
        case "switchover":
          need().requestFailover(args[1] ? { leader: arg(0), member: arg(1) } : { leader: arg(0) });
          break;
        case "failover":
          need().requestFailover({ member: arg(0) });
          break;
        case "set-config":
          need().setConfig({ [arg(0)]: parseYaml(args.slice(1).join(" ")) });
          break;
        case "expect":
          expect(need(), args, where);
          break;
        default:
          throw new Error(`${where}: unknown command ${JSON.stringify(cmd)}`);
      }
    } catch (err) {
      if (err instanceof Error && !err.message.startsWith(file)) err.message = `${where}\n${err.message}`;
      throw err;
    }
  }
  return out.join("\n") + "\n";
}

function expect(sim: Sim, args: string[], where: string): void {
  const [what, ...names] = args;
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}\nlast trace lines:\n${sim.traceTail(20).join("\n")}`);
  };
  switch (what) {
    case "leader": {
      const want = names[0];
      const got = sim.leaderKey();
      if (want === "none") {
        if (got !== null) fail(`expected no leader, found ${got}`);
        return;
      }
      if (got !== want) fail(`expected leader ${want}, found ${got ?? "no leader"}`);
      if (!sim.member(want!).pg.isRunningPrimary()) fail(`leader ${want} does not run as primary`);
      return;
    }
    case "streaming":
      for (const n of names) {
        const src = sim.member(n).pg.streamSource();
        if (!src) fail(`expected ${n} to stream, but it does not`);
      }
      return;
    case "not-streaming":
      for (const n of names) {
        const src = sim.member(n).pg.streamSource();
        if (src) fail(`expected ${n} not to stream, but it streams from ${src.name}`);
      }
      return;
    case "timeline": {
      const [n, tl] = names;
      const got = sim.member(n!).pg.timeline;
      if (got !== Number(tl)) fail(`expected ${n} on timeline ${tl}, found ${got}`);
      return;
    }
    default:
      fail(
        `unknown expectation ${JSON.stringify(what)}: expected leader, streaming, not-streaming or timeline`,
      );
  }
}
