import { expect } from 'chai';
import { byteOrdered, hashed } from '../../src/core/keyspace.js';
import { nodesMax, slotCount } from '../../src/core/limits.js';
import { Ring } from '../../src/core/partitioner.js';
import { Placement } from '../../src/core/placement.js';
import { firstRing, type MemberSpec, type RingState } from '../../src/core/ring/state.js';
import { advance, beginChange } from '../../src/core/ring/steps.js';

const specs = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i }));
const names = (n: number) => specs(n).map((m) => m.name);

function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) expect.fail(r.error);
  return r.value;
}

describe('placement (src/core/placement.ts)', () => {
  it('at epoch 0 places every slot exactly as partitioner.ts does, for every N <= 64 and RF <= N', () => {
    for (let n = 1; n <= nodesMax; n++) {
      for (let rf = 1; rf <= n; rf++) {
        const ring = new Ring(n, rf);
        const placed = new Placement(firstRing(specs(n), rf), byteOrdered, names(n));
        for (let slot = 0; slot < slotCount; slot++) {
          const want = ring.replicasForSlot(slot);
          const got = placed.forSlot(slot);
          if (got.read.join() !== want.join() || got.write.to.join() !== want.join() || got.write.groups.length !== 1 || got.write.groups[0]!.join() !== want.join()) {
            expect.fail(`N=${n} RF=${rf} slot ${slot}: ring ${want.join(',')}, placement read ${got.read.join(',')} write ${got.write.to.join(',')}`);
          }
          for (let node = 0; node < n; node++) {
            if (placed.holdsSlot(node, slot) !== ring.holdsSlot(node, slot)) expect.fail(`N=${n} RF=${rf} slot ${slot}: holdsSlot(${node}) disagrees`);
          }
        }
        expect(placed.ranges.map((r) => [r.first, r.last, r.replicas[0]]), `N=${n} RF=${rf}`).to.deep.equal(ring.ranges.map((r) => [r.first, r.last, r.owner]));
      }
    }
  });

  it('places hashed text keys on the slot their hash picks, as partitioner.ts does', () => {
    const space = hashed(64);
    const ring = new Ring(4, 3, space);
    const placed = new Placement(firstRing(specs(4), 3), space, names(4));
    for (let i = 0; i < 5000; i++) {
      const key = `user:${i}`;
      expect(placed.replicasFor(key)).to.deep.equal(ring.replicasFor(key));
      expect(placed.forKey(key).write.to).to.deep.equal(ring.replicasFor(key));
    }
  });

  it('the request path finds the same arrays every time (one table per epoch, nothing made per request)', () => {
    const placed = new Placement(firstRing(specs(4), 3), byteOrdered, names(4));
    expect(placed.forKey(17)).to.equal(placed.forKey(17));
    expect(placed.forKey(17).read).to.equal(placed.forKey(40).read); // one range, one array
  });

  describe('while replica-5 joins four replicas at RF 3', () => {
    const peers = [...names(4), 'replica-5'];
    const joiner: MemberSpec = { name: 'replica-5', host: '127.0.0.1', port: 7105 };
    const stable = firstRing(specs(4), 3);
    const steps: RingState[] = [must(beginChange(stable, { kind: 'join', member: joiner }))];
    while (steps[steps.length - 1]!.change !== null) steps.push(must(advance(steps[steps.length - 1]!)));
    const [writeBothReadOld, streaming, writeBothReadNew, cleanup, done] = steps.map((r) => new Placement(r, byteOrdered, peers));
    // Slot 250 is replica-4's at epoch 0 ({4, 1, 2}); after the join it is replica-5's ({5, 1, 2}).
    const slot = 250;

    it('writes go to old and new replicas, acked within each group; reads stay on the old ones until write-both-read-new', () => {
      for (const p of [writeBothReadOld!, streaming!]) {
        expect(p.forSlot(slot).read).to.deep.equal([3, 0, 1]);
        expect(p.forSlot(slot).write.to).to.deep.equal([3, 0, 1, 4]);
        expect(p.forSlot(slot).write.groups).to.deep.equal([[3, 0, 1], [4, 0, 1]]);
      }
      expect(writeBothReadNew!.forSlot(slot).read).to.deep.equal([4, 0, 1]);
      expect(writeBothReadNew!.forSlot(slot).write.to).to.deep.equal([3, 0, 1, 4]);
      expect(cleanup!.forSlot(slot).write.to).to.deep.equal([4, 0, 1]);
      expect(done!.forSlot(slot).read).to.deep.equal([4, 0, 1]);
    });

    it('a replica takes (and may hold) the slots it is written: the joiner from the first step, the old owner until cleanup', () => {
      expect(writeBothReadOld!.holdsSlot(4, slot)).to.equal(true);
      expect(writeBothReadOld!.holdsSlot(3, slot)).to.equal(true);
      expect(writeBothReadNew!.holdsSlot(3, slot)).to.equal(true);
      expect(cleanup!.holdsSlot(3, slot)).to.equal(false);
      expect(new Placement(stable, byteOrdered, peers).holdsSlot(4, slot)).to.equal(false);
    });
  });

  it('refuses a ring with a member the node has no peer for (its writes would be lost without a word)', () => {
    expect(() => new Placement(firstRing(specs(5), 3), byteOrdered, names(4))).to.throw(RangeError, /replica-5 .* is not one of this node's peers/);
  });
});
