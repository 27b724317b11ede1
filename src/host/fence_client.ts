/**
 * The agent's side of the fencing supervisor: spawns `hactl fence-supervisor --data-dir <dir>` (the same binary;
 * under `deno run`, the same main.ts) and gives the HA loop a `FenceChannel` that writes `arm <ms>` / `disarm`
 * lines to the supervisor's stdin. The supervisor's own logic is `./fence_supervisor.ts`.
 *
 * May import: `src/core/` (the `FenceChannel` port).
 *
 * @module
 */
import type { FenceChannel } from "../core/ports.ts";

/** A started fencing supervisor: the line the agent arms and disarms it through, and a way to let it go. */
export interface FenceSupervisorClient {
  channel: FenceChannel;
  /** Close the supervisor's stdin (it disarms and exits) and wait for it to end. */
  close(): Promise<void>;
}

/**
 * Start `hactl fence-supervisor` for this data directory (the same binary; under `deno run`, the same main.ts),
 * and return the line the agent talks to it through. A supervisor that cannot be started or has died is logged;
 * the agent's in-process fence timer still works.
 */
export function startFenceSupervisor(dataDir: string, warn: (m: string) => void): FenceSupervisorClient {
  const exe = Deno.execPath();
  const underDeno = /(^|\/)deno$/.test(exe);
  const args = [
    ...(underDeno ? ["run", "--allow-all", new URL("../../main.ts", import.meta.url).pathname] : []),
    "fence-supervisor",
    "--data-dir",
    dataDir,
  ];
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  let child: Deno.ChildProcess | null = null;
  try {
    child = new Deno.Command(exe, { args, stdin: "piped", stdout: "null", stderr: "inherit" }).spawn();
    writer = child.stdin.getWriter();
    child.status.then((s) => {
      if (!s.success) warn(`the fencing supervisor exited with code ${s.code}`);
      writer = null;
    });
  } catch (err) {
    warn(`could not start the fencing supervisor: ${err instanceof Error ? err.message : err}`);
  }
  const enc = new TextEncoder();
  const send = (line: string) => {
    writer?.write(enc.encode(line + "\n")).catch(() => {
      warn("the fencing supervisor is gone");
      writer = null;
    });
  };
  return {
    channel: { arm: (ms) => send(`arm ${ms}`), disarm: () => send("disarm") },
    close: async () => {
      await writer?.close().catch(() => {});
      await child?.status.catch(() => {});
    },
  };
}
