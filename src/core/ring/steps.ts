// A one-node ring change as a sequence of epochs, in the style of Cassandra's Transactional Cluster
// Metadata (PrepareJoin / StartJoin / MidJoin / FinishJoin) and ScyllaDB's topology coordinator
// (write both, read old -> read new -> left). Each function here returns the ring of the next
// epoch; agreement.ts decides which one becomes it. For every slot, O is its replicas in the old
// ring and N in the new one; the steps, with what must hold to enter each and while in it:
//
//   (stable old)          reads O, writes O.
//   write-both-read-old   reads O, writes O and N: acked once the level is met within O AND within N
//                         (acks.ts), so a pending replica's ack never stands in for an old owner's.
//   streaming             the same sets. Entered only once every member not excluded as dead holds
//                         the write-both epoch (the barrier): from then on no coordinator writes O
//                         alone, so what the new replicas pull from the strict sources (plan.ts),
//                         plus the dual writes, is every acknowledged write (ScyllaDB #2308).
//   write-both-read-new   reads N, writes O and N. Entered only once every new replica finished
//                         pulling its slots. Writes stay dual so that coordinators still reading O
//                         (one epoch behind) and those reading N both see every acked write.
//   cleanup               reads N, writes N. Entered once every member reads N; each old replica
//                         drops the copies of slots it no longer holds (automatically: see README).
//   (stable new)          the change is over; the next one may start.
//
// Neighbouring epochs overlap (coordinators differ by at most one epoch, the barrier sees to it), so
// every step's write quorums meet the read quorums of the step before and after it (the unit tests
// check this for every slot of every change). Abort runs the steps back to the old ring while the
// old replicas still take every write: from write-both-read-new it first goes back to
// write-both-read-old, then to the stable old ring; from cleanup it is refused.
import {
  equalPlacement, membersProblem, memberNamed, ok, refused, type ChangeInFlight, type Member, type MemberSpec, type Result,
  type RingChange, type RingState, type StepName,
} from './state.js';

export interface StepRule {
  readonly reads: 'old' | 'new';
  readonly writes: 'both' | 'new';
  /** What must be true before the ring may move to this step. */
  readonly entry: string;
}

export const stepRules: Readonly<Record<StepName, StepRule>> = {
  'write-both-read-old': { reads: 'old', writes: 'both', entry: 'no other change in flight; the plan was made against the current epoch' },
  streaming: { reads: 'old', writes: 'both', entry: 'every member not excluded as dead has persisted the write-both-read-old epoch' },
  'write-both-read-new': { reads: 'new', writes: 'both', entry: 'every new replica has pulled each of its slots from its strict sources' },
  cleanup: { reads: 'new', writes: 'new', entry: 'every member not excluded as dead has persisted the write-both-read-new epoch' },
};

/** Where a write to a slot goes, and when it is acknowledged: the level within each group. */
export interface WriteSet {
  readonly to: readonly string[];
  /** One group (the slot's replicas) outside a move; O and N while both are written. */
  readonly groups: readonly (readonly string[])[];
}

export interface SlotReplicas { readonly read: readonly string[]; readonly write: WriteSet }

/** A slot's read replicas and write set at this ring's epoch. */
export function slotReplicas(ring: RingState, slot: number): SlotReplicas {
  const old = ring.placement[slot];
  if (old === undefined) throw new RangeError(`ring: slot ${slot} outside 0..${ring.placement.length - 1}`);
  const c = ring.change;
  const next = c === null ? old : c.next.placement[slot]!;
  if (c === null || sameSet(old, next)) return { read: old, write: { to: old, groups: [old] } };
  const rule = stepRules[c.step];
  const read = rule.reads === 'old' ? old : next;
  if (rule.writes === 'new') return { read, write: { to: next, groups: [next] } };
  return { read, write: { to: [...old, ...next.filter((n) => !old.includes(n))], groups: [old, next] } };
}

/** Every slot's replicas at this epoch, computed once: what a coordinator looks up per request. */
export function slotTable(ring: RingState): readonly SlotReplicas[] {
  return ring.placement.map((_, slot) => slotReplicas(ring, slot));
}

export function describeChange(c: RingChange): string {
  switch (c.kind) {
    case 'join': return `join ${c.member.name} (${c.member.host}:${c.member.port})`;
    case 'leave': return `leave ${c.name}`;
    case 'replace': return `replace ${c.dead} by ${c.member.name} (${c.member.host}:${c.member.port})`;
    case 'remove': return `remove ${c.dead}`;
  }
}

/** The members of the ring after the change, in ring order, and the roles of the current members during it. */
export function membersAfter(ring: RingState, change: RingChange): Result<{ next: MemberSpec[]; during: Member[] }> {
  const stable = ring.members.filter((m) => m.state !== 'joining');
  const spec = (m: MemberSpec): MemberSpec => ({ name: m.name, host: m.host, port: m.port });
  const named = (name: string): Result<Member> => {
    const m = memberNamed(ring, name);
    return m === undefined ? refused(`${name} is not a member (members: ${stable.map((x) => x.name).join(', ')})`) : ok(m);
  };
  const mark = (name: string, state: Member['state']) => stable.map((m): Member => (m.name === name ? { ...m, state } : m));
  let next: MemberSpec[];
  let during: Member[];
  switch (change.kind) {
    case 'join':
      next = [...stable.map(spec), spec(change.member)];
      during = [...stable, { ...spec(change.member), state: 'joining' }];
      break;
    case 'leave': case 'remove': {
      const name = change.kind === 'leave' ? change.name : change.dead;
      const m = named(name);
      if (!m.ok) return m;
      next = stable.filter((x) => x.name !== name).map(spec);
      during = mark(name, change.kind === 'leave' ? 'leaving' : 'removing');
      break;
    }
    case 'replace': {
      const m = named(change.dead);
      if (!m.ok) return m;
      if (change.member.name === change.dead) {
        return refused(`the replacement of ${change.dead} needs a name of its own (its address may be the same): peers must never take the new, empty replica for the dead one`);
      }
      next = stable.map((x) => (x.name === change.dead ? spec(change.member) : spec(x)));
      during = [...mark(change.dead, 'removing'), { ...spec(change.member), state: 'joining' }];
      break;
    }
  }
  const problem = membersProblem(next, ring.replicationFactor);
  if (problem !== null) return refused(`${describeChange(change)}: ${problem}`);
  return ok({ next, during });
}

/** The first epoch of a change: write-both-read-old. Refused while another change is in flight. */
export function beginChange(ring: RingState, change: RingChange): Result<RingState> {
  if (ring.change !== null) return refused(inFlightText(ring.change, ring.epoch));
  const after = membersAfter(ring, change);
  if (!after.ok) return after;
  const flight: ChangeInFlight = {
    change, step: 'write-both-read-old', aborting: false, fromEpoch: ring.epoch,
    next: { members: after.value.next, placement: equalPlacement(after.value.next.map((m) => m.name), ring.replicationFactor) },
  };
  return ok({ ...ring, epoch: ring.epoch + 1, members: after.value.during, change: flight });
}

export function inFlightText(c: ChangeInFlight, epoch: number): string {
  return `another change is in flight: ${describeChange(c.change)}, ${c.aborting ? 'aborting, ' : ''}at step ${c.step} (epoch ${epoch}); one change at a time`;
}

/** The next epoch of the change in flight (or of its abort); after cleanup, the stable new ring. */
export function advance(ring: RingState): Result<RingState> {
  const c = ring.change;
  if (c === null) return refused(`no change in flight at epoch ${ring.epoch}`);
  if (c.aborting) return ok(oldRing(ring));
  switch (c.step) {
    case 'write-both-read-old': return ok(atStep(ring, 'streaming'));
    case 'streaming': return ok(atStep(ring, 'write-both-read-new'));
    case 'write-both-read-new': return ok(atStep(ring, 'cleanup'));
    case 'cleanup': return ok({
      epoch: ring.epoch + 1, replicationFactor: ring.replicationFactor, change: null,
      members: c.next.members.map((m) => ({ ...m, state: 'normal' })), placement: c.next.placement,
    });
  }
}

/** The next epoch back towards the old ring; refused once old replicas may have dropped copies. */
export function abort(ring: RingState): Result<RingState> {
  const c = ring.change;
  if (c === null) return refused(`no change in flight at epoch ${ring.epoch}`);
  if (c.aborting) return advance(ring);
  switch (c.step) {
    case 'write-both-read-old': case 'streaming': return ok(oldRing(ring));
    // Reads go back to the old replicas, while writes still reach both, before writes leave N.
    case 'write-both-read-new': return ok({ ...ring, epoch: ring.epoch + 1, change: { ...c, step: 'write-both-read-old', aborting: true } });
    case 'cleanup': return refused(`too late to abort ${describeChange(c.change)}: at step cleanup old replicas drop their copies; plan the inverse change once it is done`);
  }
}

function atStep(ring: RingState, step: StepName): RingState {
  return { ...ring, epoch: ring.epoch + 1, change: { ...ring.change!, step } };
}

function oldRing(ring: RingState): RingState {
  return {
    ...ring, epoch: ring.epoch + 1, change: null,
    members: ring.members.filter((m) => m.state !== 'joining').map((m) => ({ ...m, state: 'normal' })),
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
