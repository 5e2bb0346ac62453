// A disk that fills, told as a script on a simulated cluster of four replicas at RF 3 (key 128
// lives on replica-3, replica-4 and replica-1): the full replica stops acking writes, keeps
// serving reads and heartbeats, says so once, and takes writes again when space returns,
// without a restart and without losing an acknowledged write.
import { expect } from 'chai';
import type { ClientReply, ClientRequest } from '../../src/core/messages.js';
import type { Level } from '../../src/core/types.js';
import { SimCluster } from '../../tools/sim/cluster.js';

const key = 128;
const [r1, r2, r3, r4] = [0, 1, 2, 3];
let nextId = 1;

function put(sim: SimCluster, value: string, level: Level): ClientRequest {
  const sentAtMs = Math.floor(sim.now);
  return { t: 'put', id: nextId++, key, value, level, sentAtMs, deadlineMs: sentAtMs + 2_000 };
}
function get(sim: SimCluster, level: Level): ClientRequest {
  const sentAtMs = Math.floor(sim.now);
  return { t: 'get', id: nextId++, key, level, sentAtMs, deadlineMs: sentAtMs + 2_000 };
}
function reply<T extends ClientReply['t']>(r: ClientReply | null, t: T): Extract<ClientReply, { t: T }> {
  expect(r, 'a reply').to.not.equal(null);
  expect(r!.t, JSON.stringify(r)).to.equal(t);
  return r as Extract<ClientReply, { t: T }>;
}

describe('scenarios: a disk that fills', () => {
  it('the full replica acks no writes but serves reads; writes resume when space returns; no acknowledged write is lost', () => {
    const sim = new SimCluster({ seed: 3, nodes: 4, replicationFactor: 3 });
    sim.runFor(50);
    reply(sim.request(r1, put(sim, 'before', 'ALL')), 'put.ok');
    sim.fillDisk(r3, 2_000);

    // QUORUM needs two of three: replica-4 and replica-1 ack, replica-3 cannot.
    reply(sim.request(r1, put(sim, 'while full', 'QUORUM')), 'put.ok');
    const all = reply(sim.request(r1, put(sim, 'at ALL', 'ALL')), 'fail');
    expect(all).to.deep.include({ error: 'Timeout', acks: 2, required: 3 });
    const status = sim.node(r3).status();
    expect(status.logWritable).to.equal(false);
    expect(status.logAppendsFailed).to.be.greaterThan(0);
    expect(sim.node(r3).store.read(key)?.value, 'a refused record is never applied').to.equal('before');
    // Reads and heartbeats go on: replica-3 answers a read, and no peer marks it DOWN.
    expect(reply(sim.request(r3, { t: 'local', id: nextId++, key }), 'local.ok').value).to.equal('before');
    // A timed-out write may still land (it did, on two replicas): a QUORUM read through replica-3 sees it.
    expect(reply(sim.request(r3, get(sim, 'QUORUM')), 'get.ok').value).to.equal('at ALL');
    expect([r1, r2, r4].map((r) => sim.node(r).status().peers[r3]!.up)).to.deep.equal([true, true, true]);
    // As a coordinator it refuses puts: it could not make their hints durable.
    const refused = reply(sim.request(r3, put(sim, 'via the full one', 'ONE')), 'fail');
    expect(refused.message).to.match(/^Unavailable: replica-3's disk is full/);

    sim.runFor(2_500); // space returns; the refused writes and the hints for replica-3 land
    expect(sim.node(r3).status().logWritable).to.equal(true);
    expect(sim.node(r3).store.read(key)?.value).to.equal('at ALL');
    reply(sim.request(r1, put(sim, 'after', 'ALL')), 'put.ok');
    for (const r of [r3, r4, r1]) expect(sim.node(r).store.read(key)?.value, sim.config.nodes[r]!.name).to.equal('after');
    const lines = sim.logLines.filter((l) => / replica-3 disk-(full|ok): /.test(l));
    expect(lines.map((l) => / disk-(\w+):/.exec(l)![1]), 'said once, and once more when it is over').to.deep.equal(['full', 'ok']);

    // Nothing half-written: a restart replays every durable record and holds the newest write.
    sim.crash(r3, false);
    sim.restart(r3);
    expect(sim.node(r3).store.read(key)?.value).to.equal('after');
  });
});
