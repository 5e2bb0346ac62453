import { expect } from 'chai';
import fc from 'fast-check';
import { keyMax, keyMin } from '../../src/core/limits.js';
import { Ring } from '../../src/core/partitioner.js';

describe('partitioner (Ring)', () => {
  describe('4 replicas at RF 3', () => {
    const ring = new Ring(4, 3);
    const table: [number, number[]][] = [
      [0, [0, 1, 2]], [63, [0, 1, 2]],
      [64, [1, 2, 3]], [127, [1, 2, 3]],
      [128, [2, 3, 0]], [191, [2, 3, 0]],
      [192, [3, 0, 1]], [255, [3, 0, 1]],
    ];
    for (const [key, replicas] of table) {
      it(`key ${key} is owned by ${replicas[0]} and held by [${replicas.join(', ')}]`, () => {
        expect(ring.replicasFor(key)).to.deep.equal(replicas);
        const range = ring.ranges.find((r) => r.first <= key && key <= r.last);
        expect(range?.owner).to.equal(replicas[0]);
      });
    }

    it('splits the ring into four ranges of 64 keys', () => {
      expect(ring.ranges.map((r) => [r.first, r.last, r.owner])).to.deep.equal([[0, 63, 0], [64, 127, 1], [128, 191, 2], [192, 255, 3]]);
    });

    it('holds(node, key) agrees with the replica set', () => {
      expect(ring.holds(0, 200)).to.equal(true);
      expect(ring.holds(2, 200)).to.equal(false);
      expect(ring.holds(3, 10)).to.equal(false);
    });

    it('refuses a key outside the ring', () => {
      expect(() => ring.replicasFor(256)).to.throw(RangeError);
      expect(() => ring.replicasFor(-1)).to.throw(RangeError);
    });
  });

  describe('for any N in 1..16 and 1 <= RF <= N', () => {
    const sizes = fc.integer({ min: 1, max: 16 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n })));

    it('every key has RF distinct replicas, owner first, consecutive clockwise, the owner range holds the key', () => {
      fc.assert(fc.property(sizes, ([n, rf]) => {
        const ring = new Ring(n, rf);
        // Plain checks in the loop (chai per key is slow); the first broken rule fails with its key.
        const broken = (key: number, rule: string): never => expect.fail(`N=${n} RF=${rf} key ${key}: ${rule} (${ring.replicasFor(key).join(',')})`);
        for (let key = keyMin; key <= keyMax; key++) {
          const replicas = ring.replicasFor(key);
          if (replicas.length !== rf) broken(key, 'not RF replicas');
          if (new Set(replicas).size !== rf) broken(key, 'replicas not distinct');
          const owner = replicas[0]!;
          const range = ring.ranges[owner]!;
          if (range.owner !== owner || key < range.first || key > range.last) broken(key, 'first replica does not own the range of the key');
          if (replicas.some((r, j) => r !== (owner + j) % n)) broken(key, 'replicas not consecutive clockwise from the owner');
          for (let node = 0; node < n; node++) if (ring.holds(node, key) !== replicas.includes(node)) broken(key, `holds(${node}) disagrees`);
        }
      }), { numRuns: 150 });
    });

    it('N ranges cover 0..255 contiguously, in node order, sizes within one of each other', () => {
      fc.assert(fc.property(sizes, ([n, rf]) => {
        const { ranges } = new Ring(n, rf);
        expect(ranges).to.have.length(n);
        expect(ranges[0]!.first).to.equal(keyMin);
        expect(ranges[n - 1]!.last).to.equal(keyMax);
        ranges.forEach((r, i) => {
          expect(r.owner).to.equal(i);
          expect(r.last).to.be.at.least(r.first);
          if (i > 0) expect(r.first).to.equal(ranges[i - 1]!.last + 1);
        });
        const sizesOf = ranges.map((r) => r.last - r.first + 1);
        expect(Math.max(...sizesOf) - Math.min(...sizesOf)).to.be.at.most(1);
      }), { numRuns: 150 });
    });
  });

  it('refuses RF > N, RF < 1, N < 1 and non-integers', () => {
    expect(() => new Ring(3, 4)).to.throw(RangeError, /replication factor 4/);
    expect(() => new Ring(3, 0)).to.throw(RangeError, /replication factor 0/);
    expect(() => new Ring(3, -1)).to.throw(RangeError);
    expect(() => new Ring(0, 0)).to.throw(RangeError, /node count 0/);
    expect(() => new Ring(-2, 1)).to.throw(RangeError, /node count/);
    expect(() => new Ring(2.5, 1)).to.throw(RangeError, /node count/);
    expect(() => new Ring(3, 1.5)).to.throw(RangeError, /replication factor/);
    expect(() => new Ring(1, 1)).not.to.throw();
  });
});
