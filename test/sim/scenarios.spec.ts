// Failures told as scripts: each test reads like the incident it reproduces, on a simulated cluster
// of four replicas at RF 3 (key 128 lives on replica-3, replica-4 and replica-1).
import { expect } from 'chai';
import { clientRequestsInFlightMax } from '../../src/core/limits.js';
import type { ClientReply } from '../../src/core/messages.js';
import { SimCluster, type SimOptions } from './cluster.js';

const key = 128;
const [r1, r2, r3, r4] = [0, 1, 2, 3];

function cluster(opts: Partial<SimOptions> = {}): SimCluster {
  const sim = new SimCluster({ seed: 42, nodes: 4, replicationFactor: 3, ...opts });
  sim.runFor(50);
  expect(sim.node(r1).ring.replicasFor(key)).to.deep.equal([r3, r4, r1]);
  return sim;
}

/** Waits until the coordinator's failure detector calls the node DOWN. */
function waitDown(sim: SimCluster, observer: number, node: number): void {
  const down = sim.runUntil(() => !sim.node(observer).status().peers[node]!.up, 5_000);
  expect(down, `${sim.config.nodes[observer]!.name} should see ${sim.config.nodes[node]!.name} DOWN`).to.equal(true);
}

function ok<T extends ClientReply['t']>(reply: ClientReply | null, t: T): Extract<ClientReply, { t: T }> {
  expect(reply, 'a reply').to.not.equal(null);
  expect(reply!.t, JSON.stringify(reply)).to.equal(t);
  return reply as Extract<ClientReply, { t: T }>;
}

let nextId = 1;

describe('scenarios', () => {
  it('replica-3 down; a write at ONE leaves a hint; replica-3 back gets it with no client request', () => {
    const sim = cluster();
    sim.crash(r3);
    waitDown(sim, r2, r3);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'while you were out', level: 'ONE' }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(1);

    sim.restart(r3);
    const restartedAt = sim.now;
    expect(sim.node(r3).store.read(key)).to.equal(undefined);
    // No client request from here on: the heartbeat from the restarted replica triggers delivery.
    sim.runUntil(() => sim.node(r3).store.read(key) !== undefined, 5_000);
    expect(sim.node(r3).store.read(key)?.value).to.equal('while you were out');
    // "At once": well before the periodic hint sweep would have done it.
    expect(sim.now - restartedAt).to.be.lessThan(sim.config.hintSweepIntervalMs / 2);
    sim.runFor(50);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(0);
    expect(sim.logLines.some((l) => l.includes('hints delivered to replica-3'))).to.equal(true);
  });

  it('the same, with the coordinator restarted while it holds the hint', () => {
    const sim = cluster();
    sim.crash(r3);
    waitDown(sim, r2, r3);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'kept across a restart', level: 'QUORUM' }), 'put.ok');
    sim.runFor(20);
    sim.crash(r2, false);
    sim.restart(r2);
    expect(sim.node(r2).hints.countFor(r3), 'hint restored from the log').to.equal(1);
    expect(sim.logLines.at(-1)).to.match(/replica-2 started.*1 hints restored/);
    sim.runFor(100);
    sim.restart(r3);
    sim.runUntil(() => sim.node(r3).store.read(key) !== undefined, 5_000);
    expect(sim.node(r3).store.read(key)?.value).to.equal('kept across a restart');
  });

  it('read repair heals a stale replica after one read through another coordinator', () => {
    const sim = cluster({ repairMode: 'read-repair' });
    sim.crash(r3);
    waitDown(sim, r1, r3);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'fresh', level: 'QUORUM' }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r1).hints.countFor(r3), 'no hints in read-repair mode').to.equal(0);
    sim.restart(r3);
    sim.runFor(300);
    expect(sim.node(r3).store.read(key), 'replica-3 is stale').to.equal(undefined);

    // One read at ONE, through replica-2, which holds no copy of the key.
    const got = ok(sim.request(r2, { t: 'get', id: nextId++, key, level: 'ONE' }), 'get.ok');
    expect(got.coordinator).to.equal('replica-2');
    sim.runFor(100);
    expect(sim.node(r3).store.read(key)?.value).to.equal('fresh');
    expect(sim.logLines.some((l) => /read repair of key 128: replica-3/.test(l))).to.equal(true);
  });

  it('QUORUM with two replicas of the key down is Unavailable and writes nothing; so is ALL with one down', () => {
    const sim = cluster();
    sim.crash(r3);
    sim.crash(r4);
    waitDown(sim, r2, r3);
    waitDown(sim, r2, r4);
    const refused = ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'nope', level: 'QUORUM' }), 'fail');
    expect(refused.error).to.equal('Unavailable');
    expect(refused.message).to.equal('Unavailable: QUORUM needs 2 of 3 replicas of key 128, 1 alive (replica-3, replica-4 down)');
    sim.runFor(100);
    expect(sim.node(r1).store.read(key)).to.equal(undefined);
    expect(sim.node(r2).hints.count, 'no hints either').to.equal(0);

    sim.restart(r4);
    sim.runUntil(() => sim.node(r2).status().peers[r4]!.up, 2_000);
    const all = ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'nope', level: 'ALL' }), 'fail');
    expect(all.error).to.equal('Unavailable');
    expect(all.message).to.contain('(replica-3 down)');
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'yes', level: 'QUORUM' }), 'put.ok');
  });

  it('acks lost past the deadline: Timeout with acks counted, and the write still converges', () => {
    const sim = cluster();
    for (const r of [r3, r4]) sim.cutOneWay(sim.addresses[r]!, sim.addresses[r1]!);
    const timedOut = ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'landed anyway', level: 'ALL' }), 'fail');
    expect(timedOut.error).to.equal('Timeout');
    expect([timedOut.acks, timedOut.required]).to.deep.equal([1, 3]);
    sim.heal();
    sim.runFor(2_000);
    for (const r of [r3, r4, r1]) expect(sim.node(r).store.read(key)?.value, sim.config.nodes[r]!.name).to.equal('landed anyway');
    expect(sim.node(r1).hints.count, 'hints for the silent replicas delivered and forgotten').to.equal(0);
  });

  it('a retransmitted put is applied once and answered the same way twice', () => {
    const sim = cluster({ seed: 7 });
    sim.faults = { lossRate: 0, duplicateRate: 1 }; // every datagram arrives twice
    const id = nextId++;
    const first = ok(sim.request(r1, { t: 'put', id, key, value: 'once', level: 'ALL' }), 'put.ok');
    const again = ok(sim.request(r1, { t: 'put', id, key, value: 'once', level: 'ALL' }), 'put.ok');
    expect(again.stamp).to.deep.equal(first.stamp);
    sim.runFor(50);
    for (const r of [r3, r4, r1]) {
      const writes = sim.durableRecords(r).filter((rec) => rec.t === 'w' && rec.key === key);
      expect(writes, sim.config.nodes[r]!.name).to.have.length(1);
    }
  });

  it('a torn last log record is dropped on replay and the node serves', () => {
    const sim = cluster({ fsyncMsMin: 30, fsyncMsMax: 30 });
    ok(sim.request(r3, { t: 'put', id: nextId++, key, value: 'durable', level: 'ALL' }), 'put.ok');
    // A write reaches replica-3 and is appended, but the crash comes before its fsync completes.
    sim.clientSend('127.0.0.4:4001', r3, { t: 'put', id: nextId++, key, value: 'torn', level: 'ONE' });
    sim.runFor(5);
    sim.crash(r3, true);
    sim.restart(r3);
    expect(sim.logLines.at(-1)).to.match(/replica-3 started .*dropped a torn tail of \d+ bytes/);
    expect(sim.node(r3).store.read(key)?.value).to.equal('durable');
    const got = ok(sim.request(r3, { t: 'local', id: nextId++, key }), 'local.ok');
    expect(got.value).to.equal('durable');
  });

  it('a hint older than max_hint_window_ms is dropped and counted, not delivered', () => {
    const sim = cluster({ configOverrides: { maxHintWindowMs: 1_000 } });
    sim.crash(r3);
    waitDown(sim, r2, r3);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'too late', level: 'ONE' }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(1);
    sim.runFor(2_000);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(0);
    expect(sim.node(r2).status().peers[r3]).to.include({ hintsPending: 0, hintsExpired: 1 });
    expect(sim.logLines.some((l) => /replica-2 hints-expired: dropped 1 hints for replica-3/.test(l))).to.equal(true);
    sim.restart(r3);
    sim.runFor(1_000);
    expect(sim.node(r3).store.read(key), 'an expired hint is never delivered').to.equal(undefined);
  });

  it(`past ${clientRequestsInFlightMax} client requests in flight a coordinator answers Overloaded, and serves again once they finish`, () => {
    const sim = cluster();
    // Replicas that never ack: every put waits for its deadline.
    for (const r of [r3, r4]) sim.cutOneWay(sim.addresses[r]!, sim.addresses[r1]!);
    const replies: ClientReply[] = [];
    sim.addClient('127.0.0.5:5000', (reply) => replies.push(reply));
    for (let id = 1; id <= clientRequestsInFlightMax + 1; id++) {
      sim.clientSend('127.0.0.5:5000', r1, { t: 'put', id, key, value: `v${id}`, level: 'ALL' });
    }
    sim.runFor(50);
    const overloaded = replies.filter((r) => r.t === 'fail' && r.error === 'Overloaded');
    expect(overloaded).to.have.length(1);
    expect((overloaded[0] as { message: string }).message).to.match(/^Overloaded: replica-1 holds 4096 client requests in flight/);
    sim.runFor(sim.config.writeTimeoutMs + 100);
    expect(replies.filter((r) => r.t === 'fail' && r.error === 'Timeout')).to.have.length(clientRequestsInFlightMax);
    sim.heal();
    sim.runUntil(() => sim.node(r1).status().peers.every((p) => p.up), 2_000);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'served again', level: 'QUORUM' }), 'put.ok');
  });

  it('junk, forged and misrouted messages are dropped and counted, and the node keeps serving', () => {
    const sim = cluster();
    const stranger = '127.0.0.9:9999';
    sim.inject(r1, stranger, 'not a message');
    sim.inject(r1, stranger, { t: 'put', id: 1, key: 999, value: 'x', level: 'ONE' });
    sim.inject(r1, stranger, { t: 'rw', from: r2, gen: 1, id: 1, key, value: 'forged', stamp: [9e12, 0, r2] });
    sim.inject(r1, sim.addresses[r2]!, { t: 'rw', from: r2, gen: 1, id: 2, key: 70, value: 'not mine', stamp: [sim.now, 0, r2] });
    const dropped = sim.node(r1).status().droppedDatagrams;
    expect(dropped).to.deep.equal({ invalid: 2, spoofed: 1, misrouted: 1 });
    expect(sim.node(r1).store.read(key)).to.equal(undefined);
    expect(sim.node(r1).store.read(70)).to.equal(undefined);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'still here', level: 'ALL' }), 'put.ok');
  });
});
