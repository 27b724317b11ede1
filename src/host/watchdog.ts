/**
 * The watchdog: a device that resets the host unless this agent pings it in time, so a leader whose agent froze,
 * stalled or died cannot keep a writable primary running past its leader key.
 *
 * Owns the modes (`off`; `automatic`: use the device when it works, warn when not; `required`: a member without
 * a working watchdog never takes or keeps the leader key), the timeout `ttl - safety_margin` (`safety_margin: -1`
 * means ttl/2), activation when this member holds the lock, one keepalive per successful lease renewal (timeout
 * changes applied there, in step with the lease), and the magic close (`V`) on pause, demotion and shutdown.
 *
 * Drivers: `default` is the kernel device through FFI (src/host/watchdog_linux.ts); `testing` writes Patroni's test
 * protocol to a file or FIFO (`Ctimeout=<n>\n` when the timeout is set, `1` per keepalive, `V` on close), so a
 * test reading the FIFO can see pings, timeouts and whether the device would have fired.
 *
 * The agent reaches it through the `WatchdogPort` interface of src/core/ports.ts; the pure core only sees whether a
 * required watchdog is unusable (`Observation.watchdogUnusable`).
 *
 * @module
 */
import type { WatchdogConfig } from "../config/config.ts";
import {
  checkWritable,
  LinuxWatchdogDevice,
  loadLibc,
  type WatchdogDevice,
  WatchdogError,
  type WatchdogSupport,
  WDIOF,
} from "./watchdog_linux.ts";

export { type WatchdogDevice, WatchdogError, type WatchdogSupport };

/** The device timeout for a lease: `ttl - safety_margin`, or `ttl / 2` (rounded down) when the margin is -1. */
export function watchdogTimeout(ttl: number, safetyMargin: number): number {
  return safetyMargin === -1 ? Math.floor(ttl / 2) : ttl - safetyMargin;
}

/** After a failed activation, the next attempt waits this long (a required watchdog counts as unusable meanwhile). */
export const ACTIVATION_RETRY_MS = 60_000;

export interface WatchdogLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface WatchdogDeps {
  config: WatchdogConfig;
  device: WatchdogDevice;
  /** Null when the device could be opened for writing, else why not. Must not open it (that would arm it). */
  probe(): string | null;
  /** Monotonic milliseconds. */
  now(): number;
  log: WatchdogLog;
}

/** The watchdog as the agent uses it (see `WatchdogPort` in src/core/ports.ts). */
export class Watchdog {
  #deps: WatchdogDeps;
  /** Seconds the device actually runs with while open. */
  #actualTimeout: number | null = null;
  /** The timeout asked for at activation or the last change (follows ttl). */
  #wantedTimeout: number | null = null;
  #canMagicClose = true;
  #lastKeepalive: number | null = null;
  /** The last activation or keepalive failure, and until when (monotonic ms) it stands. */
  #failure: { reason: string; until: number } | null = null;
  /** The activation failure automatic mode last warned about. */
  #warned: string | null = null;

  constructor(deps: WatchdogDeps) {
    this.#deps = deps;
  }

  get mode(): WatchdogConfig["mode"] {
    return this.#deps.config.mode;
  }

  /** The device is open and counting down. */
  get running(): boolean {
    return this.#deps.device.isOpen;
  }

  /** The timeout the device runs with (seconds), or null when closed. */
  get timeout(): number | null {
    return this.running ? this.#actualTimeout : null;
  }

  /**
   * The timeout (s) a keepalive with `ttl` now would leave the device counting down: the longer of the one it
   * runs with and the one it would activate or change to; null in mode `off` (nothing is pinged).
   */
  pingTimeout(ttl: number): number | null {
    if (this.mode === "off") return null;
    return Math.max(this.timeout ?? 0, watchdogTimeout(ttl, this.#deps.config.safetyMargin));
  }

  /**
   * Null unless the mode is `required` and the watchdog cannot be used; then why (Patroni's `is_healthy`): the
   * last activation or keepalive failed (for ACTIVATION_RETRY_MS), or, while it is not running, the timeout
   * leaves no slack over loop_wait or the device cannot be opened for writing. A member for which this is not
   * null must not hold the leader key.
   */
  unusable(ttl: number, loopWait: number): string | null {
    if (this.mode !== "required") return null;
    if (this.#failure && this.#deps.now() < this.#failure.until) return this.#failure.reason;
    // A running device stays usable unless a ttl decrease it could not take made it fail (#changeTimeout).
    if (this.running) return null;
    return this.#slackProblem(ttl, loopWait) ?? this.#deps.probe();
  }

  /**
   * Call after each successful take or renewal of the leader key: activates the device when it is not running,
   * sends one keepalive, and applies a changed timeout. Returns false only in `required` mode when the watchdog
   * is not running afterwards, or runs with a timeout longer than the lease allows (the caller must not promote
   * and must give the key up); `automatic` mode warns and carries on without it.
   */
  keepalive(ttl: number, loopWait: number): boolean {
    if (this.mode === "off") return true;
    const { log, now } = this.#deps;
    if (!this.running) {
      if (this.#failure && now() < this.#failure.until) return this.mode !== "required";
      try {
        this.#activate(ttl, loopWait);
        this.#failure = null;
        this.#warned = null;
        return true;
      } catch (err) {
        const reason = `could not activate the watchdog: ${messageOf(err)}`;
        this.#failure = { reason, until: now() + ACTIVATION_RETRY_MS };
        if (this.mode === "required") {
          log.error(`${reason}; the watchdog is required, so this member will not lead`);
          return false;
        }
        // Automatic mode retries quietly: one warning per distinct reason (Patroni warns once).
        if (reason !== this.#warned) log.warn(`${reason}; continuing without a watchdog`);
        this.#warned = reason;
        return true;
      }
    }
    this.#noteOverdue("keepalive");
    const device = this.#deps.device;
    try {
      device.keepalive();
      this.#lastKeepalive = now();
    } catch (err) {
      const reason = `watchdog keepalive failed: ${messageOf(err)}`;
      log.error(reason);
      if (this.mode === "required") {
        this.#failure = { reason, until: now() + ACTIVATION_RETRY_MS };
        return false;
      }
      return true;
    }
    const wanted = watchdogTimeout(ttl, this.#deps.config.safetyMargin);
    if (wanted !== this.#wantedTimeout && !this.#changeTimeout(wanted, loopWait)) return false;
    return true;
  }

  /** Magic-close the device (pause, demotion, shutdown). Nothing happens when it is not running. */
  disable(why: string): void {
    if (!this.running) return;
    const { device, log } = this.#deps;
    this.#noteOverdue("close");
    try {
      if (!this.#canMagicClose) {
        device.keepalive();
        log.warn(
          `${device.describe()} cannot be disabled: this host resets in ${this.#actualTimeout} s unless the ` +
            "watchdog is kept alive again",
        );
      }
      device.close();
      log.info(`watchdog closed: ${why}`);
    } catch (err) {
      log.error(`could not close the watchdog (${why}): ${messageOf(err)}`);
    }
    this.#actualTimeout = null;
    this.#wantedTimeout = null;
    this.#lastKeepalive = null;
  }

  #slackProblem(ttl: number, loopWait: number): string | null {
    const timeout = watchdogTimeout(ttl, this.#deps.config.safetyMargin);
    if (timeout - loopWait >= 0) return null;
    return `the watchdog timeout ${timeout} s (ttl ${ttl} - safety_margin) is shorter than loop_wait ${loopWait} s`;
  }

  #activate(ttl: number, loopWait: number): void {
    const slack = this.#slackProblem(ttl, loopWait);
    if (slack) throw new WatchdogError(slack);
    const { device, log, now } = this.#deps;
    const timeout = watchdogTimeout(ttl, this.#deps.config.safetyMargin);
    device.open();
    try {
      let support: WatchdogSupport;
      try {
        support = device.support();
      } catch (err) {
        log.warn(`${device.describe()} does not report its features (${messageOf(err)}); assuming none`);
        support = { options: 0, firmwareVersion: 0, identity: "" };
      }
      this.#canMagicClose = (support.options & WDIOF.MAGICCLOSE) !== 0;
      if (!this.#canMagicClose) {
        log.warn(
          `${device.describe()} cannot be disabled: it will reset this host after the leader key is lost`,
        );
      }
      if (support.options & WDIOF.SETTIMEOUT) device.setTimeout(timeout);
      const actual = device.getTimeout();
      if (actual < loopWait) {
        throw new WatchdogError(`loop_wait ${loopWait} s is too long for the watchdog's ${actual} s timeout`);
      }
      if (actual > timeout) {
        const msg =
          `the watchdog timeout is ${actual} s, more than the ${timeout} s that fences before the ` +
          `leader key expires`;
        if (this.mode === "required") throw new WatchdogError(msg);
        log.warn(`${msg}; it does not ensure a safe termination`);
      }
      device.keepalive();
      this.#lastKeepalive = now();
      this.#actualTimeout = actual;
      this.#wantedTimeout = timeout;
      log.info(
        `${device.describe()} activated with ${actual} second timeout, timing slack ${
          actual - loopWait
        } seconds`,
      );
    } catch (err) {
      // Never leave a half-configured device counting down.
      try {
        if (device.isOpen) device.close();
      } catch (closeErr) {
        log.error(`could not close ${device.path} after a failed activation: ${messageOf(closeErr)}`);
      }
      throw err;
    }
  }

  /**
   * Apply a new timeout (ttl changed). False only in `required` mode when the device still runs with a longer
   * timeout than wanted (a ttl decrease it did not take, because the device refused it or because the new
   * timeout leaves no slack over `loop_wait`, as at ttl 5 with `safety_margin` 5): it would fire only after the
   * shorter lease has expired, so it no longer guards the key; that counts as unusable (for ACTIVATION_RETRY_MS,
   * like a failed keepalive), and the member gives the key up and closes the device. `automatic` mode keeps the
   * device running with its old timeout, as Patroni does. A failed raise leaves a shorter timeout that fires
   * early, never late.
   */
  #changeTimeout(wanted: number, loopWait: number): boolean {
    const { device, log, now } = this.#deps;
    this.#wantedTimeout = wanted;
    let problem: string | null = null;
    if (wanted - loopWait < 0) {
      problem = `the new timeout is shorter than loop_wait ${loopWait} s`;
      log.error(`could not change the watchdog timeout to ${wanted} s: ${problem}`);
    } else {
      try {
        device.setTimeout(wanted);
        this.#actualTimeout = device.getTimeout();
        log.info(`watchdog timeout changed to ${this.#actualTimeout} s`);
      } catch (err) {
        problem = messageOf(err);
        log.error(`could not change the watchdog timeout to ${wanted} s: ${problem}`);
      }
    }
    const actual = this.#actualTimeout;
    if (this.mode !== "required" || actual === null || actual <= wanted) return true;
    const reason =
      `the watchdog timeout could not be lowered to ${wanted} s (it stays ${actual} s, past the ` +
      `leader key's expiry)${problem ? `: ${problem}` : ""}`;
    log.error(`${reason}; the watchdog is required, so this member will not lead`);
    this.#failure = { reason, until: now() + ACTIVATION_RETRY_MS };
    return false;
  }

  /** Say so when the previous keepalive is older than the timeout: the device fired (or a real one would have). */
  #noteOverdue(what: string): void {
    const last = this.#lastKeepalive;
    const timeout = this.#actualTimeout;
    if (last === null || timeout === null) return;
    const gap = (this.#deps.now() - last) / 1000;
    if (gap <= timeout) return;
    this.#deps.log.error(
      `watchdog ${what} came ${
        gap.toFixed(1)
      } s after the previous keepalive, past the ${timeout} s timeout: ` +
        "the watchdog fired (a hardware watchdog resets the host; the agent was frozen or stalled)",
    );
  }
}

/**
 * The testing driver: Patroni's protocol on a file or FIFO, opened read-write (so opening a FIFO never waits for
 * its reader): `Ctimeout=<n>\n` when the timeout is set, `1` per keepalive, `V` on close. It reports MAGICCLOSE
 * and SETTIMEOUT, and the timeout last set (60 s before that).
 */
export class TestingWatchdogDevice implements WatchdogDevice {
  #file: Deno.FsFile | null = null;
  #timeout = 60;

  constructor(readonly path: string) {}

  get isOpen(): boolean {
    return this.#file !== null;
  }

  describe(): string {
    return `Watchdog test harness at ${this.path}`;
  }

  open(): void {
    if (this.#file) return;
    try {
      this.#file = Deno.openSync(this.path, { read: true, append: true });
    } catch (err) {
      throw new WatchdogError(`cannot open ${this.path}: ${messageOf(err)}`);
    }
  }

  support(): WatchdogSupport {
    return {
      options: WDIOF.MAGICCLOSE | WDIOF.SETTIMEOUT,
      firmwareVersion: 0,
      identity: "Watchdog test harness",
    };
  }

  setTimeout(seconds: number): void {
    this.#write(`Ctimeout=${seconds}\n`);
    this.#timeout = seconds;
  }

  getTimeout(): number {
    return this.#timeout;
  }

  keepalive(): void {
    this.#write("1");
  }

  close(): void {
    const file = this.#file;
    if (!file) return;
    try {
      this.#write("V");
    } finally {
      file.close();
      this.#file = null;
    }
  }

  #write(text: string): void {
    if (!this.#file) throw new WatchdogError(`${this.path} is not open`);
    const bytes = new TextEncoder().encode(text);
    try {
      let done = 0;
      while (done < bytes.length) done += this.#file.writeSync(bytes.subarray(done));
    } catch (err) {
      throw new WatchdogError(`write to ${this.path} failed: ${messageOf(err)}`);
    }
  }
}

/** Without opening it: the testing device must exist as a FIFO or a regular file. */
function probeTestingDevice(path: string): string | null {
  try {
    const info = Deno.statSync(path);
    return info.isFifo || info.isFile ? null : `${path} is neither a FIFO nor a file`;
  } catch (err) {
    return `${path}: ${messageOf(err)}`;
  }
}

/** The real device's probe: `access(path, W_OK)` through libc. */
function probeLinuxDevice(path: string): string | null {
  try {
    return checkWritable(path);
  } catch (err) {
    return messageOf(err);
  }
}

/** The watchdog for a configuration: the driver's device and probe on the real clock. */
export function createWatchdog(config: WatchdogConfig, log: WatchdogLog): Watchdog {
  const testing = config.driver === "testing";
  return new Watchdog({
    config,
    device: testing ? new TestingWatchdogDevice(config.device) : new LinuxWatchdogDevice(config.device),
    probe: () => (testing ? probeTestingDevice(config.device) : probeLinuxDevice(config.device)),
    now: () => performance.now(),
    log,
  });
}

/**
 * Why this host can never run the configured watchdog (checked at start: `required` mode then refuses to start,
 * as Patroni does on a platform without watchdog support); null when it may.
 */
export function watchdogPlatformProblem(config: WatchdogConfig): string | null {
  if (config.mode === "off" || config.driver === "testing") return null;
  if (Deno.build.os !== "linux") {
    return `watchdog devices are only supported on Linux (this is ${Deno.build.os})`;
  }
  try {
    loadLibc();
    return null;
  } catch (err) {
    return messageOf(err);
  }
}

/** An error's message; Deno's file errors lose their `: open '<path>'` tail (the caller names the path). */
function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/: (open|stat|lstat|write) '[^']*'$/, "");
}
