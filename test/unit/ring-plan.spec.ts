import { expect } from 'chai';
import fc from 'fast-check';
import { plan, type Copy, type Plan } from '../../src/core/ring/plan.js';
import { firstRing, slotCount, type MemberSpec, type RingChange, type RingState } from '../../src/core/ring/state.js';
import { advance, beginChange } from '../../src/core/ring/steps.js';

const specs = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i }));
const newcomer: MemberSpec = { name: 'replica-new', host: '127.0.0.1', port: 7200 };
const none = new Set<string>();

function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) expect.fail(r.error);
  return r.value;
}

function finalRing(ring: RingState, change: RingChange): RingState {
  let r = must(beginChange(ring, change));
  while (r.change !== null) r = must(advance(r));
  return r;
}

const inSlots = (c: Copy, slot: number) => c.slots.some((r) => r.first <= slot && slot <= r.last);

/**
 * Streams a write held by `holders` of the old replicas through the plan's copies: the new replicas
 * holding it after. Dead members hold nothing after.
 */
function holdersAfter(p: Plan, after: RingState, slot: number, holders: ReadonlySet<string>, dead: string | null): Set<string> {
  const out = new Set([...holders].filter((h) => h !== dead && after.placement[slot]!.includes(h)));
  for (const c of p.copies) if (inSlots(c, slot) && c.from.some((f) => holders.has(f) && f !== dead)) out.add(c.to);
  return out;
}

/** Every QUORUM write on the old replicas of a slot is still seen by every QUORUM read of the new ones: the first that is not. */
function quorumLoss(p: Plan, before: RingState, after: RingState, dead: string | null): string | null {
  const rf = before.replicationFactor;
  const q = Math.floor(rf / 2) + 1;
  for (let slot = 0; slot < slotCount; slot++) {
    const o = before.placement[slot]!;
    for (let mask = 0; mask < 1 << o.length; mask++) {
      const w = new Set(o.filter((_, i) => mask & (1 << i)));
      if (w.size < q) continue;
      const held = holdersAfter(p, after, slot, w, dead);
      if (held.size < rf - q + 1) return `slot ${slot}: a QUORUM write on {${[...w]}} ends on {${[...held]}} only`;
    }
  }
  return null;
}

const changeArb = fc.integer({ min: 2, max: 12 }).chain((n) => fc.record({
  n: fc.constant(n),
  rf: fc.integer({ min: 2, max: Math.min(n, 5) }),
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

describe('ring plan (src/core/ring/plan.ts)', () => {
  it('copies exactly the placements that change, each from the replica losing the slot (or every survivor of a dead one), and loses no QUORUM write', () => {
    fc.assert(fc.property(changeArb, ({ n, rf, kind, who }) => {
      const ring = firstRing(specs(n), rf);
      const change = changeOf(kind, `replica-${who + 1}`);
      const dead = kind === 'remove' || kind === 'replace' ? `replica-${who + 1}` : null;
      const p = must(plan(ring, change, dead === null ? none : new Set([dead])));
      const after = finalRing(ring, change);
      let changed = 0;
      for (let slot = 0; slot < slotCount; slot++) {
        const o = ring.placement[slot]!;
        const nw = after.placement[slot]!;
        const gained = nw.filter((r) => !o.includes(r));
        changed += gained.length;
        const into = p.copies.filter((c) => inSlots(c, slot));
        expect(into.map((c) => c.to).sort(), `slot ${slot}`).to.deep.equal([...gained].sort());
        for (const c of into) {
          if (dead !== null && o.includes(dead) && !nw.includes(dead)) {
            expect(c.from, `slot ${slot}`).to.satisfy((from: string[]) => from.every((f) => f !== dead && o.includes(f)));
          } else {
            expect(c.from, `slot ${slot}`).to.have.length(1);
            expect(o.includes(c.from[0]!) && !nw.includes(c.from[0]!), `slot ${slot}: ${c.from[0]} loses it`).to.equal(true);
          }
        }
      }
      expect(p.copiesTotal).to.equal(changed);
      expect(quorumLoss(p, ring, after, dead)).to.equal(null);
    }), { numRuns: 150 });
  });

  it('the QUORUM check catches a loose source (a live replica that keeps the slot, as CASSANDRA-2434 did)', () => {
    const ring = firstRing(specs(4), 3);
    const change: RingChange = { kind: 'join', member: newcomer };
    const p = must(plan(ring, change, none));
    const after = finalRing(ring, change);
    const loose: Plan = { ...p, copies: p.copies.map((c) => ({ ...c, from: [after.placement[c.slots[0]!.first]!.find((r) => r !== c.to)!] })) };
    expect(quorumLoss(loose, ring, after, null)).to.match(/a QUORUM write on .* ends on/);
    expect(quorumLoss(p, ring, after, null)).to.equal(null);
  });

  it('join 4 -> 5 at RF 3: what each member holds before and after, the copies, and the epochs it takes', () => {
    const ring = firstRing(specs(4), 3);
    const p = must(plan(ring, { kind: 'join', member: newcomer }, none));
    expect(p.basedOnEpoch).to.equal(0);
    expect(p.description).to.equal('join replica-new (127.0.0.1:7200)');
    const joiner = p.members.find((m) => m.name === 'replica-new')!;
    expect(joiner).to.include({ role: 'joining', before: null });
    expect(joiner.after!.owned).to.deep.equal([{ first: 205, last: 255 }]);
    expect(p.members.map((m) => m.before?.slotsHeld ?? 0)).to.deep.equal([192, 192, 192, 192, 0]);
    const heldAfter = p.members.reduce((n, m) => n + (m.after?.slotsHeld ?? 0), 0);
    expect(heldAfter).to.equal(3 * slotCount);
    // What is streamed in is what is dropped at cleanup.
    expect(p.dropsTotal).to.equal(p.copiesTotal);
    expect(p.copies.filter((c) => c.to === 'replica-new').reduce((n, c) => n + c.slotCount, 0)).to.equal(joiner.after!.slotsHeld);
    expect(p.warnings).to.deep.equal([]);
    expect(p.steps.map((s) => [s.epoch, s.step])).to.deep.equal([[1, 'write-both-read-old'], [2, 'streaming'], [3, 'write-both-read-new'], [4, 'cleanup'], [5, 'stable']]);
  });

  it('is pure: the same ring, change and liveness give the same plan, and the ring is left as it was', () => {
    const ring = firstRing(specs(5), 3);
    const copy = structuredClone(ring);
    const change: RingChange = { kind: 'leave', name: 'replica-1' };
    expect(plan(ring, change, none)).to.deep.equal(plan(ring, change, none));
    expect(ring).to.deep.equal(copy);
  });

  it('warns, blocking the commit, about RF above the new size, a needed member DOWN, and a dead-member change of a live one', () => {
    const blocking = (p: Plan) => p.warnings.filter((w) => w.blocksCommit).map((w) => w.message);
    const three = firstRing(specs(3), 3);
    const tooSmall = must(plan(three, { kind: 'leave', name: 'replica-2' }, none));
    expect(blocking(tooSmall)).to.deep.equal(['replication factor 3 is above the 2 members the ring would have: every slot needs 3 distinct replicas; join a member first']);
    expect(tooSmall.copies).to.deep.equal([]);
    expect(tooSmall.members.find((m) => m.name === 'replica-2')).to.include({ role: 'leaving', after: null });

    const four = firstRing(specs(4), 3);
    // replica-4 hands 205..255 to the joiner and takes 52..63 over from replica-1.
    const joinDown = must(plan(four, { kind: 'join', member: newcomer }, new Set(['replica-4'])));
    expect(blocking(joinDown)).to.deep.equal(['replica-4 is DOWN: needed the source of slots 205..255, to receive slots 52..63, to hold each step\'s epoch before the next']);
    expect(blocking(must(plan(four, { kind: 'leave', name: 'replica-3' }, new Set(['replica-3']))))[0]).to.match(/replica-3 is DOWN: a leaving member is the source of its copies; if it is gone for good, use remove or replace/);
    expect(blocking(must(plan(four, { kind: 'remove', dead: 'replica-3' }, none)))).to.deep.equal(['replica-3 is UP: remove and replace are for a dead member; use leave, which streams its copies from it']);
    const removeDead = must(plan(four, { kind: 'remove', dead: 'replica-3' }, new Set(['replica-3'])));
    expect(blocking(removeDead)).to.deep.equal([]);
    expect(removeDead.warnings.map((w) => w.message)).to.deep.equal(['replica-3\'s copies are pulled from every surviving replica of each slot: a write acknowledged at ONE whose only copy was on replica-3 is lost']);

    const during = must(beginChange(four, { kind: 'join', member: newcomer }));
    expect(blocking(must(plan(during, { kind: 'leave', name: 'replica-1' }, none)))[0]).to.equal('another change is in flight (join replica-new (127.0.0.1:7200) at step write-both-read-old): one change at a time');
  });

  it('a dead member whose slots had no other replica (RF 1): blocking, naming the slots', () => {
    const p = must(plan(firstRing(specs(2), 1), { kind: 'replace', dead: 'replica-2', member: newcomer }, new Set(['replica-2'])));
    expect(p.warnings).to.deep.equal([{ message: 'replica-new has no source for slots 128..255: their only replica was replica-2; that data is lost', blocksCommit: true }]);
  });

  it('refuses a change that can not be made, with the reason', () => {
    expect(plan(firstRing(specs(4), 3), { kind: 'leave', name: 'replica-9' }, none)).to.deep.equal({ ok: false, error: 'replica-9 is not a member (members: replica-1, replica-2, replica-3, replica-4)' });
  });
});
