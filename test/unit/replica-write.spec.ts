// The replica's write path on one Node, effect by effect: a version already on its way to disk is
// not logged twice, and every request that brought it is acked only once it is durable.
import { expect } from 'chai';
import type { Effect } from '../../src/core/effects.js';
import type { Message } from '../../src/core/messages.js';
import { Node } from '../../src/core/node.js';
import { seededRandom } from '../../src/core/prng.js';
import { addressOf, type Stamp } from '../../src/core/types.js';
import { simConfig } from '../../tools/sim/cluster.js';

const config = simConfig(4, 3, 'both', true);
const startMs = 1_700_000_000_000;
const [r1, r2, r3] = [0, 1, 2];
const key = 128; // on replica-3, replica-4 and replica-1

function replica(): Node {
  const node = new Node({ config, self: r1, generation: startMs, random: seededRandom(1), nowMs: startMs });
  node.step({ kind: 'start' }, startMs);
  return node;
}

function from(node: Node, peer: number, msg: Message, nowMs = startMs + 1): Effect[] {
  return node.step({ kind: 'message', from: addressOf(config.nodes[peer]!), msg }, nowMs);
}

const appends = (effects: Effect[]) => effects.filter((e) => e.kind === 'append');
const acks = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'send' && (e.msg.t === 'rw.ok' || e.msg.t === 'hints.ok') ? [e.msg] : []));

describe('core/node: the replica write path', () => {
  const stamp: Stamp = [startMs, 0, r2];

  it('logs a version once when two requests bring it before its fsync, and acks both after it', () => {
    const node = replica();
    const first = from(node, r2, { t: 'rw', from: r2, gen: 1, id: 1, key, value: 'v', stamp });
    const second = from(node, r3, { t: 'hints', from: r3, gen: 1, id: 7, writes: [[key, 'v', stamp]] });
    expect(appends(first)).to.have.length(1);
    expect(appends(second), 'the second copy waits for the first record').to.have.length(0);
    expect([...acks(first), ...acks(second)], 'nothing is acked before the record is durable').to.deep.equal([]);
    const lsn = (appends(first)[0] as { lsn: number }).lsn;
    const synced = node.step({ kind: 'synced', upToLsn: lsn, logBytes: 100 }, startMs + 2);
    expect(acks(synced).map((a) => [a.t, a.id])).to.deep.equal([['rw.ok', 1], ['hints.ok', 7]]);
    expect(node.store.read(key)).to.deep.equal({ value: 'v', stamp });
    expect(node.invariants()).to.deep.equal([]);
  });

  it('logs a newer version that arrives while an older one is pending, and an older one not at all', () => {
    const node = replica();
    const newer: Stamp = [startMs + 5, 0, r3];
    const a = from(node, r2, { t: 'rw', from: r2, gen: 1, id: 1, key, value: 'old', stamp });
    const b = from(node, r3, { t: 'rw', from: r3, gen: 1, id: 2, key, value: null, stamp: newer });
    const c = from(node, r2, { t: 'rw', from: r2, gen: 1, id: 3, key, value: 'old', stamp });
    expect([appends(a).length, appends(b).length, appends(c).length]).to.deep.equal([1, 1, 0]);
    const last = (appends(b)[0] as { lsn: number }).lsn;
    const synced = node.step({ kind: 'synced', upToLsn: last, logBytes: 200 }, startMs + 3);
    expect(acks(synced).map((x) => x.id).sort()).to.deep.equal([1, 2, 3]);
    expect(node.store.read(key), 'the tombstone wins').to.deep.equal({ value: null, stamp: newer });
    expect(node.store.tombstones).to.equal(1);
    expect(node.status()).to.include({ keysStored: 0, tombstones: 1 });
  });
});
