import { expect } from 'chai';
import fc from 'fast-check';
import { nodesMax } from '../../src/core/limits.js';
import { Ring } from '../../src/core/partitioner.js';
import { readSatisfied, writeQuorumText, writeSatisfied } from '../../src/core/ring/acks.js';
import { equalPlacement, firstRing, slotCount, type MemberSpec, type RingChange, type RingState } from '../../src/core/ring/state.js';
import { abort, advance, beginChange, slotReplicas, slotTable, type WriteSet } from '../../src/core/ring/steps.js';
import { levels, type Level } from '../../src/core/types.js';

const specs = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i }));
const newcomer: MemberSpec = { name: 'replica-new', host: '127.0.0.1', port: 7200 };

function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) expect.fail(r.error);
  return r.value;
}

/** Every epoch of a change from the stable old ring to the stable new one. */
function forward(ring: RingState, change: RingChange): RingState[] {
  const path = [ring, must(beginChange(ring, change))];
  while (path[path.length - 1]!.change !== null) path.push(must(advance(path[path.length - 1]!)));
  return path;
}

/** Every epoch of an abort started at this one, until the ring is stable again. */
function abortPath(ring: RingState): RingState[] {
  const path = [ring];
  while (path[path.length - 1]!.change !== null) path.push(must(abort(path[path.length - 1]!)));
  return path;
}

type Ack = (level: Level, rf: number, write: WriteSet, acked: ReadonlySet<string>) => boolean;

/**
 * A write acked at level W by `ackRule` in one epoch and a read at level R in another, with W + R > RF:
 * is there an acked write and a satisfied read that share no replica? Returns one, or null.
 */
function missedRead(rf: number, w: WriteSet, read: readonly string[], ackRule: Ack): string | null {
  for (const wl of levels) for (const rl of levels) {
    const wa = levelAcks(wl, rf); const ra = levelAcks(rl, rf);
    if (wa > rf || ra > rf || wa + ra <= rf) continue;
    const to = w.to;
    for (let mask = 0; mask < 1 << to.length; mask++) {
      const acked = new Set(to.filter((_, i) => mask & (1 << i)));
      if (!ackRule(wl, rf, w, acked)) continue;
      const untouched = new Set(read.filter((r) => !acked.has(r)));
      if (readSatisfied(rl, rf, read, untouched)) return `write ${wl} acked by {${[...acked].join(',')}} unseen by a ${rl} read of {${[...untouched].join(',')}}`;
    }
  }
  return null;
}
const levelAcks = (l: Level, rf: number) => ({ ONE: 1, TWO: 2, THREE: 3, QUORUM: Math.floor(rf / 2) + 1, ALL: rf })[l];

/** Checks every slot of every pair of overlapping epochs on this path; returns the first broken rule. */
function pathProblem(path: readonly RingState[], ackRule: Ack = writeSatisfied): string | null {
  const seen = new Set<string>();
  const tables = path.map(slotTable);
  for (let i = 0; i < path.length; i++) {
    const rf = path[i]!.replicationFactor;
    for (let slot = 0; slot < slotCount; slot++) {
      const here = tables[i]![slot]!;
      if (new Set(here.read).size !== rf) return `epoch ${path[i]!.epoch} slot ${slot}: ${here.read.length} read replicas, RF ${rf}`;
      for (const j of [i - 1, i, i + 1]) {
        const there = path[j];
        if (there === undefined) continue;
        const { read } = tables[j]![slot]!;
        const missing = read.filter((r) => !here.write.to.includes(r));
        if (missing.length > 0) return `epoch ${path[i]!.epoch} slot ${slot}: writes skip ${missing.join(',')}, read at epoch ${there.epoch}`;
        const key = JSON.stringify([here.write, read]);
        if (seen.has(key)) continue;
        seen.add(key);
        const miss = missedRead(rf, here.write, read, ackRule);
        if (miss !== null) return `epochs ${path[i]!.epoch}/${there.epoch} slot ${slot}: ${miss}`;
      }
    }
  }
  return null;
}

const changeArb = fc.integer({ min: 1, max: 12 }).chain((n) => fc.record({
  n: fc.constant(n),
  rf: fc.integer({ min: 1, max: Math.min(n, 5) }),
  kind: fc.constantFrom<RingChange['kind']>('join', 'leave', 'replace', 'remove'),
  who: fc.integer({ min: 0, max: n - 1 }),
})).filter(({ n, rf, kind }) => kind === 'join' || kind === 'replace' || n - 1 >= rf);

function changeOf(kind: RingChange['kind'], name: string): RingChange {
  switch (kind) {
    case 'join': return { kind, member: newcomer };
    case 'leave': return { kind, name };
    case 'replace': return { kind, dead: name, member: newcomer };
    case 'remove': return { kind, dead: name };
  }
}

describe('ring as data (src/core/ring)', () => {
  it('the first ring places every slot exactly as the current Ring does, for every N up to nodesMax and RF up to N', () => {
    for (let n = 1; n <= nodesMax; n++) {
      const names = specs(n).map((s) => s.name);
      for (let rf = 1; rf <= n; rf++) {
        const ring = new Ring(n, rf);
        const placement = firstRing(specs(n), rf).placement;
        for (let slot = 0; slot < slotCount; slot++) {
          const want = ring.replicasFor(slot).map((i) => names[i]);
          const got = placement[slot]!;
          if (got.length !== want.length || got.some((x, j) => x !== want[j])) expect.fail(`N=${n} RF=${rf} slot ${slot}: ${got} instead of ${want}`);
        }
      }
    }
  });

  it('refuses a first ring with RF above N, duplicate names or addresses', () => {
    expect(() => firstRing(specs(2), 3)).to.throw(RangeError, /replication factor 3 needs at least 3 members/);
    expect(() => firstRing([...specs(2), { ...specs(1)[0]!, port: 9000 }], 1)).to.throw(RangeError, /replica-1 is a member already/);
    expect(() => firstRing([...specs(2), { name: 'x', host: '127.0.0.1', port: 7101 }], 1)).to.throw(RangeError, /address 127.0.0.1:7101 is replica-1's/);
  });

  it('a join at the end of the order changes at most one replica of any slot, for every N < nodesMax and RF', () => {
    for (let n = 1; n < nodesMax; n++) for (let rf = 1; rf <= Math.min(n, 5); rf++) {
      const before = equalPlacement(specs(n).map((s) => s.name), rf);
      const after = equalPlacement([...specs(n).map((s) => s.name), 'x'], rf);
      for (let s = 0; s < slotCount; s++) {
        const gone = before[s]!.filter((r) => !after[s]!.includes(r));
        if (gone.length > 1) expect.fail(`N=${n} RF=${rf} slot ${s}: ${before[s]} -> ${after[s]}`);
      }
    }
  });

  it('a replace moves exactly the dead member\'s copies to the new member and nothing else', () => {
    const ring = firstRing(specs(5), 3);
    const final = forward(ring, { kind: 'replace', dead: 'replica-3', member: newcomer }).at(-1)!;
    for (let s = 0; s < slotCount; s++) {
      expect(final.placement[s]).to.deep.equal(ring.placement[s]!.map((r) => (r === 'replica-3' ? 'replica-new' : r)));
    }
    expect(final.members.map((m) => m.name)).to.deep.equal(['replica-1', 'replica-2', 'replica-new', 'replica-4', 'replica-5']);
  });

  it('at every step of every one-node change: RF read replicas per slot, and every write quorum meets every read quorum of the steps beside it', () => {
    fc.assert(fc.property(changeArb, ({ n, rf, kind, who }) => {
      const ring = firstRing(specs(n), rf);
      const path = forward(ring, changeOf(kind, `replica-${who + 1}`));
      expect(path.map((r) => r.change?.step ?? 'stable')).to.deep.equal(['stable', 'write-both-read-old', 'streaming', 'write-both-read-new', 'cleanup', 'stable']);
      expect(pathProblem(path)).to.equal(null);
      for (const at of path.filter((r) => r.change !== null && r.change.step !== 'cleanup')) expect(pathProblem(abortPath(at))).to.equal(null);
    }), { numRuns: 80 });
  });

  it('the check catches a pending replica\'s ack counted toward the level (Cassandra 833)', () => {
    // The mutation: any `level` acks among old and new replicas.
    const naive: Ack = (level, rf, w, acked) => w.to.filter((r) => acked.has(r)).length >= levelAcks(level, rf);
    const path = forward(firstRing(specs(4), 3), { kind: 'join', member: newcomer });
    expect(pathProblem(path, naive)).to.match(/write ONE acked by \{replica-[0-9a-z]+\} unseen by a (THREE|ALL) read/);
    expect(pathProblem(path)).to.equal(null);
  });

  it('abort from write-both-read-old, streaming and write-both-read-new returns to the old ring; from cleanup it is refused', () => {
    const ring = firstRing(specs(4), 3);
    const path = forward(ring, { kind: 'join', member: newcomer });
    for (const at of path.slice(1, 4)) {
      const back = abortPath(at);
      const end = back.at(-1)!;
      expect(end.placement).to.deep.equal(ring.placement);
      expect(end.members).to.deep.equal(ring.members);
      expect(end.epoch).to.be.greaterThan(at.epoch);
      // From read-new, reads go back to the old replicas first, while writes still reach both.
      if (at.change!.step === 'write-both-read-new') expect(back[1]!.change).to.include({ step: 'write-both-read-old', aborting: true });
    }
    const cleanup = abort(path[4]!);
    expect(cleanup.ok).to.equal(false);
    expect(!cleanup.ok && cleanup.error).to.match(/too late to abort join replica-new/);
  });

  it('one change at a time: a second change is refused naming the one in flight', () => {
    const during = must(beginChange(firstRing(specs(4), 3), { kind: 'join', member: newcomer }));
    const second = beginChange(during, { kind: 'leave', name: 'replica-2' });
    expect(second).to.deep.equal({ ok: false, error: 'another change is in flight: join replica-new (127.0.0.1:7200), at step write-both-read-old (epoch 1); one change at a time' });
  });

  it('refuses a change that names no member, takes a name or address in use, reuses the dead name, or leaves fewer members than RF', () => {
    const ring = firstRing(specs(3), 3);
    const error = (c: RingChange) => { const r = beginChange(ring, c); return r.ok ? 'accepted' : r.error; };
    expect(error({ kind: 'leave', name: 'replica-9' })).to.equal('replica-9 is not a member (members: replica-1, replica-2, replica-3)');
    expect(error({ kind: 'leave', name: 'replica-2' })).to.match(/replication factor 3 needs at least 3 members, the ring would have 2/);
    expect(error({ kind: 'remove', dead: 'replica-2' })).to.match(/replication factor 3 needs at least 3 members/);
    expect(error({ kind: 'join', member: { ...newcomer, name: 'replica-1' } })).to.match(/replica-1 is a member already/);
    expect(error({ kind: 'join', member: { ...newcomer, port: 7102 } })).to.match(/address 127.0.0.1:7102 is replica-2's/);
    expect(error({ kind: 'replace', dead: 'replica-2', member: { ...newcomer, name: 'replica-2' } })).to.match(/needs a name of its own/);
    // The same address as the dead member is allowed: a new host in its place.
    expect(error({ kind: 'replace', dead: 'replica-2', member: { name: 'replica-2b', host: '127.0.0.1', port: 7102 } })).to.equal('accepted');
    expect(error({ kind: 'join', member: { ...newcomer, name: 'bad name' } })).to.match(/name "bad name": expected/);
  });

  it('the write quorum of a moving slot reads {A, B, (C+D)}', () => {
    const during = must(beginChange(firstRing(specs(4), 3), { kind: 'join', member: newcomer }));
    // Slot 255: replica-4, replica-1, replica-2 before; replica-new, replica-1, replica-2 after.
    const { read, write } = slotReplicas(during, 255);
    expect(read).to.deep.equal(['replica-4', 'replica-1', 'replica-2']);
    expect(writeQuorumText('QUORUM', 3, write)).to.equal('QUORUM: 2 of {(replica-4+replica-new), replica-1, replica-2}; replica-4 and replica-new count once both have acked');
    expect(writeSatisfied('QUORUM', 3, write, new Set(['replica-1', 'replica-2']))).to.equal(true);
    expect(writeSatisfied('ONE', 3, write, new Set(['replica-new']))).to.equal(false);
    expect(writeSatisfied('ONE', 3, write, new Set(['replica-4']))).to.equal(false);
    expect(writeSatisfied('ONE', 3, write, new Set(['replica-4', 'replica-new']))).to.equal(true);
    expect(writeQuorumText('QUORUM', 3, slotReplicas(firstRing(specs(4), 3), 0).write)).to.equal('QUORUM: 2 of {replica-1, replica-2, replica-3}');
  });
});
