/**
 * Standby clusters in the simulator: the remote primary (site A) is one more server in the fake Postgres world, so
 * invariant (a) also counts it; the cluster (site B) is bootstrapped with `standby_cluster` naming it. Invariant (a)
 * (which also says no member of a standby cluster is a writable primary) and (d) (a standby leader runs once faults
 * are healed) are checked after every step, through host crashes, agent kills and partitions of the standby leader;
 * removing the section (promote-cluster) promotes the standby leader, once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SimViolation } from "./invariants.ts";
import { DEFAULT_BOOTSTRAP_DCS, Sim } from "./sim.ts";
import { FakePostgres } from "../fakes/memory_pg.ts";

const REMOTE = "postgres://site-a:5432/postgres";

async function runChecked(sim: Sim, until: number): Promise<void> {
  try {
    await sim.runUntil(until);
  } catch (err) {
    if (err instanceof SimViolation) assert.fail(err.message);
    throw err;
  }
}

/** Site B (3 members) as a standby cluster of site A, whose primary is up and takes writes every 5 s. */
async function standbySite(seed: number): Promise<{ sim: Sim; remote: FakePostgres }> {
  const sim = new Sim({
    members: 3,
    seed,
    bootstrapDcs: { ...DEFAULT_BOOTSTRAP_DCS, standby_cluster: { host: "site-a", port: 5432 } },
  });
  const remote = new FakePostgres(sim.world, { name: "site-a", connUrl: REMOTE, useSlots: () => false });
  const durations = sim.world.durations;
  sim.world.durations = { ...durations, bootstrap: 0, start: 0 };
  await remote.bootstrap();
  sim.world.durations = durations;
  for (let t = 5_000; t < 400_000; t += 5_000) sim.at(t, () => void remote.write(1000));
  return { sim, remote };
}

/** The standby leader streams from site A; every other member that runs streams from the standby leader. */
function assertFollowing(sim: Sim, remote: FakePostgres): string {
  const leader = sim.leaderKey();
  assert.ok(leader, sim.traceTail(30).join("\n"));
  const lpg = sim.member(leader).pg;
  assert.equal(lpg.streamSource(), remote, `${leader} streams from site A\n${sim.traceTail(30).join("\n")}`);
  for (const m of sim.members) {
    if (m.name === leader || !m.pg.running) continue;
    assert.equal(m.pg.streamSource(), lpg, `${m.name} streams from the standby leader ${leader}`);
  }
  return leader;
}

Deno.test("sim: a standby cluster forms from the remote primary and its members cascade from the standby leader", async () => {
  const { sim, remote } = await standbySite(7);
  await runChecked(sim, 120_000);
  assertFollowing(sim, remote);
  assert.deepEqual(sim.world.promotions, [], "nobody promoted");
  assert.ok(sim.trace.some((l) => /the standby leader with the lock/.test(l.text)));
});

Deno.test("sim: losing the standby leader (host crash, agent kill, partition) elects another, never a writer", async () => {
  for (const fault of ["hostCrash", "killAgent", "partition"] as const) {
    const { sim, remote } = await standbySite(11);
    await runChecked(sim, 90_000);
    const first = assertFollowing(sim, remote);
    sim.at(95_000, () => {
      if (fault === "hostCrash") sim.hostCrash(first);
      else if (fault === "killAgent") sim.killAgent(first);
      else sim.partition(first, true);
    });
    sim.at(200_000, () => {
      if (fault === "hostCrash") sim.hostStart(first);
      else if (fault === "partition") sim.partition(first, false);
    });
    await runChecked(sim, 160_000);
    const second = sim.leaderKey();
    assert.ok(second && second !== first, `${fault}: a new standby leader\n${sim.traceTail(30).join("\n")}`);
    await runChecked(sim, 320_000);
    assertFollowing(sim, remote);
    assert.deepEqual(sim.world.promotions, [], `${fault}: nobody promoted`);
  }
});

Deno.test("sim: removing standby_cluster (promote-cluster) promotes the standby leader once, under its key", async () => {
  const { sim, remote } = await standbySite(13);
  await runChecked(sim, 90_000);
  const leader = assertFollowing(sim, remote);
  sim.at(100_000, () => sim.setConfig({ standby_cluster: null }));
  // Site A is lost at the same time: its primary stops, so the world has one writer again only in site B.
  sim.at(100_000, () => remote.crash());
  await runChecked(sim, 200_000);
  assert.equal(sim.leaderKey(), leader);
  assert.ok(sim.member(leader).pg.isRunningPrimary(), sim.traceTail(30).join("\n"));
  assert.deepEqual(sim.world.promotions.map((p) => [p.member, p.heldLock]), [[leader, true]]);
  for (const m of sim.members) {
    if (m.name !== leader) assert.equal(m.pg.streamSource(), sim.member(leader).pg);
  }
});

Deno.test("sim: a switchover inside a standby cluster hands the key to the candidate, nobody promotes", async () => {
  const { sim, remote } = await standbySite(17);
  await runChecked(sim, 90_000);
  const first = assertFollowing(sim, remote);
  const candidate = sim.members.find((m) => m.name !== first)!.name;
  sim.at(95_000, () => sim.requestFailover({ leader: first, member: candidate }));
  await runChecked(sim, 200_000);
  assert.equal(sim.leaderKey(), candidate, sim.traceTail(40).join("\n"));
  assertFollowing(sim, remote);
  assert.ok(sim.member(first).pg.running, "the former standby leader runs again, following the candidate");
  assert.deepEqual(sim.world.promotions, [], "nobody promoted");
  assert.ok(
    sim.trace.some((l) =>
      l.member === candidate && /standby leader by acquiring session lock: I am the candidate/.test(l.text)
    ),
    sim.traceTail(40).join("\n"),
  );
  assert.ok(sim.trace.some((l) => l.member === first && /switching over to/.test(l.text)));
});
