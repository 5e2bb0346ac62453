// Failures told as scripts: each test reads like the incident it reproduces, on a simulated cluster
// of four replicas at RF 3 (key 128 lives on replica-3, replica-4 and replica-1).
import { expect } from 'chai';
import { clientRequestsInFlightMax } from '../../src/core/limits.js';
import type { ClientReply } from '../../src/core/messages.js';
import { SimCluster, type SimOptions } from '../../tools/sim/cluster.js';

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

/** A client request's age as a client with the cluster's clock would send it: 3 s to live. */
function age(sim: SimCluster, lifeMs = 3_000): { sentAtMs: number; deadlineMs: number } {
  const sentAtMs = Math.floor(sim.now);
  return { sentAtMs, deadlineMs: sentAtMs + lifeMs };
}

describe('scenarios', () => {
  it('replica-3 down; a write at ONE leaves a hint; replica-3 back gets it with no client request', () => {
    const sim = cluster();
    sim.crash(r3);
    waitDown(sim, r2, r3);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'while you were out', level: 'ONE', ...age(sim) }), 'put.ok');
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
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'kept across a restart', level: 'QUORUM', ...age(sim) }), 'put.ok');
    sim.runFor(20);
    sim.crash(r2, false);
    sim.restart(r2);
    expect(sim.node(r2).hints.countFor(r3), 'hint restored from the log').to.equal(1);
    expect(sim.logLines.findLast((l) => l.includes('replica-2 started:'))).to.match(/replica-2 started.*1 hint restored/);
    sim.runFor(100);
    sim.restart(r3);
    sim.runUntil(() => sim.node(r3).store.read(key) !== undefined, 5_000);
    expect(sim.node(r3).store.read(key)?.value).to.equal('kept across a restart');
  });

  it('read repair heals a stale replica after one read through another coordinator', () => {
    // Anti-entropy off: only the read can heal replica-3 here.
    const sim = cluster({ repairMode: 'read-repair', configOverrides: { antiEntropyIntervalMs: 0 } });
    sim.crash(r3);
    waitDown(sim, r1, r3);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'fresh', level: 'QUORUM', ...age(sim) }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r1).hints.countFor(r3), 'no hints in read-repair mode').to.equal(0);
    sim.restart(r3);
    sim.runFor(300);
    expect(sim.node(r3).store.read(key), 'replica-3 is stale').to.equal(undefined);

    // One read at ONE, through replica-2, which holds no copy of the key.
    const got = ok(sim.request(r2, { t: 'get', id: nextId++, key, level: 'ONE', ...age(sim) }), 'get.ok');
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
    const refused = ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'nope', level: 'QUORUM', ...age(sim) }), 'fail');
    expect(refused.error).to.equal('Unavailable');
    expect(refused.message).to.equal('Unavailable: QUORUM needs 2 of 3 replicas of key 128, 1 alive (replica-3, replica-4 down)');
    sim.runFor(100);
    expect(sim.node(r1).store.read(key)).to.equal(undefined);
    expect(sim.node(r2).hints.count, 'no hints either').to.equal(0);

    sim.restart(r4);
    sim.runUntil(() => sim.node(r2).status().peers[r4]!.up, 2_000);
    const all = ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'nope', level: 'ALL', ...age(sim) }), 'fail');
    expect(all.error).to.equal('Unavailable');
    expect(all.message).to.contain('(replica-3 down)');
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'yes', level: 'QUORUM', ...age(sim) }), 'put.ok');
  });

  it('acks lost past the deadline: Timeout with acks counted, and the write still converges', () => {
    const sim = cluster();
    for (const r of [r3, r4]) sim.cutOneWay(sim.addresses[r]!, sim.addresses[r1]!);
    const timedOut = ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'landed anyway', level: 'ALL', ...age(sim) }), 'fail');
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
    const sent = age(sim);
    const first = ok(sim.request(r1, { t: 'put', id, key, value: 'once', level: 'ALL', ...sent }), 'put.ok');
    const again = ok(sim.request(r1, { t: 'put', id, key, value: 'once', level: 'ALL', ...sent }), 'put.ok');
    expect(again.stamp).to.deep.equal(first.stamp);
    sim.runFor(50);
    for (const r of [r3, r4, r1]) {
      const writes = sim.durableRecords(r).filter((rec) => rec.t === 'w' && rec.key === key);
      expect(writes, sim.config.nodes[r]!.name).to.have.length(1);
    }
  });

  it('a torn last log record is dropped on replay and the node serves', () => {
    const sim = cluster({ fsyncMsMin: 30, fsyncMsMax: 30 });
    ok(sim.request(r3, { t: 'put', id: nextId++, key, value: 'durable', level: 'ALL', ...age(sim) }), 'put.ok');
    // A write reaches replica-3 and is appended, but the crash comes before its fsync completes.
    sim.clientSend('127.0.0.4:4001', r3, { t: 'put', id: nextId++, key, value: 'torn', level: 'ONE', ...age(sim) });
    sim.runFor(5);
    sim.crash(r3, true);
    sim.restart(r3);
    expect(sim.logLines.findLast((l) => l.includes('replica-3 started:'))).to.match(/replica-3 started .*dropped a torn tail of \d+ bytes/);
    expect(sim.node(r3).store.read(key)?.value).to.equal('durable');
    const got = ok(sim.request(r3, { t: 'local', id: nextId++, key }), 'local.ok');
    expect(got.value).to.equal('durable');
  });

  it('a hint older than max_hint_window_ms is dropped and counted, not delivered', () => {
    // Anti-entropy off, to see that the hint itself is never delivered (the next scenarios heal this case).
    const sim = cluster({ configOverrides: { maxHintWindowMs: 1_000, antiEntropyIntervalMs: 0 } });
    sim.crash(r3);
    waitDown(sim, r2, r3);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'too late', level: 'ONE', ...age(sim) }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(1);
    sim.runFor(2_000);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(0);
    expect(sim.node(r2).status().peers[r3]).to.include({ hintsPending: 0, hintsExpired: 1 });
    expect(sim.logLines.some((l) => /replica-2 hints-expired: dropped 1 hint for replica-3/.test(l))).to.equal(true);
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
      sim.clientSend('127.0.0.5:5000', r1, { t: 'put', id, key, value: `v${id}`, level: 'ALL', ...age(sim) });
    }
    sim.runFor(50);
    const overloaded = replies.filter((r) => r.t === 'fail' && r.error === 'Overloaded');
    expect(overloaded).to.have.length(1);
    expect((overloaded[0] as { message: string }).message).to.match(/^Overloaded: replica-1 holds 4096 client requests in flight/);
    sim.runFor(sim.config.writeTimeoutMs + 100);
    expect(replies.filter((r) => r.t === 'fail' && r.error === 'Timeout')).to.have.length(clientRequestsInFlightMax);
    sim.heal();
    sim.runUntil(() => sim.node(r1).status().peers.every((p) => p.up), 2_000);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'served again', level: 'QUORUM', ...age(sim) }), 'put.ok');
  });

  it('junk, forged and misrouted messages are dropped and counted, and the node keeps serving', () => {
    const sim = cluster();
    const stranger = '127.0.0.9:9999';
    sim.inject(r1, stranger, 'not a message');
    sim.inject(r1, stranger, { t: 'put', id: 1, key: 999, value: 'x', level: 'ONE', ...age(sim) });
    sim.inject(r1, stranger, { t: 'rw', from: r2, gen: 1, id: 1, key, value: 'forged', stamp: [9e12, 0, r2] });
    sim.inject(r1, sim.addresses[r2]!, { t: 'rw', from: r2, gen: 1, id: 2, key: 70, value: 'not mine', stamp: [sim.now, 0, r2] });
    const dropped = sim.node(r1).status().droppedDatagrams;
    expect(dropped).to.deep.equal({ invalid: 2, spoofed: 1, misrouted: 1 });
    expect(sim.node(r1).store.read(key)).to.equal(undefined);
    expect(sim.node(r1).store.read(70)).to.equal(undefined);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'still here', level: 'ALL', ...age(sim) }), 'put.ok');
  });

  // ---- anti-entropy and deletes ------------------------------------------------------------------

  /** Every replica of the key holds this version (value, or null for a tombstone)? */
  function holds(sim: SimCluster, value: string | null, replicas = [r3, r4, r1]): boolean {
    return replicas.every((r) => { const v = sim.node(r).store.read(key); return v !== undefined && v.value === value; });
  }
  const twoRoundsMs = (sim: SimCluster) => 2 * sim.config.antiEntropyIntervalMs + 100;

  it('hinted handoff: the hint holder dies for good before replica-3 returns; anti-entropy converges it with no reads', () => {
    const sim = cluster();
    sim.crash(r3);
    waitDown(sim, r2, r3);
    // replica-2 coordinates but holds no copy of key 128: the only record of replica-3's miss is its hint.
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'hint lost with its holder', level: 'QUORUM', ...age(sim) }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(1);
    sim.crash(r2);
    sim.restart(r3);
    const healed = sim.runUntil(() => holds(sim, 'hint lost with its holder'), twoRoundsMs(sim));
    expect(healed, 'within two anti-entropy intervals').to.equal(true);
    sim.runFor(50); // the sender logs the round once replica-3's ack is back
    expect(sim.logLines.some((l) => /replica-3 anti-entropy: anti-entropy with replica-(4|1) \(keys .*\): sent 0, received 1 \(keys 128\)|replica-(4|1) anti-entropy: anti-entropy with replica-3 .*: sent 1 \(keys 128\)/.test(l))).to.equal(true);
  });

  it('replicas that agree exchange one small digest each way and log nothing; status counts the rounds', () => {
    const sim = cluster();
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'everywhere', level: 'ALL', ...age(sim) }), 'put.ok');
    const before = sim.logLines.length;
    sim.runFor(twoRoundsMs(sim) + 200);
    expect(sim.logLines.slice(before).filter((l) => l.includes('anti-entropy'))).to.deep.equal([]);
    const peers = sim.node(r1).status().peers;
    for (const p of [peers[r2]!, peers[r3]!, peers[r4]!]) {
      expect(p.antiEntropy.rounds, p.name).to.be.at.least(1);
      expect(p.antiEntropy.lastRoundMs).to.be.a('number');
      expect([p.antiEntropy.keysSent, p.antiEntropy.keysReceived]).to.deep.equal([0, 0]);
    }
    expect(peers[r1]!.antiEntropy.rounds, 'never with itself').to.equal(0);
  });

  for (const path of ['hinted handoff', 'anti-entropy', 'read repair'] as const) {
    it(`a delete missed by a down replica wins once it returns, through ${path}`, () => {
      const sim = cluster({
        repairMode: path === 'hinted handoff' ? 'hinted-handoff' : 'read-repair',
        configOverrides: { antiEntropyIntervalMs: path === 'anti-entropy' ? 1_000 : 0 },
      });
      ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'doomed', level: 'ALL', ...age(sim) }), 'put.ok');
      sim.crash(r3);
      waitDown(sim, r1, r3);
      const del = ok(sim.request(r1, { t: 'del', id: nextId++, key, level: 'QUORUM', ...age(sim) }), 'del.ok');
      expect(del.coordinator).to.equal('replica-1');
      sim.restart(r3);
      sim.runFor(50);
      if (path === 'read repair') {
        const got = ok(sim.request(r2, { t: 'get', id: nextId++, key, level: 'ALL', ...age(sim) }), 'get.ok');
        expect([got.value, got.stamp]).to.deep.equal([null, del.stamp]);
      }
      const healed = sim.runUntil(() => holds(sim, null), path === 'anti-entropy' ? twoRoundsMs(sim) : 500);
      expect(healed, `replica-3 holds the tombstone (${JSON.stringify(sim.node(r3).store.read(key))})`).to.equal(true);
      expect(sim.node(r3).store.read(key)!.stamp).to.deep.equal(del.stamp);
      for (const r of [r1, r2, r3, r4]) {
        const got = ok(sim.request(r, { t: 'get', id: nextId++, key, level: 'ONE', ...age(sim) }), 'get.ok');
        expect(got.value, `get at ONE through ${sim.config.nodes[r]!.name}`).to.equal(null);
      }
      const local = ok(sim.request(r3, { t: 'local', id: nextId++, key }), 'local.ok');
      expect([local.value, local.stamp]).to.deep.equal([null, del.stamp]);
    });
  }

  it('an older hint, read repair or anti-entropy push never brings a deleted key back', () => {
    const sim = cluster();
    // replica-3 down: replica-2 coordinates an old put and keeps a hint of it for replica-3.
    sim.crash(r3);
    waitDown(sim, r2, r3);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'old', level: 'QUORUM', ...age(sim) }), 'put.ok');
    sim.runFor(20);
    expect(sim.node(r2).hints.countFor(r3)).to.equal(1);
    // replica-2 cannot reach replica-3 when it returns, and replica-4 misses the delete.
    sim.partition([sim.addresses[r2]!], [sim.addresses[r3]!]);
    sim.restart(r3);
    sim.isolate(r4);
    sim.runUntil(() => sim.node(r1).status().peers[r3]!.up && !sim.node(r1).status().peers[r4]!.up, 2_000);
    const del = ok(sim.request(r1, { t: 'del', id: nextId++, key, level: 'QUORUM', ...age(sim) }), 'del.ok');
    sim.runFor(20);
    expect(sim.node(r4).store.read(key)?.value, 'replica-4 still holds the old value').to.equal('old');
    // Everything heals at once: the old hint reaches replica-3, replica-4's old value meets the tombstones.
    sim.heal();
    sim.runFor(twoRoundsMs(sim));
    expect(holds(sim, null), JSON.stringify([r3, r4, r1].map((r) => sim.node(r).store.read(key)))).to.equal(true);
    for (const r of [r3, r4, r1]) expect(sim.node(r).store.read(key)!.stamp).to.deep.equal(del.stamp);
    expect(sim.node(r2).hints.countFor(r3), 'the old hint was delivered, and lost to the tombstone').to.equal(0);
    const got = ok(sim.request(r4, { t: 'get', id: nextId++, key, level: 'ALL', ...age(sim) }), 'get.ok');
    expect(got.value).to.equal(null);
  });

  it('a delete at ALL with a replica down is Unavailable and writes no tombstone', () => {
    const sim = cluster();
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'stays', level: 'ALL', ...age(sim) }), 'put.ok');
    sim.crash(r4);
    waitDown(sim, r1, r4);
    const refused = ok(sim.request(r1, { t: 'del', id: nextId++, key, level: 'ALL', ...age(sim) }), 'fail');
    expect(refused.message).to.equal('Unavailable: ALL needs 3 of 3 replicas of key 128, 2 alive (replica-4 down)');
    sim.runFor(100);
    expect(holds(sim, 'stays', [r3, r1])).to.equal(true);
  });

  it('a tombstone survives a crash: replay brings it back, and the key stays deleted', () => {
    const sim = cluster();
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'before', level: 'ALL', ...age(sim) }), 'put.ok');
    const del = ok(sim.request(r1, { t: 'del', id: nextId++, key, level: 'ALL', ...age(sim) }), 'del.ok');
    for (const r of [r3, r4, r1]) { sim.crash(r, false); sim.restart(r); }
    expect(sim.logLines.some((l) => /replica-3 started .*0 keys, 1 tombstone, /.test(l))).to.equal(true);
    expect(holds(sim, null)).to.equal(true);
    const got = ok(sim.request(r3, { t: 'get', id: nextId++, key, level: 'ALL', ...age(sim) }), 'get.ok');
    expect([got.value, got.stamp]).to.deep.equal([null, del.stamp]);
  });

  it('kvc repair on a stale replica heals it before it answers, and names a peer it cannot reach', () => {
    // No hints, no periodic rounds: only the repair can heal replica-3.
    const sim = cluster({ repairMode: 'read-repair', configOverrides: { antiEntropyIntervalMs: 0 } });
    sim.crash(r3);
    waitDown(sim, r1, r3);
    ok(sim.request(r1, { t: 'put', id: nextId++, key, value: 'missed', level: 'QUORUM', ...age(sim) }), 'put.ok');
    ok(sim.request(r1, { t: 'put', id: nextId++, key: 0, value: 'missed too', level: 'QUORUM', ...age(sim) }), 'put.ok'); // on replica-1, 2, 3
    sim.restart(r3);
    sim.crash(r2);
    waitDown(sim, r3, r2);
    const reply = ok(sim.request(r3, { t: 'repair', id: nextId++ }), 'repair.ok');
    expect(sim.node(r3).store.read(key)?.value, 'healed when the answer leaves').to.equal('missed');
    expect(sim.node(r3).store.read(0)?.value).to.equal('missed too');
    expect(reply.node).to.equal('replica-3');
    const byName = Object.fromEntries(reply.peers.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).to.deep.equal(['replica-1', 'replica-2', 'replica-4']);
    expect(byName['replica-2']).to.deep.include({ reached: false, sent: 0, received: 0 });
    expect(byName['replica-2']!.error).to.match(/^DOWN/);
    expect(byName['replica-1']).to.deep.include({ reached: true, sent: 0, error: null });
    expect(byName['replica-4']).to.deep.include({ reached: true, sent: 0, error: null });
    // Key 128 came from replica-4 or replica-1 (both hold it), key 0 from replica-1: two keys in all.
    expect(byName['replica-1']!.received + byName['replica-4']!.received).to.equal(2);
    const status = sim.node(r3).status().peers;
    expect(status[r1]!.antiEntropy.keysReceived + status[r4]!.antiEntropy.keysReceived).to.equal(2);
  });

  it('a coordinator killed with a put in flight never stamps it again: the retransmission to its next process is answered Timeout', () => {
    const sim = cluster();
    // replica-2 coordinates key 128 without holding it; the replicas' acks never reach it.
    for (const r of [r3, r4, r1]) sim.cutOneWay(sim.addresses[r]!, sim.addresses[r2]!);
    const client = '127.0.0.4:4100';
    const replies: ClientReply[] = [];
    sim.addClient(client, (reply) => replies.push(reply));
    const put = { t: 'put' as const, id: nextId++, key, value: 'stamped once', level: 'QUORUM' as const, ...age(sim, 5_000) };
    sim.clientSend(client, r2, put);
    sim.runFor(50);
    const first = sim.node(r3).store.read(key);
    expect(first?.value, 'the replicas hold the write').to.equal('stamped once');
    expect(replies, 'no answer yet').to.deep.equal([]);
    sim.crash(r2);
    sim.heal();
    sim.restart(r2);
    sim.runFor(50);
    sim.clientSend(client, r2, put); // the client's retransmission, same id, within its deadline
    sim.runFor(50);
    expect(replies).to.have.length(1);
    expect(replies[0]).to.deep.include({ t: 'fail', error: 'Timeout' });
    expect((replies[0] as { message: string }).message).to.match(/^Timeout: replica-2 restarted .* may or may not have been applied/);
    sim.runFor(500);
    for (const r of [r3, r4, r1]) expect(sim.node(r).store.read(key)!.stamp, sim.config.nodes[r]!.name).to.deep.equal(first!.stamp);
    expect(sim.node(r2).status().droppedDatagrams['before-restart']).to.equal(1);
    // A write sent once the restart is behind the clock bound is served as usual.
    sim.runFor(sim.config.maxClockSkewMs);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'after the restart', level: 'QUORUM', ...age(sim) }), 'put.ok');
  });
});
