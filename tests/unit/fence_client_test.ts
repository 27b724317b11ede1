/**
 * Specification of `src/host/fence_client.ts`: the agent starts `hactl fence-supervisor` for its data directory
 * (under `deno run`, the repository's supervisor module, whatever the Deno executable is called), in a session and process
 * group of its own; every line is acknowledged; a supervisor that is not running or not answering is reported as
 * not usable, and one that exits is started again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sleepMs } from "../../cli/fence_supervisor.ts";
import { startFenceSupervisor } from "../../src/host/fence_client.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const quiet = { info: () => {}, error: () => {} };

/** Poll `cond` every 50 ms until it holds or `ms` pass; throws `what` on timeout. */
async function eventually(what: string, ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** state, ppid, process group and session of a process (from /proc/PID/stat). */
function procStat(pid: number): { state: string; pgrp: number; session: number } {
  const [state, , pgrp, session] = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return { state: state!, pgrp: Number(pgrp), session: Number(session) };
}

Deno.test("startFenceSupervisor() runs the supervisor for the data directory; arm and disarm are acknowledged", async () => {
  await withTempDir("hactl-fence-client-", async (dir) => {
    const dataDir = `${dir}/data`;
    const errors: string[] = [];
    const supervisor = startFenceSupervisor({
      dataDir,
      log: { info: () => {}, error: (m) => errors.push(m) },
    });
    assert.equal(await supervisor.ready(60_000), true, "the supervisor said it is ready");
    supervisor.channel.arm(60_000);
    supervisor.channel.disarm();
    await eventually("both lines are acknowledged", 10_000, () => supervisor.status().unanswered === 0);
    assert.equal(supervisor.status().state, "running");
    assert.equal(supervisor.channel.unusable(), null);
    await supervisor.close();
    assert.deepEqual(errors, []);
    const state = JSON.parse(await Deno.readTextFile(`${dataDir}.hactl-fence`));
    assert.equal(typeof state.pid, "number");
    assert.equal(state.deadlineUptimeMs, null, `disarmed: ${JSON.stringify(state)}`);
  });
});

/** A script that starts a supervisor for `dataDir`, prints its pid once ready, then arms it every 200 ms. */
async function writeProbe(dir: string, body: string): Promise<string> {
  const probe = `${dir}/probe.ts`;
  const client = new URL("../../src/host/fence_client.ts", import.meta.url).href;
  await Deno.writeTextFile(
    probe,
    `import { startFenceSupervisor } from ${JSON.stringify(client)};
const s = startFenceSupervisor({ dataDir: ${
      JSON.stringify(`${dir}/data`)
    }, log: { info: () => {}, error: (m) => console.error(m) } });
${body}`,
  );
  return probe;
}

Deno.test("the supervisor runs in a session and process group of its own: a stop signal to the agent's group does not stop it", async () => {
  await withTempDir("hactl-fence-session-", async (dir) => {
    const probe = await writeProbe(
      dir,
      `const ready = await s.ready(60_000);
console.log(JSON.stringify({ ready, pid: s.status().pid }));
await new Promise((r) => setTimeout(r, 600_000));`,
    );
    // The "agent" leads a session and process group of its own, as under a terminal or a service manager.
    const agent = new Deno.Command("setsid", {
      args: ["--wait", Deno.execPath(), "run", "--allow-all", probe],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = agent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let supervisorPid = 0;
    try {
      const { value } = await reader.read();
      const first = JSON.parse(value!.trim());
      assert.equal(first.ready, true, "the supervisor said it is ready");
      supervisorPid = first.pid;
      const sup = procStat(supervisorPid);
      assert.equal(sup.session, supervisorPid, "the supervisor leads a session of its own");
      assert.equal(sup.pgrp, supervisorPid, "and a process group of its own");
      const probePid = Number(
        Deno.readTextFileSync(`/proc/${supervisorPid}/stat`).split(") ")[1]!.split(" ")[1],
      );
      const group = procStat(probePid).pgrp;
      assert.notEqual(group, supervisorPid);
      Deno.kill(-group, "SIGSTOP"); // Ctrl-Z, `kill -STOP -PGID`
      try {
        await eventually("the agent is stopped", 5_000, () => procStat(probePid).state === "T");
        assert.notEqual(procStat(supervisorPid).state, "T", "the supervisor is not stopped with the agent");
      } finally {
        Deno.kill(-group, "SIGCONT");
      }
    } finally {
      reader.releaseLock();
      await agent.stdout.cancel().catch(() => {});
      try {
        agent.kill("SIGKILL");
      } catch { /* gone */ }
      await agent.status;
      if (supervisorPid) {
        try {
          Deno.kill(supervisorPid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  });
});

Deno.test("under deno run with the Deno executable under another name, the supervisor starts and answers", async () => {
  await withTempDir("hactl-fence-rename-", async (dir) => {
    const renamed = `${dir}/mydeno`;
    await Deno.symlink(Deno.execPath(), renamed);
    const probe = `${dir}/probe.ts`;
    const client = new URL("../../src/host/fence_client.ts", import.meta.url).href;
    await Deno.writeTextFile(
      probe,
      `import { startFenceSupervisor } from ${JSON.stringify(client)};
const s = startFenceSupervisor({ dataDir: ${
        JSON.stringify(`${dir}/data`)
      }, log: { info: () => {}, error: (m) => console.error(m) } });
const ready = await s.ready(60_000);
s.channel.arm(60_000);
await new Promise((r) => setTimeout(r, 300));
s.channel.disarm();
const end = Date.now() + 10_000;
while (s.status().unanswered !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ ready, ...s.status() }));
await s.close();
`,
    );
    const out = await new Deno.Command(renamed, { args: ["run", "--allow-all", probe], cwd: dir }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const status = JSON.parse(new TextDecoder().decode(out.stdout).trim());
    assert.equal(status.ready, true, `the supervisor said it is ready: ${stderr}`);
    assert.equal(status.state, "running", JSON.stringify(status));
  });
});

Deno.test("a supervisor that cannot start is not usable, says why, and is tried again", async () => {
  await withTempDir("hactl-fence-missing-", async (dir) => {
    const errors: string[] = [];
    const supervisor = startFenceSupervisor({
      dataDir: `${dir}/data`,
      command: [`${dir}/no-such-program`],
      log: { info: () => {}, error: (m) => errors.push(m) },
    });
    try {
      assert.match(supervisor.channel.unusable() ?? "", /could not start .*no-such-program/);
      assert.equal(supervisor.status().state, "not running");
      assert.equal(await supervisor.ready(200), false);
      await eventually("it was tried again", 5_000, () => supervisor.status().restarts >= 1);
      assert.match(
        errors[0]!,
        /the fencing supervisor is not running \(could not start .*\); starting it again/,
      );
    } finally {
      await supervisor.close();
    }
  });
});

Deno.test("a supervisor that runs but never answers is not usable once a line waited past the timeout", async () => {
  await withTempDir("hactl-fence-mute-", async (dir) => {
    let now = 0;
    const supervisor = startFenceSupervisor({
      dataDir: `${dir}/data`,
      command: ["sh", "-c", "exec sleep 600"],
      log: quiet,
      now: () => now,
    });
    try {
      assert.equal(supervisor.channel.unusable(), null, "within the timeout of its start");
      now = 2500;
      assert.match(supervisor.channel.unusable() ?? "", /has not said it is ready 2\.5 s after its start/);
      assert.equal(supervisor.status().state, "not answering");
    } finally {
      const pid = supervisor.status().pid;
      if (pid !== null) Deno.kill(pid, "SIGKILL");
      await supervisor.close();
    }
  });
});

Deno.test("a supervisor that exits is started again, told the deadline, and reported running again", async () => {
  await withTempDir("hactl-fence-restart-", async (dir) => {
    const errors: string[] = [];
    const infos: string[] = [];
    const dataDir = `${dir}/data`;
    const supervisor = startFenceSupervisor({
      dataDir,
      log: { info: (m) => infos.push(m), error: (m) => errors.push(m) },
    });
    try {
      assert.equal(await supervisor.ready(60_000), true);
      supervisor.channel.arm(600_000);
      const first = supervisor.status().pid!;
      Deno.kill(first, "SIGKILL");
      await eventually("it was started again and answered", 60_000, () => {
        const s = supervisor.status();
        return s.pid !== null && s.pid !== first && s.state === "running" && s.unanswered === 0;
      });
      assert.match(errors.join("\n"), /not running \(it was killed by SIGKILL\); starting it again in 0 s/);
      assert.match(infos.join("\n"), /running again/);
      const state = JSON.parse(await Deno.readTextFile(`${dataDir}.hactl-fence`));
      assert.equal(state.pid, supervisor.status().pid);
      assert.notEqual(
        state.deadlineUptimeMs,
        null,
        `the new supervisor holds the deadline: ${
          JSON.stringify({ state, status: supervisor.status(), first, errors, infos })
        }`,
      );
    } finally {
      supervisor.channel.disarm(); // an armed supervisor would outlive close() until its deadline
      await supervisor.close();
    }
  });
});

Deno.test("close() does not wait for a supervisor that does not exit (frozen, or guarding a deadline) for long", async () => {
  await withTempDir("hactl-fence-close-", async (dir) => {
    const supervisor = startFenceSupervisor({ dataDir: `${dir}/data`, log: quiet });
    assert.equal(await supervisor.ready(60_000), true);
    const pid = supervisor.status().pid!;
    Deno.kill(pid, "SIGSTOP");
    try {
      const t0 = performance.now();
      await supervisor.close();
      assert.ok(performance.now() - t0 < 15_000, "close() returned within its bound");
    } finally {
      Deno.kill(pid, "SIGKILL");
    }
  });
});

/** Milliseconds on the host's uptime clock (the one the supervisor keeps its deadline on). */
function uptimeNowMs(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(/\s+/)[0]) * 1000;
}

Deno.test("fence-stale: an arm read by a supervisor thawed after a SIGSTOP counts from when the agent sent it", async () => {
  await withTempDir("hactl-fence-thaw-", async (dir) => {
    const dataDir = `${dir}/data`;
    const errors: string[] = [];
    const supervisor = startFenceSupervisor({
      dataDir,
      log: { info: () => {}, error: (m) => errors.push(m) },
    });
    try {
      assert.equal(await supervisor.ready(60_000), true);
      const pid = supervisor.status().pid!;
      Deno.kill(pid, "SIGSTOP");
      const sentAt = uptimeNowMs();
      // The agent renews and arms 3 s ahead while its supervisor is stopped: the line waits in the pipe.
      supervisor.channel.arm(3000);
      // Thawed 4 s later, the deadline the agent asked for has passed: it must fire at once, not 3 s after the thaw.
      while (uptimeNowMs() < sentAt + 4000) await new Promise((r) => setTimeout(r, 50));
      Deno.kill(pid, "SIGCONT");
      await eventually(
        "the thawed supervisor fired",
        2000,
        () => errors.some((e) => /deadline passed/.test(e)),
      );
    } finally {
      supervisor.channel.disarm();
      await supervisor.close();
    }
  });
});

Deno.test("fence-window: a supervisor that exits or stops answering tells the agent at once (its loop wakes)", async () => {
  await withTempDir("hactl-fence-wake-", async (dir) => {
    const supervisor = startFenceSupervisor({ dataDir: `${dir}/data`, log: quiet });
    const told: string[] = [];
    const listen = supervisor as unknown as { whenUnusable?: (fn: (why: string) => void) => void };
    listen.whenUnusable?.((why) => void told.push(why));
    try {
      assert.equal(await supervisor.ready(60_000), true);
      const first = supervisor.status().pid!;
      Deno.kill(first, "SIGKILL");
      await eventually("the agent was told it exited", 2000, () => told.length >= 1);
      assert.match(told[0]!, /it was killed by SIGKILL/);
      await eventually("it runs again", 60_000, () => supervisor.status().state === "running");
      // Frozen: noticed once a line waited past the timeout, without waiting for the agent's next cycle.
      const second = supervisor.status().pid!;
      Deno.kill(second, "SIGSTOP");
      try {
        await eventually("the agent was told it does not answer", 5000, () => told.length >= 2);
        assert.match(told[1]!, /has not answered for/);
      } finally {
        Deno.kill(second, "SIGCONT");
      }
    } finally {
      await supervisor.close();
    }
  });
});

Deno.test("an idle supervisor armed with a near deadline fires at it, not at its next idle wake-up", async () => {
  await withTempDir("hactl-fence-near-", async (dir) => {
    const errors: string[] = [];
    const supervisor = startFenceSupervisor({
      dataDir: `${dir}/data`,
      log: { info: () => {}, error: (m) => errors.push(m) },
    });
    try {
      assert.equal(await supervisor.ready(60_000), true);
      // Let it settle into its idle sleep (disarmed: up to 1 s), then arm 200 ms ahead.
      await new Promise((r) => setTimeout(r, 300));
      const sentAt = uptimeNowMs();
      supervisor.channel.arm(200);
      await eventually("the supervisor fired", 5000, () => errors.some((e) => /deadline passed/.test(e)));
      const firedAfter = uptimeNowMs() - sentAt;
      assert.ok(firedAfter >= 190, `fired ${firedAfter} ms after the arm, before its deadline`);
      assert.ok(firedAfter < 750, `fired ${firedAfter} ms after an arm of 200 ms: it slept through the line`);
    } finally {
      supervisor.channel.disarm();
      await supervisor.close();
    }
  });
});

Deno.test("fence-persist: a supervisor that cannot write its deadline to disk makes the agent not lead until it can", async () => {
  await withTempDir("hactl-fence-persist-", async (dir) => {
    // The data directory's parent does not exist yet (as before a first initdb creates it).
    const dataDir = `${dir}/missing/data`;
    const supervisor = startFenceSupervisor({ dataDir, log: quiet });
    try {
      assert.equal(await supervisor.ready(60_000), true);
      // Disarmed, there is no deadline to lose: usable (an agent may bootstrap, which creates the directory).
      supervisor.channel.disarm();
      await eventually("the disarm is acknowledged", 10_000, () => supervisor.status().unanswered === 0);
      assert.equal(supervisor.channel.unusable(), null);
      // Armed, a deadline that a restarted supervisor could not adopt: not usable, and it says why.
      supervisor.channel.arm(60_000);
      await eventually("the arm is acknowledged", 10_000, () => supervisor.status().unanswered === 0);
      assert.match(supervisor.channel.unusable() ?? "", /cannot keep its deadline on disk .*cannot write/);
      // A disarm does not prove the disk works again: still not usable.
      supervisor.channel.disarm();
      await eventually("the disarm is acknowledged", 10_000, () => supervisor.status().unanswered === 0);
      assert.notEqual(supervisor.channel.unusable(), null);
      // Once the directory exists, the next ping writes the state and the supervisor is usable again.
      await Deno.mkdir(`${dir}/missing`);
      await eventually("a ping wrote the state file", 10_000, () => supervisor.channel.unusable() === null);
      const state = JSON.parse(await Deno.readTextFile(`${dataDir}.hactl-fence`));
      assert.equal(state.deadlineUptimeMs, null);
    } finally {
      await supervisor.close();
    }
  });
});

Deno.test("the supervisor sleeps until its deadline, at least 10 ms and at most 1 s", () => {
  assert.equal(sleepMs(null, 5000), 1000);
  assert.equal(sleepMs(5300, 5000), 300);
  assert.equal(sleepMs(9000, 5000), 1000);
  assert.equal(sleepMs(5000, 5000), 10);
  assert.equal(sleepMs(4000, 5000), 10);
});

Deno.test("answered(): true only while the supervisor has acknowledged every line (a stopped one holds an older deadline)", async () => {
  await withTempDir("hactl-fence-answered-", async (dir) => {
    const supervisor = startFenceSupervisor({
      dataDir: `${dir}/data`,
      log: { info: () => {}, error: () => {} },
    });
    try {
      assert.equal(await supervisor.ready(60_000), true);
      await eventually("the start is acknowledged", 10_000, () => supervisor.channel.answered?.() === true);
      const pid = supervisor.status().pid!;
      Deno.kill(pid, "SIGSTOP");
      supervisor.channel.arm(60_000);
      assert.equal(
        supervisor.channel.answered?.(),
        false,
        "the arm waits in the pipe of a stopped supervisor",
      );
      Deno.kill(pid, "SIGCONT");
      await eventually(
        "the thawed supervisor acknowledged the arm",
        10_000,
        () => supervisor.channel.answered?.() === true,
      );
    } finally {
      supervisor.channel.disarm();
      await supervisor.close();
    }
  });
});

/** Timers on a clock the test moves: `fire(t)` moves it to `t` and runs every timer due by then. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const live = new Map<number, { fn: () => void; at: number }>();
  return {
    now: () => now,
    timers: {
      set: (fn: () => void, ms: number) => (live.set(next, { fn, at: now + ms }), next++),
      clear: (id: unknown) => void live.delete(id as number),
    },
    /** The times the live timers are due at, earliest first. */
    due: () => [...live.values()].map((t) => t.at).sort((a, b) => a - b),
    fire(t: number) {
      now = t;
      for (;;) {
        const hit = [...live.entries()].sort((a, b) => a[1].at - b[1].at).find(([, v]) => v.at <= now);
        if (!hit) return;
        live.delete(hit[0]);
        hit[1].fn();
      }
    },
  };
}

Deno.test("fence-idle: an idle client sleeps until its next ping, and a frozen supervisor is noticed as the line it left unanswered reaches the timeout", async () => {
  await withTempDir("hactl-fence-idle-", async (dir) => {
    const clock = fakeTimers();
    // Says it is ready, then answers nothing more (frozen).
    const supervisor = startFenceSupervisor({
      dataDir: `${dir}/data`,
      command: ["sh", "-c", "echo ready 1; exec sleep 600"],
      log: quiet,
      now: clock.now,
      timers: clock.timers,
    });
    const told: string[] = [];
    supervisor.whenUnusable((why) => void told.push(why));
    try {
      await eventually("it said it is ready", 10_000, () => supervisor.status().state === "running");
      // Idle, every line answered: one timer, the ping 1 s after the last line (no 250 ms poll).
      assert.deepEqual(clock.due(), [1000]);
      clock.fire(1000); // the ping is sent and is not answered
      assert.equal(supervisor.status().unanswered, 1);
      clock.fire(3000); // 2 s after the ping: not yet past the timeout
      assert.deepEqual(told, []);
      assert.equal(supervisor.channel.unusable(), null);
      clock.fire(3001); // just past it: the agent is told at once, with no poll in between
      assert.equal(told.length, 1, `told: ${JSON.stringify(told)}, timers due: ${clock.due()}`);
      assert.match(told[0]!, /has not answered for 2\.0 s/);
      assert.notEqual(supervisor.channel.unusable(), null);
    } finally {
      const pid = supervisor.status().pid;
      if (pid !== null) Deno.kill(pid, "SIGKILL");
      await supervisor.close();
    }
  });
});

Deno.test("fence-idle: a stopped supervisor is reported 2 s after the line it left unanswered (real timers, real supervisor)", async () => {
  await withTempDir("hactl-fence-bound-", async (dir) => {
    const supervisor = startFenceSupervisor({ dataDir: `${dir}/data`, log: quiet });
    let toldAt = 0;
    supervisor.whenUnusable(() => void (toldAt ||= performance.now()));
    try {
      assert.equal(await supervisor.ready(60_000), true);
      await eventually("every line is answered", 10_000, () => supervisor.status().unanswered === 0);
      const pid = supervisor.status().pid!;
      Deno.kill(pid, "SIGSTOP");
      try {
        const sentAt = performance.now();
        supervisor.channel.arm(60_000);
        await eventually("the agent was told", 10_000, () => toldAt > 0);
        const after = toldAt - sentAt;
        assert.ok(after >= 2000, `told ${after.toFixed(0)} ms after the line, before the timeout`);
        // Due 2.001 s after the line; the former 250 ms poll allowed up to 2.25 s. The rest is slack for a loaded
        // machine's timers.
        assert.ok(after < 3000, `told ${after.toFixed(0)} ms after the line was sent`);
      } finally {
        Deno.kill(pid, "SIGCONT");
      }
    } finally {
      supervisor.channel.disarm();
      await supervisor.close();
    }
  });
});
