/**
 * The fencing supervisor in `GET /patroni` (`fence_supervisor`) and `/metrics` (`hactl_fence_supervisor_*`), from
 * the node snapshot; and a peer whose answer says `usable: false` is marked as such for the leader race.
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildStatus } from "../../src/api/health.ts";
import { renderMetrics } from "../../src/api/metrics.ts";
import { parsePeerStatus } from "../../src/api/peer_client.ts";
import { primarySnap as snapshotOf } from "../helpers/api_snapshots.ts";

Deno.test("GET /patroni and /metrics report the fencing supervisor: running, not running, off", () => {
  const running = snapshotOf({ fenceSupervisor: { state: "running", usable: true, pid: 42, restarts: 0 } });
  assert.deepEqual(buildStatus(running, 0).fence_supervisor, {
    state: "running",
    usable: true,
    pid: 42,
    restarts: 0,
  });
  let m = renderMetrics(running, 0);
  assert.match(m, /^hactl_fence_supervisor_up\{[^}]*\} 1$/m);
  assert.match(m, /^hactl_fence_supervisor_enabled\{[^}]*\} 1$/m);
  const dead = snapshotOf({
    fenceSupervisor: {
      state: "not running",
      usable: false,
      pid: null,
      restarts: 3,
      problem: "it exited with code 1",
    },
  });
  assert.equal((buildStatus(dead, 0).fence_supervisor as { usable: boolean }).usable, false);
  m = renderMetrics(dead, 0);
  assert.match(m, /^hactl_fence_supervisor_up\{[^}]*\} 0$/m);
  assert.match(m, /^hactl_fence_supervisor_restarts_total\{[^}]*\} 3$/m);
  const off = snapshotOf({ fenceSupervisor: { state: "off", usable: true } });
  assert.deepEqual(buildStatus(off, 0).fence_supervisor, { state: "off", usable: true });
  m = renderMetrics(off, 0);
  assert.match(m, /^hactl_fence_supervisor_enabled\{[^}]*\} 0$/m);
  assert.match(m, /^hactl_fence_supervisor_up\{[^}]*\} 0$/m);
});

Deno.test("a peer whose fencing supervisor is not usable is marked fenceFailed", () => {
  const body = { role: "replica", state: "running", xlog: { received_location: 10, replayed_location: 10 } };
  assert.equal(
    parsePeerStatus("pg2", { ...body, fence_supervisor: { state: "not running", usable: false } })
      .fenceFailed,
    true,
  );
  assert.equal(
    parsePeerStatus("pg2", { ...body, fence_supervisor: { state: "running", usable: true } }).fenceFailed,
    undefined,
  );
  assert.equal(parsePeerStatus("pg2", body).fenceFailed, undefined);
});
