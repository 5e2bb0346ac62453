import { expect } from 'chai';
import fc from 'fast-check';
import { compareStamps, Hlc } from '../../src/core/hlc.js';
import type { Stamp } from '../../src/core/types.js';

const wallMs = fc.integer({ min: 0, max: 2_000_000_000_000 });
const stampArb = (maxWall = 2_000_000_000_000): fc.Arbitrary<Stamp> =>
  fc.tuple(fc.integer({ min: 0, max: maxWall }), fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 63 }));
/** A clock's inputs: read the wall clock, or see a stamp from another node. */
const steps = fc.array(fc.oneof(
  wallMs.map((w) => ({ now: w })),
  fc.integer({ min: 0, max: 10 }).map((w) => ({ now: w })), // small values: many ties and jumps back
  stampArb().map((s) => ({ observe: s })),
  // Stamps just ahead of the clock's own latest: the close calls.
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 63 })).map((near) => ({ near })),
), { maxLength: 60 });

type Step = { now: number } | { observe: Stamp } | { near: Stamp };
/** The stamp a step observes, if it observes one. */
function observed(step: Step, hlc: Hlc): Stamp | undefined {
  if ('observe' in step) return step.observe;
  if ('near' in step) { const [w, c] = hlc.latest(); return [w + step.near[0], c + step.near[1], step.near[2]]; }
  return undefined;
}

describe('hlc', () => {
  it('stamps strictly increase whatever the wall clock does, jumps back included', () => {
    fc.assert(fc.property(fc.array(fc.oneof(wallMs, fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 100 }), (walls) => {
      const hlc = new Hlc(2);
      let previous: Stamp | undefined;
      for (const w of walls) {
        const s = hlc.now(w);
        if (previous) expect(compareStamps(s, previous), `${s} after ${previous}`).to.be.greaterThan(0);
        previous = s;
      }
    }));
  });

  it('follows the wall clock forward, counting within one millisecond and after a jump back', () => {
    const hlc = new Hlc(1);
    expect(hlc.now(100)).to.deep.equal([100, 0, 1]);
    expect(hlc.now(100)).to.deep.equal([100, 1, 1]);
    expect(hlc.now(100)).to.deep.equal([100, 2, 1]);
    expect(hlc.now(250)).to.deep.equal([250, 0, 1]); // counter resets when the wall clock moves on
    expect(hlc.now(90)).to.deep.equal([250, 1, 1]); // wall clock went back: keep the wall, count
    expect(hlc.now(251)).to.deep.equal([251, 0, 1]);
    expect(hlc.latest()).to.deep.equal([251, 0, 1]);
  });

  it('a stamp made after observing another is newer than it, even with a slow wall clock', () => {
    const hlc = new Hlc(0);
    hlc.now(1_000);
    hlc.observe([5_000, 7, 3]);
    expect(hlc.now(1_001)).to.deep.equal([5_000, 8, 0]);
    hlc.observe([4_000, 99, 3]); // older than what we have: ignored
    expect(hlc.now(1_002)).to.deep.equal([5_000, 9, 0]);
    hlc.observe([5_000, 10, 63]); // one count ahead, from a higher node index
    expect(hlc.now(1_003)).to.deep.equal([5_000, 11, 0]);
  });

  it('property: every stamp is newer than every stamp made or observed before it', () => {
    fc.assert(fc.property(steps, (inputs) => {
      const hlc = new Hlc(5);
      let newest: Stamp | undefined;
      for (const step of inputs) {
        const seen = observed(step, hlc);
        if (seen) {
          hlc.observe(seen);
          const [w, c] = hlc.latest();
          expect(compareStamps([w, c, 0], [seen[0], seen[1], 0]), 'latest() moved up to the observed stamp').to.be.at.least(0);
          if (!newest || compareStamps(seen, newest) > 0) newest = seen;
        } else if ('now' in step) {
          const s = hlc.now(step.now);
          if (newest) expect(compareStamps(s, newest), `${s} after ${newest}`).to.be.greaterThan(0);
          expect(s[2]).to.equal(5);
          newest = s;
        }
      }
    }));
  });

  it('property: two nodes fed the same inputs never make equal stamps', () => {
    fc.assert(fc.property(steps, (inputs) => {
      const a = new Hlc(0);
      const b = new Hlc(1);
      const made: Stamp[] = [];
      for (const step of inputs) {
        const seen = observed(step, a);
        if (seen) { a.observe(seen); b.observe(seen); } else if ('now' in step) made.push(a.now(step.now), b.now(step.now));
      }
      for (let i = 0; i < made.length; i++) {
        for (let j = i + 1; j < made.length; j++) expect(compareStamps(made[i]!, made[j]!), `${made[i]} vs ${made[j]}`).not.to.equal(0);
      }
    }));
  });

  describe('compareStamps is a total order', () => {
    const anyStamp = fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.maxSafeNat()),
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.maxSafeNat()),
      fc.integer({ min: 0, max: 63 }),
    );
    const sign = (n: number): number => Math.sign(n) || 0;

    it('is zero exactly for equal stamps, and antisymmetric', () => {
      fc.assert(fc.property(anyStamp, anyStamp, (a, b) => {
        const equal = a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
        expect(compareStamps(a, b) === 0).to.equal(equal);
        expect(sign(compareStamps(a, b))).to.equal(-sign(compareStamps(b, a)));
      }));
    });

    it('is transitive', () => {
      fc.assert(fc.property(anyStamp, anyStamp, anyStamp, (a, b, c) => {
        if (compareStamps(a, b) <= 0 && compareStamps(b, c) <= 0) expect(compareStamps(a, c)).to.be.at.most(0);
      }));
    });

    it('orders by wall clock, then counter, then node', () => {
      expect(compareStamps([2, 0, 0], [1, 9, 9])).to.be.greaterThan(0);
      expect(compareStamps([1, 2, 0], [1, 1, 9])).to.be.greaterThan(0);
      expect(compareStamps([1, 1, 2], [1, 1, 1])).to.be.greaterThan(0);
      expect(compareStamps([Number.MAX_SAFE_INTEGER, 0, 0], [Number.MAX_SAFE_INTEGER - 1, 0, 0])).to.be.greaterThan(0);
    });
  });

  it('orders stamps of two nodes within one millisecond as they were made, whatever their indexes', () => {
    const high = new Hlc(3);
    const low = new Hlc(0);
    const first = high.now(1_000.3); // a write acknowledged within the same ms…
    const second = low.now(1_000.7); // …then another client's, through a node of a lower index
    expect(compareStamps(second, first)).to.be.greaterThan(0);
    expect(first).to.deep.equal([1_000, 300, 3]);
    // Within one node the counter still only grows, even when the fraction does not.
    expect(low.now(1_000.2)).to.deep.equal([1_000, 701, 0]);
    expect(low.now(1_001)).to.deep.equal([1_001, 0, 0]);
  });
});
