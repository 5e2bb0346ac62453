import { expect } from 'chai';
import { byteOrdered, hashed, type KeySpace } from '../../src/core/keyspace.js';
import { slotCount } from '../../src/core/limits.js';
import { Ring } from '../../src/core/partitioner.js';
import { Placement } from '../../src/core/placement.js';
import { writeSatisfied } from '../../src/core/ring/acks.js';
import { firstRing, type MemberSpec } from '../../src/core/ring/state.js';
import { advance, beginChange } from '../../src/core/ring/steps.js';

const specs = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i }));
const spaces: [string, KeySpace, (i: number) => string | number][] = [
  ['byte-ordered', byteOrdered, (i) => i % slotCount],
  ['hashed', hashed(256), (i) => `user:${i}`],
];

describe('placement (keys placed through the ring)', () => {
  for (const [partitioner, space, keyOf] of spaces) {
    it(`at epoch 0 places every key as partitioner.ts's Ring does (${partitioner}, every N <= 8, RF <= N)`, () => {
      for (let n = 1; n <= 8; n++) {
        const peers = specs(n).map((s) => s.name);
        for (let rf = 1; rf <= n; rf++) {
          const want = new Ring(n, rf, space);
          const got = new Placement(firstRing(specs(n), rf), space, peers);
          const where = `N=${n} RF=${rf}`;
          for (let i = 0; i < 2000; i++) {
            const key = keyOf(i);
            const replicas = want.replicasFor(key);
            const placed = got.forKey(key);
            expect(got.slotOf(key), `${where} key ${key}`).to.equal(want.slotOf(key));
            expect(placed.read, `${where} key ${key} read`).to.deep.equal(replicas);
            expect(placed.write.to, `${where} key ${key} write`).to.deep.equal(replicas);
            expect(placed.write.groups, `${where} key ${key} groups`).to.deep.equal([replicas]);
            for (let node = 0; node < n; node++) expect(got.holds(node, key), `${where} key ${key} node ${node}`).to.equal(want.holds(node, key));
          }
          expect(got.ranges.map((r) => [r.first, r.last, r.replicas]), where)
            .to.deep.equal(want.ranges.map((r) => [r.first, r.last, want.replicasForSlot(r.first)]));
        }
      }
    });
  }

  it('numbers replicas by the node\'s peer table, whatever order the ring lists them in', () => {
    const ring = firstRing(specs(4), 3);
    const peers = ['replica-3', 'replica-1', 'replica-4', 'replica-2'];
    const placement = new Placement(ring, byteOrdered, peers);
    // Slot 0 is replica-1's range: replica-1, -2, -3, that is peers 1, 3, 0.
    expect(placement.forSlot(0).read).to.deep.equal([1, 3, 0]);
    expect(placement.forSlot(255).read.map((i) => peers[i])).to.deep.equal(['replica-4', 'replica-1', 'replica-2']);
  });

  it('refuses a ring with a member the node cannot address, and a slot outside the ring', () => {
    const ring = firstRing(specs(4), 3);
    expect(() => new Placement(ring, byteOrdered, ['replica-1', 'replica-2', 'replica-3'])).to.throw(RangeError, /ring member replica-4 \(epoch 0\) is not one of this node's peers/);
    expect(() => new Placement(ring, byteOrdered, specs(4).map((s) => s.name)).forSlot(256)).to.throw(RangeError, /slot 256 outside 0..255/);
  });

  it('while a replica joins, writes go to the old and new replicas, are acked within each group, and reads stay with the old ones', () => {
    const joiner: MemberSpec = { name: 'replica-5', host: '127.0.0.1', port: 7105 };
    const begun = beginChange(firstRing(specs(4), 3), { kind: 'join', member: joiner });
    if (!begun.ok) throw new Error(begun.error);
    const peers = [...specs(4), joiner].map((s) => s.name);
    const placement = new Placement(begun.value, byteOrdered, peers);
    expect(placement.epoch).to.equal(1);
    // Slot 255 moves from {4, 1, 2} to {5, 1, 2}: replica-5 (peer 4) takes replica-4's (peer 3) place.
    const moved = placement.forSlot(255);
    expect(moved.read).to.deep.equal([3, 0, 1]);
    expect(moved.write.to).to.have.members([3, 0, 1, 4]);
    expect(moved.write.groups).to.deep.equal([[3, 0, 1], [4, 0, 1]]);
    expect(placement.holdsSlot(4, 255)).to.equal(true);
    // The joiner's ack never stands in for the old owner's: {1, 5} meets QUORUM in N, not in O.
    expect(writeSatisfied('QUORUM', 3, moved.write, new Set([0, 4]))).to.equal(false);
    expect(writeSatisfied('QUORUM', 3, moved.write, new Set([0, 1]))).to.equal(true);
    expect(writeSatisfied('ONE', 3, moved.write, new Set([3]))).to.equal(false);
    expect(writeSatisfied('ONE', 3, moved.write, new Set([3, 4]))).to.equal(true);
    // A slot whose replicas stay the same has one group.
    expect(placement.forSlot(0).write.groups).to.deep.equal([[0, 1, 2]]);

    let ring = begun.value;
    for (let i = 0; i < 2; i++) { const next = advance(ring); if (!next.ok) throw new Error(next.error); ring = next.value; }
    expect(new Placement(ring, byteOrdered, peers).forSlot(255).read, 'write-both-read-new reads the new replicas').to.deep.equal([4, 0, 1]);
  });
});
