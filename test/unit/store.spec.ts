import { expect } from 'chai';
import fc from 'fast-check';
import { compareStamps } from '../../src/core/hlc.js';
import { Store } from '../../src/core/store.js';
import type { Stamp } from '../../src/core/types.js';

interface Write { key: number; value: string; stamp: Stamp }

/** Writes to a few keys with distinct stamps (as the HLC guarantees), and one order to apply them in. */
const writesAndOrder = fc.uniqueArray(
  fc.record({
    key: fc.integer({ min: 0, max: 7 }),
    value: fc.string({ maxLength: 8 }),
    stamp: fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })) as fc.Arbitrary<Stamp>,
  }),
  { selector: (w) => w.stamp.join('.'), maxLength: 40 },
).chain((writes) => fc.tuple(fc.constant(writes), fc.shuffledSubarray(writes, { minLength: writes.length, maxLength: writes.length })));

function newestPerKey(writes: readonly Write[]): Map<number, Write> {
  const newest = new Map<number, Write>();
  for (const w of writes) {
    const current = newest.get(w.key);
    if (!current || compareStamps(w.stamp, current.stamp) > 0) newest.set(w.key, w);
  }
  return newest;
}

describe('store (last write wins)', () => {
  it('property: any order of applies ends with the newest stamp per key', () => {
    fc.assert(fc.property(writesAndOrder, ([writes, order]) => {
      const store = new Store();
      for (const w of order) store.apply(w.key, w.value, w.stamp);
      const expected = newestPerKey(writes);
      expect(store.size).to.equal(expected.size);
      for (const [key, w] of expected) expect(store.read(key)).to.deep.equal({ value: w.value, stamp: w.stamp });
      expect(new Map(store.entries()).size).to.equal(expected.size);
    }));
  });

  it('property: apply reports whether the write won', () => {
    fc.assert(fc.property(writesAndOrder, ([, order]) => {
      const store = new Store();
      for (const w of order) {
        const before = store.read(w.key);
        const won = store.apply(w.key, w.value, w.stamp);
        expect(won).to.equal(before === undefined || compareStamps(w.stamp, before.stamp) > 0);
      }
    }));
  });

  it('an older write arriving late does not overwrite a newer one', () => {
    const store = new Store();
    expect(store.apply(17, 'new', [200, 0, 1])).to.equal(true);
    expect(store.apply(17, 'old', [100, 5, 2])).to.equal(false);
    expect(store.read(17)).to.deep.equal({ value: 'new', stamp: [200, 0, 1] });
  });

  it('a duplicate delivery of the same write changes nothing', () => {
    const store = new Store();
    expect(store.apply(3, 'v', [1, 0, 0])).to.equal(true);
    expect(store.apply(3, 'v', [1, 0, 0])).to.equal(false);
    expect(store.read(3)).to.deep.equal({ value: 'v', stamp: [1, 0, 0] });
  });

  it('reads a missing key as undefined', () => {
    const store = new Store();
    expect(store.read(42)).to.equal(undefined);
    store.apply(41, 'x', [1, 0, 0]);
    expect(store.read(42)).to.equal(undefined);
    expect(store.size).to.equal(1);
  });
});
