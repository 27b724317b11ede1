/**
 * The simulated watchdog device of one host, driven by the agent's real `Watchdog` (src/host/watchdog.ts): once
 * opened it resets the host unless a keepalive comes within its timeout; the magic close stops it; a process that
 * dies without closing it leaves it counting (as the kernel's does), so a killed or frozen leader's host is reset.
 * Its deadline (last keepalive + timeout) is one of the fence deadlines invariant (g)
 * compares with the lease.
 *
 * Imports the watchdog module of src/host (its `Watchdog`, device interface and flags).
 *
 * @module
 */
import { Watchdog, type WatchdogDevice, type WatchdogSupport } from "../../src/host/watchdog.ts";
import { WDIOF } from "../../src/host/watchdog_linux.ts";
import type { WatchdogPort } from "../../src/core/ports.ts";

/** What the device needs from the simulator. */
export interface DeviceHost {
  now(): number;
  at(at: number, fn: () => void): void;
  /** The device fired: reset the host. */
  reset(): void;
}

export class SimWatchdogDevice implements WatchdogDevice {
  readonly path = "/dev/watchdog";
  #open = false;
  #timeout = 60;
  /** When the device fires unless kept alive (virtual ms), or null while closed. */
  deadline: number | null = null;

  constructor(private readonly host: DeviceHost) {}

  get isOpen(): boolean {
    return this.#open;
  }
  describe(): string {
    return "simulated watchdog";
  }
  open(): void {
    this.#open = true;
    this.keepalive();
  }
  support(): WatchdogSupport {
    return {
      options: WDIOF.SETTIMEOUT | WDIOF.MAGICCLOSE | WDIOF.KEEPALIVEPING,
      firmwareVersion: 0,
      identity: "sim",
    };
  }
  setTimeout(seconds: number): void {
    this.#timeout = seconds;
    this.keepalive();
  }
  getTimeout(): number {
    return this.#timeout;
  }
  keepalive(): void {
    if (!this.#open) return;
    const at = this.host.now() + this.#timeout * 1000;
    this.deadline = at;
    this.host.at(at, () => {
      if (this.#open && this.deadline === at) {
        this.close();
        this.host.reset();
      }
    });
  }
  close(): void {
    this.#open = false;
    this.deadline = null;
  }
}

/**
 * The agent's watchdog (mode `required`, safety margin 5 s as Patroni's default, or `margin` when it is a number)
 * on the host's device.
 */
export function simWatchdog(
  device: SimWatchdogDevice,
  now: () => number,
  margin: boolean | number = true,
): WatchdogPort {
  const safetyMargin = typeof margin === "number" ? margin : 5;
  return new Watchdog({
    config: { mode: "required", device: device.path, safetyMargin, driver: "default" },
    device,
    probe: () => null,
    now,
    log: { info: () => {}, warn: () => {}, error: () => {} },
  });
}

/** The agent's `watchdog` option for the sim's `watchdog` setting: none when false (see {@linkcode simWatchdog}). */
export function simWatchdogPart(
  option: boolean | number,
  device: SimWatchdogDevice,
  now: () => number,
): { watchdog?: WatchdogPort } {
  return option === false ? {} : { watchdog: simWatchdog(device, now, option) };
}
