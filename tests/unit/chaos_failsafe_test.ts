/**
 * The chaos suite's failsafe faults (scripts/chaos/faults.ts, scripts/chaos/run.ts): a 60 s etcd outage and an
 * etcd outage with one replica cut off lose nothing, and with a replica cut off the old primary must stop taking
 * writes within ttl of the fault (`old_primary_last_ack_s`, from the writer's acknowledgements).
 */
import assert from "node:assert/strict";
import { mustLoseNothing, verdict } from "../../scripts/chaos/run.ts";
import { type ChaosResult, lastAckAfter } from "../../scripts/chaos/faults.ts";
import type { AckRecord } from "../helpers/writer.ts";

const run: ChaosResult = {
  fault: "etcd-outage-cut-replica",
  timing: "10/2/4",
  old_leader: "pg1",
  new_leader: "pg1",
  acked: 1000,
  dual_writer_ms: 0,
  dual_writer_acks: 0,
  lost: 0,
  unavailable_s: 25,
  fault_s: 30,
  converge_s: 3,
  converged: true,
  old_primary_last_ack_s: 9.5,
  old_primary_stopped_by: "demoted",
};

Deno.test("chaos: an etcd outage with failsafe faults may lose no acknowledged write", () => {
  assert.equal(mustLoseNothing(run), true);
  assert.equal(mustLoseNothing({ ...run, fault: "etcd-outage-60" }), true);
  assert.equal(verdict({ ...run, lost: 2 }), "2 acknowledged writes lost");
  assert.equal(verdict({ ...run, fault: "etcd-outage-60", lost: 1 }), "1 acknowledged writes lost");
});

Deno.test("chaos: cut off from etcd and a replica, the old primary must stop taking writes within ttl", () => {
  assert.equal(verdict(run), null);
  assert.equal(verdict({ ...run, old_primary_last_ack_s: 10 }), null);
  assert.equal(
    verdict({ ...run, old_primary_last_ack_s: 10.4 }),
    "the old primary took writes 10.4 s into the fault (ttl 10 s)",
  );
  assert.equal(
    verdict({ ...run, timing: "30/10/10", old_primary_last_ack_s: 31 }),
    "the old primary took writes 31 s into the fault (ttl 30 s)",
  );
  // Only this fault is held to it: through a 60 s outage the primary keeps taking writes.
  assert.equal(verdict({ ...run, fault: "etcd-outage-60", old_primary_last_ack_s: 60 }), null);
});

Deno.test("chaos: lastAckAfter is the old primary's last acknowledged write between the fault and the heal", () => {
  const ack = (node: string, ackAt: number): AckRecord => ({ seq: 0, node, sentAt: ackAt - 5, ackAt });
  const acks = [ack("pg1", 900), ack("pg1", 1000), ack("pg1", 4500), ack("pg2", 6000), ack("pg1", 9000)];
  assert.equal(lastAckAfter(acks, "pg1", 1000, 8000), 3.5);
  assert.equal(lastAckAfter(acks, "pg2", 1000, 8000), 5);
  assert.equal(lastAckAfter(acks, "pg3", 1000, 8000), null);
  assert.equal(lastAckAfter(acks, "pg1", 0, 8000), null);
});
