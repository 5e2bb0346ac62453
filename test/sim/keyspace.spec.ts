// The hashed partitioner on the simulated cluster: text keys through every path, seeds with
// thousands of keys and every checker, and anti-entropy with many keys per slot (paged, never
// over a datagram) rebuilding a replica that lost everything.
import { expect } from 'chai';
import { datagramBytesMax } from '../../src/core/limits.js';
import type { ClientReply, Message } from '../../src/core/messages.js';
import type { Key, Stamp, StoredValue } from '../../src/core/types.js';
import { SimCluster } from '../../tools/sim/cluster.js';
import { runSeed, summarize, textKeys } from '../../tools/sim/workload.js';

function ok<T extends ClientReply['t']>(reply: ClientReply | null, t: T): Extract<ClientReply, { t: T }> {
  expect(reply, 'a reply').to.not.equal(null);
  expect(reply!.t, JSON.stringify(reply)).to.equal(t);
  return reply as Extract<ClientReply, { t: T }>;
}

let nextId = 1;
function age(sim: SimCluster): { sentAtMs: number; deadlineMs: number } {
  const sentAtMs = Math.floor(sim.now);
  return { sentAtMs, deadlineMs: sentAtMs + 3_000 };
}

describe('hashed partitioner (simulated)', () => {
  it('text keys go through put, get, del, local and a hint; a byte-ordered key is refused as invalid', () => {
    const sim = new SimCluster({ seed: 7, nodes: 4, replicationFactor: 3, configOverrides: { partitioner: 'hashed' } });
    sim.runFor(50);
    const key = 'user:42'; // slot 199: replica-4, replica-1, replica-2
    expect(sim.node(0).ring.replicasFor(key)).to.deep.equal([3, 0, 1]);
    ok(sim.request(2, { t: 'put', id: nextId++, key, value: 'Ada', level: 'QUORUM', ...age(sim) }), 'put.ok');
    expect(ok(sim.request(2, { t: 'get', id: nextId++, key, level: 'ALL', ...age(sim) }), 'get.ok')).to.include({ key, value: 'Ada' });
    sim.crash(1);
    sim.runFor(1_000);
    ok(sim.request(0, { t: 'del', id: nextId++, key, level: 'TWO', ...age(sim) }), 'del.ok');
    sim.runFor(20);
    expect(sim.node(0).hints.countFor(1)).to.equal(1);
    sim.restart(1);
    sim.runUntil(() => sim.node(1).store.read(key)?.value === null, 3_000);
    expect(ok(sim.request(1, { t: 'local', id: nextId++, key }), 'local.ok')).to.include({ key, value: null });
    expect(sim.node(2).store.read(key)).to.equal(undefined); // replica-3 holds no copy of slot 199
    const before = sim.node(0).dropped.invalid ?? 0;
    expect(sim.request(0, { t: 'get', id: nextId++, key: 17, level: 'ONE', ...age(sim) }, 200)).to.equal(null);
    expect(sim.node(0).dropped.invalid).to.be.above(before);
  });

  it('seeds with 2,000 text keys, deletes included, pass every checker, in every shape the seeds draw', function () {
    this.timeout(300_000);
    const failures: string[] = [];
    let ops = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const r = runSeed({ seed, partitioner: 'hashed', keys: 2_000 });
      ops += r.stats.ops;
      if (r.failures.length > 0) failures.push(`${summarize(r)}\n  ${r.failures.slice(0, 3).join('\n  ')}`);
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(ops).to.be.above(150 * 20);
  });

  it('anti-entropy rebuilds a replica that lost everything from 30,000 keys, a datagram of stamps at a time', function () {
    this.timeout(300_000);
    const sim = new SimCluster({ seed: 11, nodes: 3, replicationFactor: 3, configOverrides: { partitioner: 'hashed', antiEntropyIntervalMs: 2_000 } });
    sim.runFor(50);
    // The fill: the versions reach replica-1 and replica-2 as hint batches from replica-3 would
    // (the durable replica-write path), far faster than 30,000 client puts through the simulator.
    const keys = textKeys(30_000);
    const stamp: Stamp = [Math.floor(sim.now), 0, 2];
    const writes: [Key, StoredValue, Stamp][] = keys.map((k, i) => [k, i % 10 === 0 ? null : `value of ${k} `.padEnd(100, '.'), stamp]);
    for (const target of [0, 1]) {
      for (let i = 0; i < writes.length; i += 400) {
        sim.inject(target, sim.addresses[2]!, { t: 'hints', from: 2, gen: sim.node(2).generation, id: nextId++, writes: writes.slice(i, i + 400) });
      }
    }
    sim.runFor(100);
    expect(sim.node(0).store.size).to.equal(30_000);
    expect(sim.node(1).store.size).to.equal(30_000);
    sim.wipe(2);
    sim.restart(2);
    expect(sim.node(2).store.size).to.equal(0);

    let largest = 0;
    sim.watchWire = (_msg: Message, bytes: number) => { largest = Math.max(largest, bytes); };
    const rebuilt = sim.runUntil(() => sim.node(2).store.size === 30_000, 30_000);
    expect(rebuilt, `replica-3 holds ${sim.node(2).store.size} of 30000`).to.equal(true);
    for (const [key, value] of writes) expect(sim.node(2).store.read(key)?.value).to.equal(value);
    expect(sim.node(2).store.tombstones).to.equal(3_000);
    expect(largest).to.be.at.most(datagramBytesMax);

    // In sync: every digest reply names no differing block (one small datagram per peer per round).
    sim.runFor(3_000);
    let differing = 0;
    let digestReplies = 0;
    sim.watchWire = (msg: Message) => { if (msg.t === 'ae.ok') { digestReplies++; if (msg.more === true || msg.blocks.length > 0) differing++; } };
    sim.runFor(4_100);
    expect(digestReplies).to.be.at.least(6);
    expect(differing).to.equal(0);

    // One key newer on replica-1 alone: its block holds ~1,900 keys, more stamps than one datagram,
    // so the peers' digest replies page through it, and the key reaches both within a round.
    const changed = keys[12_345]!;
    sim.inject(0, sim.addresses[2]!, { t: 'hints', from: 2, gen: sim.node(2).generation, id: nextId++, writes: [[changed, 'changed', [Math.floor(sim.now), 0, 2]]] });
    let pages = 0;
    sim.watchWire = (msg: Message, bytes: number) => { largest = Math.max(largest, bytes); if (msg.t === 'ae.ok' && msg.more === true) pages++; };
    const repaired = sim.runUntil(() => sim.node(1).store.read(changed)?.value === 'changed' && sim.node(2).store.read(changed)?.value === 'changed', 4_100);
    expect(repaired, 'the changed key reached every replica within two intervals').to.equal(true);
    expect(pages, 'digest replies paged').to.be.at.least(1);
    expect(largest).to.be.at.most(datagramBytesMax);
  });
});
