/**
 * Quorum commit's state machine (Patroni's `QuorumStateResolver`): from the current state of the `sync` key
 * (leader, `quorum`, voters) and of `synchronous_standby_names` (`ANY numsync (sync)`), the standbys able to take
 * part (`active`), how many of the named standbys are known to have caught up (`numsyncConfirmed`) and the
 * replication factor wanted (`synchronous_node_count`), the ordered list of changes that reaches the desired state
 * `sync = voters = active, numsync = min(wanted, |active|), quorum = |active| - numsync` without ever breaking the
 * invariant that any set of members able to acknowledge a commit overlaps any set able to elect a new leader:
 * `|voters ∪ sync ∪ {leader}| <= quorum + numsync + 1`, and one of the two name sets contains the other.
 *
 * The rule of order, as Patroni has it: when numsync or quorum grows, the growing change goes first; when one
 * shrinks, it goes last. New standbys enter the key first (then Postgres) unless Postgres names nobody yet, in
 * which case Postgres first; leaving standbys leave Postgres first (then the key) unless Postgres would name
 * nobody, in which case the key first. A state the machine cannot bring back within the invariant yields no
 * change at all (and says why), as Patroni's resolver raises before any transition is carried out.
 *
 * Pure. May import nothing.
 *
 * @module
 */

/** One step towards the desired state: the new `sync` key (`quorum`) or `synchronous_standby_names` (`sync`). */
export interface QuorumTransition {
  /** `quorum`: write the key; `sync`: set `ANY num (names)`; `restart`: nothing changed, look again later. */
  kind: "quorum" | "sync" | "restart";
  leader: string;
  /** The key's `quorum` (kind quorum) or the number of standbys Postgres waits for (kind sync). */
  num: number;
  /** The key's voters (kind quorum) or the standbys named in Postgres (kind sync), sorted. */
  names: string[];
}

/** The resolver's input: the state as found and the state wanted. */
export interface QuorumInput {
  /** The `sync` key's leader, quorum and voters (`sync_standby`). */
  leader: string;
  quorum: number;
  voters: readonly string[];
  /** `synchronous_standby_names`: how many it waits for, and whom. */
  numsync: number;
  sync: readonly string[];
  /** How many of the named standbys are known to have caught up since they were named. */
  numsyncConfirmed: number;
  /** Streaming standbys eligible to be named. */
  active: readonly string[];
  /** `synchronous_node_count`. */
  syncWanted: number;
  /** This leader (differs from `leader` right after a failover). */
  leaderWanted: string;
  /**
   * Patroni's fallback: with no named standby known caught up, count as many as the key's quorum implies. Off in
   * hactl (whose readiness is recomputed from positions every cycle, also after a restart): a standby still behind
   * after a failover would be counted, and the key could let it promote alone without a commit only the new leader
   * has. Kept as an option to compare the walk with Patroni's.
   */
  guessConfirmed?: boolean;
}

/** The transitions in order (consecutive ones of the same kind merged), or none and why. */
export interface QuorumResult {
  transitions: QuorumTransition[];
  error: string | null;
}

class QuorumError extends Error {}

/** A set of names compared case-insensitively (as Postgres and Patroni compare standby names). */
class NameSet {
  readonly #m = new Map<string, string>();
  constructor(names: Iterable<string> = []) {
    for (const n of names) if (!this.#m.has(n.toLowerCase())) this.#m.set(n.toLowerCase(), n);
  }
  get size(): number {
    return this.#m.size;
  }
  has(n: string): boolean {
    return this.#m.has(n.toLowerCase());
  }
  values(): string[] {
    return [...this.#m.values()];
  }
  sorted(): string[] {
    return this.values().sort();
  }
  union(o: NameSet): NameSet {
    return new NameSet([...this.values(), ...o.values()]);
  }
  minus(o: NameSet): NameSet {
    return new NameSet(this.values().filter((n) => !o.has(n)));
  }
  and(o: NameSet): NameSet {
    return new NameSet(this.values().filter((n) => o.has(n)));
  }
  subsetOf(o: NameSet): boolean {
    return this.values().every((n) => o.has(n));
  }
  equals(o: NameSet): boolean {
    return this.size === o.size && this.subsetOf(o);
  }
  /** Proper subset. */
  lt(o: NameSet): boolean {
    return this.size < o.size && this.subsetOf(o);
  }
}

const set = (names: Iterable<string> = []) => new NameSet(names);

/** The machine's state while it walks towards the desired one. */
class Resolver {
  leader: string;
  quorum: number;
  voters: NameSet;
  numsync: number;
  sync: NameSet;
  numsyncConfirmed: number;
  readonly active: NameSet;
  readonly syncWanted: number;
  readonly leaderWanted: string;
  readonly guessConfirmed: boolean;
  readonly out: QuorumTransition[] = [];

  constructor(i: QuorumInput) {
    this.leader = i.leader;
    this.quorum = i.quorum;
    this.voters = set(i.voters);
    this.sync = set(i.sync);
    // numsync can not exceed the number of standbys named.
    this.numsync = Math.min(i.numsync, this.sync.size);
    this.numsyncConfirmed = i.numsyncConfirmed;
    this.active = set(i.active);
    this.syncWanted = i.syncWanted;
    this.leaderWanted = i.leaderWanted;
    this.guessConfirmed = i.guessConfirmed ?? false;
  }

  checkInvariants(): void {
    const voters = this.voters.union(set([this.leader]));
    const sync = this.sync.union(set([this.leaderWanted]));
    const nodes = voters.union(sync).size;
    if (this.voters.size > 0 && nodes > this.quorum + this.numsync + 1) {
      throw new QuorumError(
        `quorum and sync not guaranteed to overlap: nodes ${nodes} > quorum ${this.quorum} + numsync ${this.numsync} + 1`,
      );
    }
    if (!voters.subsetOf(sync) && !sync.subsetOf(voters)) {
      throw new QuorumError(
        `mismatched sets: voters only ${voters.minus(sync).sorted().join(",")}, sync only ${
          sync.minus(voters).sorted().join(",")
        }`,
      );
    }
  }

  quorumUpdate(quorum: number, voters: NameSet, leader?: string, adjustQuorum = true): void {
    if (quorum < 0) throw new QuorumError(`quorum ${quorum} < 0 of (${voters.sorted().join(",")})`);
    if (quorum > 0 && quorum >= voters.size) {
      throw new QuorumError(`quorum ${quorum} >= N of (${voters.sorted().join(",")})`);
    }
    const oldLeader = this.leader;
    if (leader !== undefined) this.leader = leader;
    else if (this.numsyncConfirmed === 0 && this.voters.size === 0) {
      // Nobody is known to have caught up: the key keeps no voters.
      quorum = 0;
      voters = set();
    } else if (adjustQuorum) {
      // Fewer named standbys known caught up than Postgres waits for: a larger quorum finds one in the race.
      quorum += Math.max(this.numsync - this.numsyncConfirmed, 0);
    }
    if (this.leader === oldLeader && quorum === this.quorum && voters.equals(this.voters)) {
      if (this.voters.size > 0) return;
      this.out.push({ kind: "restart", leader: this.leader, num: this.quorum, names: this.voters.sorted() });
    }
    this.quorum = quorum;
    this.voters = voters;
    this.checkInvariants();
    this.out.push({ kind: "quorum", leader: this.leader, num: this.quorum, names: this.voters.sorted() });
  }

  syncUpdate(numsync: number, sync: NameSet): void {
    if (numsync < 0) throw new QuorumError(`numsync ${numsync} < 0 of (${sync.sorted().join(",")})`);
    if (numsync > sync.size) throw new QuorumError(`numsync ${numsync} > N of (${sync.sorted().join(",")})`);
    this.numsync = numsync;
    this.sync = sync;
    this.checkInvariants();
    this.out.push({ kind: "sync", leader: this.leader, num: this.numsync, names: this.sync.sorted() });
  }

  /** `first`; when it breaks the invariant, the state as it was and `second` instead. */
  orElse(first: () => void, second: () => void): void {
    const saved = { leader: this.leader, quorum: this.quorum, voters: this.voters, numsync: this.numsync };
    const mark = { sync: this.sync, out: this.out.length };
    try {
      first();
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      Object.assign(this, saved);
      this.sync = mark.sync;
      this.out.length = mark.out;
      second();
    }
  }

  /** A run of transitions interrupted earlier: bring `sync` and `voters` back to the same set. */
  nonSteady(): void {
    if (this.sync.lt(this.voters)) {
      // Case 1: in the middle of changing voters. Drop dead voters Postgres does not wait for...
      const gone = this.voters.minus(this.sync.union(this.active));
      if (gone.size > 0) {
        this.quorumUpdate(
          this.voters.size - gone.size - this.numsync,
          this.voters.minus(gone),
          undefined,
          this.sync.minus(this.active).size === 0,
        );
      }
      // ...and name in Postgres the live voters.
      const add = this.voters.and(this.active).minus(this.sync);
      if (add.size > 0) this.syncUpdate(this.numsync, this.sync.union(add));
    } else if (this.voters.lt(this.sync)) {
      // Case 2: in the middle of changing the replication factor.
      const dead = this.sync.minus(this.active);
      const kept = this.sync.minus(dead);
      if (dead.size > 0 && kept.size > 0 && (this.voters.size === 0 || kept.and(this.voters).size > 0)) {
        this.syncUpdate(Math.min(this.numsync, this.sync.size - dead.size), kept);
      }
      const addVoters = this.sync.minus(this.voters).and(this.active);
      if (addVoters.size > 0) {
        const voters = this.voters.union(addVoters);
        this.quorumUpdate(voters.size - this.numsync, voters);
      }
      const drop = this.sync.minus(this.voters);
      if (drop.size > 0) {
        this.syncUpdate(Math.min(this.numsync, this.sync.size - drop.size), this.sync.minus(drop));
      }
    }
    if (!this.voters.equals(this.sync)) throw new QuorumError("voters and sync still differ");
    const margin = this.quorum + Math.min(this.numsync, this.numsyncConfirmed) -
      this.voters.union(this.sync).size;
    if (margin > 0) {
      if (this.numsync > this.syncWanted) {
        // Case 3: the replication factor is larger than wanted.
        this.syncUpdate(Math.max(this.syncWanted, this.voters.size - this.quorum), this.sync);
      } else {
        // Case 4: the quorum is larger than needed.
        this.quorumUpdate(this.sync.size - this.numsync, this.voters);
      }
    } else {
      const margin2 = this.quorum + this.numsync - this.voters.union(this.sync).size;
      if (this.numsync === this.syncWanted && margin2 > 0 && this.numsync > this.numsyncConfirmed) {
        this.quorumUpdate(this.sync.size - this.numsync, this.voters);
      }
    }
  }

  removeGone(): void {
    let toRemove = this.sync.minus(this.active);
    if (toRemove.size > 0 && this.sync.equals(toRemove)) {
      // Postgres would name nobody: the key lets go of its voters first.
      this.quorumUpdate(0, set(), undefined, false);
      this.syncUpdate(0, set());
      return;
    }
    if (toRemove.size === 0) return;
    if (this.quorum > 0) {
      // Lower the quorum first where it can be: deterministic choice by reverse name order.
      const remove = set(toRemove.values().sort().reverse().slice(0, this.quorum));
      const sync = this.sync.minus(remove);
      const numsync = Math.min(this.syncWanted > this.numsync ? this.syncWanted : this.numsync, sync.size);
      this.syncUpdate(numsync, sync);
      const voters = this.voters.minus(remove);
      toRemove = toRemove.and(this.sync);
      this.quorumUpdate(voters.size - this.numsync, voters, undefined, toRemove.size === 0);
    }
    if (toRemove.size > 0) {
      if (this.quorum !== 0) throw new QuorumError(`quorum ${this.quorum} left while removing standbys`);
      const numsync = this.numsync - toRemove.size;
      const sync = this.sync.minus(toRemove);
      const voters = this.voters.minus(toRemove);
      const decrease = numsync - Math.min(this.syncWanted, sync.size);
      const quorum = decrease ? Math.min(decrease, voters.size - 1) : 0;
      this.quorumUpdate(quorum, voters, undefined, false);
      this.syncUpdate(numsync, sync);
    }
  }

  addNew(): void {
    let toAdd = this.active.minus(this.sync);
    if (toAdd.size === 0) return;
    const wanted = Math.min(this.syncWanted, this.sync.union(toAdd).size);
    let increase = wanted - this.numsync;
    if (increase > 0) {
      // Reach the replication factor first; with nobody named yet, all of them may go in at once.
      let add = toAdd;
      if (this.sync.size > 0) {
        add = set(toAdd.sorted().slice(0, increase));
        increase = add.size;
      }
      this.syncUpdate(this.numsync + increase, this.sync.union(add));
      const voters = this.voters.union(add);
      // Patroni's quorum is |voters| - wanted; when fewer standbys were new than the increase asked for, that
      // is too low for the numsync now set and its invariant check stops the walk: then the quorum that overlaps.
      this.orElse(
        () => this.quorumUpdate(voters.size - wanted, voters),
        () => this.quorumUpdate(voters.size - this.numsync, voters),
      );
      toAdd = toAdd.minus(this.sync);
    }
    if (toAdd.size > 0) {
      const voters = this.voters.union(toAdd);
      this.quorumUpdate(voters.size - wanted, voters, undefined, wanted > this.numsyncConfirmed);
      this.syncUpdate(wanted, this.sync.union(toAdd));
    }
  }

  replicationFactor(): void {
    const increase = Math.min(this.syncWanted, this.sync.size) - this.numsync;
    if (increase > 0) {
      this.syncUpdate(this.numsync + increase, this.sync);
      this.quorumUpdate(this.voters.size - this.numsync, this.voters);
    } else if (increase < 0) {
      const raise = () =>
        this.quorumUpdate(
          this.voters.size - this.numsync - increase,
          this.voters,
          undefined,
          this.syncWanted > this.numsyncConfirmed,
        );
      if (this.quorum - increase < this.voters.size) raise();
      // Patroni skips the quorum change when `quorum - increase` reaches |voters|, which with a quorum below
      // |voters| - numsync (left by an interrupted run) makes the decrease break the invariant: then raise it.
      this.orElse(() => this.syncUpdate(this.numsync + increase, this.sync), () => {
        raise();
        this.syncUpdate(this.numsync + increase, this.sync);
      });
    }
  }

  /** The whole walk; stops early (without error) when a restart is hinted or a failover leaves nobody streaming. */
  run(): void {
    try {
      if (this.leaderWanted.toLowerCase() !== this.leader.toLowerCase()) {
        // After a failover: the former leader becomes a voter, this member the key's leader.
        const voters = this.voters.minus(set([this.leaderWanted])).union(set([this.leader]));
        if (this.sync.size === 0) this.syncUpdate(voters.size - this.quorum, voters);
        this.quorumUpdate(this.quorum, voters, this.leaderWanted);
        // Right after a promotion the standbys may not have reconnected yet: give them a cycle.
        if (this.sync.and(this.active).size === 0) return;
      } else this.checkInvariants();
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      this.quorumUpdate(this.sync.size - this.numsync, this.sync);
    }
    if (this.leader.toLowerCase() !== this.leaderWanted.toLowerCase()) {
      throw new QuorumError(`the key's leader ${this.leader} is not ${this.leaderWanted}`);
    }
    if (this.guessConfirmed && this.numsyncConfirmed === 0 && this.sync.and(this.active).size > 0) {
      // After a restart or failover nobody is known caught up yet: take it from the key's quorum.
      this.numsyncConfirmed = Math.min(this.sync.and(this.active).size, this.voters.size - this.quorum);
    }
    this.nonSteady();
    this.removeGone();
    this.addNew();
    this.replicationFactor();
  }
}

/** Merge consecutive transitions of the same kind (nobody observed the first), and stop after a restart hint. */
function merged(all: QuorumTransition[]): QuorumTransition[] {
  const out: QuorumTransition[] = [];
  for (let i = 0; i < all.length; i++) {
    const next = all[i + 1];
    if (next !== undefined && next.kind === all[i]!.kind) continue;
    out.push(all[i]!);
    if (all[i]!.kind === "restart") break;
  }
  return out;
}

/** The ordered changes from the state found to the state wanted (see the module comment). */
export function quorumTransitions(input: QuorumInput): QuorumResult {
  const r = new Resolver(input);
  try {
    r.run();
  } catch (e) {
    if (!(e instanceof QuorumError)) throw e;
    return recover(input, e.message);
  }
  return { transitions: merged(r.out), error: null };
}

/**
 * A walk that cannot go on within the invariant (a run of transitions interrupted, then the standbys changed —
 * e.g. Postgres still waits for all of `ANY 3 (b,c,e)` after c died, and the next step would break the overlap):
 * as Patroni does when the state it finds is broken, the key's voters become the standbys Postgres names, with
 * the quorum that overlaps them (itself checked against the invariant). Without that the state would stay as it
 * is, commits waiting for a standby that is gone. When even that is not possible, nothing changes.
 */
function recover(input: QuorumInput, why: string): QuorumResult {
  if (input.leader.toLowerCase() !== input.leaderWanted.toLowerCase()) return { transitions: [], error: why };
  const r = new Resolver(input);
  try {
    r.quorumUpdate(r.sync.size - r.numsync, r.sync);
  } catch (e) {
    if (!(e instanceof QuorumError)) throw e;
    return { transitions: [], error: `${why}; ${e.message}` };
  }
  const transitions = merged(r.out);
  return transitions.length > 0 ? { transitions, error: null } : { transitions: [], error: why };
}
