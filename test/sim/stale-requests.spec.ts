// Requests that know their age, told as scripts on a simulated cluster of four replicas at RF 3
// (key 128 lives on replica-3, replica-4 and replica-1): a put that waited past its client's
// deadline, and a captured datagram replayed later, must never overwrite what was acknowledged since.
import { expect } from 'chai';
import { clientDeadlineMsMax } from '../../src/core/limits.js';
import type { ClientReply, PutRequest } from '../../src/core/messages.js';
import { SimCluster } from '../../tools/sim/cluster.js';

const key = 128;
const [r1, r2, r3, r4] = [0, 1, 2, 3];
const clientA = '127.0.0.7:7001';
const clientB = '127.0.0.7:7002';

function cluster(): SimCluster {
  const sim = new SimCluster({ seed: 12, nodes: 4, replicationFactor: 3 });
  sim.runFor(50);
  return sim;
}

function put(sim: SimCluster, id: number, value: string, lifeMs = 2_000): PutRequest {
  const sentAtMs = Math.floor(sim.now);
  return { t: 'put', id, key, value, level: 'QUORUM', sentAtMs, deadlineMs: sentAtMs + lifeMs };
}

function quorumRead(sim: SimCluster, coordinator: number, id: number): ClientReply | null {
  const sentAtMs = Math.floor(sim.now);
  return sim.request(coordinator, { t: 'get', id, key, level: 'QUORUM', sentAtMs, deadlineMs: sentAtMs + 2_000 });
}

/** Every reply a client address receives, in order. */
function listen(sim: SimCluster, address: string): ClientReply[] {
  const replies: ClientReply[] = [];
  sim.addClient(address, (r) => replies.push(r));
  return replies;
}

function storedValues(sim: SimCluster): (string | null | undefined)[] {
  return [r3, r4, r1].map((r) => sim.node(r).store.read(key)?.value);
}

describe('scenarios: requests that know their age', () => {
  it('a put that reaches its coordinator after its deadline is refused as expired and never stamped: a later acked write stays', () => {
    const sim = cluster();
    const heard = listen(sim, clientA);
    // Client A's put leaves at once but reaches replica-1 only 3 s later, as if replica-1 had been
    // paused (SIGSTOP) with the datagram in its socket buffer; A gave up at its 2 s deadline.
    const late = put(sim, 1, 'given up');
    sim.at(3_000, () => sim.clientSend(clientA, r1, late));
    sim.runFor(1_000);
    const acked = sim.request(r2, put(sim, 2, 'acked meanwhile'), 3_000, clientB);
    expect(acked?.t).to.equal('put.ok');
    sim.runFor(2_500);
    // Answered ClockSkew (a client that stopped listening ignores it), never put.ok.
    expect(heard.map((r) => r.t === 'fail' ? [r.error, r.dated] : r.t)).to.deep.equal([['ClockSkew', 'expired']]);
    expect(sim.node(r1).status().droppedDatagrams).to.deep.include({ expired: 1 });
    expect(sim.logLines.some((l) => /replica-1 dropped: .*expired 1/.test(l)), 'the drop summary names it').to.equal(true);
    expect(storedValues(sim)).to.deep.equal(['acked meanwhile', 'acked meanwhile', 'acked meanwhile']);
    const got = quorumRead(sim, r3, 3);
    expect(got).to.deep.include({ t: 'get.ok', value: 'acked meanwhile' });
  });

  it('a replayed datagram is answered from the cache within its deadline, refused after it, and never stamped again', () => {
    const sim = cluster();
    const heard = listen(sim, clientA);
    const captured = put(sim, 10, 'first');
    sim.clientSend(clientA, r1, captured);
    sim.runFor(100);
    expect(heard).to.have.length(1);
    const first = heard[0]!;
    expect(first.t).to.equal('put.ok');
    expect(sim.request(r2, put(sim, 11, 'newer'), 3_000, clientB)?.t).to.equal('put.ok');

    // Within the deadline: the same answer again (same stamp), nothing written.
    const recordsBefore = [r3, r4, r1].map((r) => sim.durableRecords(r).length);
    sim.clientSend(clientA, r1, captured);
    sim.runFor(100);
    expect(heard).to.have.length(2);
    expect(heard[1]).to.deep.equal(first);
    // The same datagram from another (forged) source address: refused unanswered.
    const forged = listen(sim, '127.0.0.66:6666');
    sim.clientSend('127.0.0.66:6666', r1, captured);
    sim.runFor(100);
    expect(forged).to.deep.equal([]);
    expect(sim.node(r1).status().droppedDatagrams).to.deep.include({ replayed: 1 });
    expect([r3, r4, r1].map((r) => sim.durableRecords(r).length)).to.deep.equal(recordsBefore);

    // After the deadline: refused as expired (ClockSkew, at most once a second), still nothing written.
    sim.runFor(2_000);
    sim.clientSend(clientA, r1, captured);
    sim.clientSend(clientA, r1, captured);
    sim.runFor(100);
    expect(heard.slice(2).map((r) => r.t === 'fail' ? [r.error, r.dated] : r.t)).to.deep.equal([['ClockSkew', 'expired']]);
    expect(sim.node(r1).status().droppedDatagrams).to.deep.include({ expired: 1, 'expired-limited': 1 });
    expect([r3, r4, r1].map((r) => sim.durableRecords(r).length)).to.deep.equal(recordsBefore);
    expect(storedValues(sim)).to.deep.equal(['newer', 'newer', 'newer']);
    expect(quorumRead(sim, r4, 12)).to.deep.include({ t: 'get.ok', value: 'newer' });
  });

  it('a request from further ahead than max_clock_skew_ms is refused as ClockSkew, one asking to live past the answers window as InvalidRequest', () => {
    const sim = cluster();
    const skewMs = sim.config.maxClockSkewMs;
    const ahead = put(sim, 20, 'from the future');
    const fromTheFuture = { ...ahead, sentAtMs: ahead.sentAtMs + skewMs + 50, deadlineMs: ahead.deadlineMs + skewMs + 50 };
    const refused = sim.request(r1, fromTheFuture, 1_000, clientA);
    expect(refused).to.deep.include({ t: 'fail', error: 'ClockSkew', dated: 'future' });
    expect((refused as { message: string }).message).to.match(/^ClockSkew: replica-1 refused this put as future-dated by its clock \(\d+\): sent at \d+, 5[0-4]\d ms ahead of replica-1's clock \(max_clock_skew_ms 500\)/);
    // A few ms of network delay count in the sender's favour.
    const withinSkew = { ...ahead, id: 21, sentAtMs: ahead.sentAtMs + skewMs - 10, deadlineMs: ahead.deadlineMs + skewMs - 10 };
    expect(sim.request(r1, withinSkew, 1_000, clientA)?.t).to.equal('put.ok');

    const tooLong = sim.request(r1, put(sim, 22, 'forever', clientDeadlineMsMax + 1), 1_000, clientA);
    expect(tooLong).to.deep.include({ t: 'fail', error: 'InvalidRequest' });
    expect((tooLong as { message: string }).message).to.equal(`InvalidRequest: deadline ${clientDeadlineMsMax + 1} ms after the request was sent, outside 0..${clientDeadlineMsMax} ms`);
    expect(sim.node(r1).status().droppedDatagrams).to.deep.include({ 'clock-skew': 1, 'bad-deadline': 1 });
    expect(storedValues(sim)).to.deep.equal(['from the future', 'from the future', 'from the future']);
  });

  for (const [offsetMs, dated, reason] of [[3_600_000, 'expired', 'expired'], [-3_600_000, 'future', 'clock-skew']] as const) {
    it(`a coordinator whose clock is an hour ${offsetMs > 0 ? 'ahead' : 'behind'} answers ClockSkew (${dated}) with its clock, not silence, at most once a second per address and 16 a second in all`, () => {
      const sim = cluster();
      // A node's clock never steps back in its own view (node.step keeps the furthest), so "behind"
      // is told as clients whose clocks are an hour ahead of it: the same disagreement.
      if (offsetMs > 0) sim.setClock(r1, offsetMs);
      const clientShiftMs = offsetMs > 0 ? 0 : -offsetMs;
      const put = (s: SimCluster, id: number, value: string) => {
        const sentAtMs = Math.floor(s.now) + clientShiftMs;
        return { t: 'put' as const, id, key, value, level: 'QUORUM' as const, sentAtMs, deadlineMs: sentAtMs + 2_000 };
      };
      sim.runFor(10);
      const answer = sim.request(r1, put(sim, 30, 'skewed'), 1_000, clientA);
      expect(answer).to.deep.include({ t: 'fail', error: 'ClockSkew', dated });
      const { clockMs, message } = answer as { clockMs: number; message: string };
      expect(clockMs - (sim.now + clientShiftMs), "the coordinator's clock minus the client's").to.be.within(offsetMs - 100, offsetMs + 100);
      expect(message).to.match(new RegExp(`^ClockSkew: replica-1 refused this put as ${dated === 'expired' ? 'expired' : 'future-dated'} by its clock \\(${clockMs}\\)`));

      // A burst of 100 such datagrams from one address within a second: one answer.
      sim.runFor(1_000);
      const heard = listen(sim, clientB);
      for (let id = 100; id < 200; id++) sim.clientSend(clientB, r1, put(sim, id, 'burst'));
      sim.runFor(200);
      expect(heard.map((r) => r.t === 'fail' ? r.error : r.t)).to.deep.equal(['ClockSkew']);
      // And from 100 addresses: the total budget, 16.
      sim.runFor(1_000);
      const many = Array.from({ length: 100 }, (_, i) => `127.0.1.${i}:9000`);
      let answered = 0;
      for (const a of many) sim.addClient(a, () => answered++);
      many.forEach((a, i) => sim.clientSend(a, r1, put(sim, 300 + i, 'many')));
      sim.runFor(200);
      expect(answered).to.equal(16);
      const dropped = sim.node(r1).status().droppedDatagrams;
      expect(dropped[reason], 'answered').to.equal(1 + 1 + 16);
      expect(dropped[`${reason}-limited`], 'counted, unanswered').to.equal(99 + 84);
      expect(sim.node(r1).status().clientReplies?.['fail:ClockSkew']).to.equal(dropped[reason]);
      // Nothing refused was written.
      expect(storedValues(sim)).to.deep.equal([undefined, undefined, undefined]);
    });
  }
});
