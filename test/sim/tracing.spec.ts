// Traces of the stories a newcomer wants to watch, on a simulated cluster of four replicas at RF 3
// (key 128 lives on replica-3, replica-4 and replica-1): each trace holds exactly the steps that
// happened, in order, and ends with the decision.
import { expect } from 'chai';
import type { ClientReply } from '../../src/core/messages.js';
import type { TraceEvent, TraceReport } from '../../src/core/trace.js';
import { SimCluster, type SimOptions } from '../../tools/sim/cluster.js';

const key = 128;
const [r1, r2, r3, r4] = [0, 1, 2, 3];
let nextId = 1;

function cluster(opts: Partial<SimOptions> = {}): SimCluster {
  const sim = new SimCluster({ seed: 42, nodes: 4, replicationFactor: 3, ...opts });
  sim.runFor(50);
  return sim;
}
function age(sim: SimCluster): { sentAtMs: number; deadlineMs: number } {
  const sentAtMs = Math.floor(sim.now);
  return { sentAtMs, deadlineMs: sentAtMs + 3_000 };
}
function waitDown(sim: SimCluster, observer: number, node: number): void {
  expect(sim.runUntil(() => !sim.node(observer).status().peers[node]!.up, 5_000)).to.equal(true);
}
function traceOf(reply: ClientReply | null): TraceReport {
  expect(reply, 'a reply').to.not.equal(null);
  const t = (reply as { trace?: TraceReport }).trace;
  expect(t, `a trace on ${JSON.stringify(reply)}`).to.not.equal(undefined);
  return t!;
}
/** One step as a short line: kind, source, the other party: what the assertions read. */
function step(e: TraceEvent): string {
  return [e.kind, `@${e.src}`, e.peer === undefined ? '' : `>${e.peer}`, e.why ?? ''].filter((x) => x !== '').join(' ');
}
/** A replica's steps for a write, then the coordinator's record of its ack. */
function writeSteps(replica: number, coordinator: number, ackKind = 'ack'): string[] {
  return [`received @${replica} >${coordinator} write`, `applied @${replica}`, `durable @${replica}`, `replied @${replica} >${coordinator}`, `${ackKind} @${coordinator} >${replica}`];
}
/** A replica's steps for a read, then the coordinator's record of its reply. */
function readSteps(replica: number, coordinator: number): string[] {
  return [`received @${replica} >${coordinator} read`, `read-local @${replica}`, `replied @${replica} >${coordinator}`, `read-reply @${coordinator} >${replica}`];
}
/** The coordinator's own steps are in the order of its clock. */
function ordered(events: TraceEvent[], coordinator: number): void {
  const own = events.filter((e) => e.src === coordinator);
  for (let i = 1; i < own.length; i++) expect(own[i]!.atUs, `${step(own[i]!)} after ${step(own[i - 1]!)}`).to.be.at.least(own[i - 1]!.atUs);
}

describe('tracing', () => {
  it('a QUORUM put with replica-3 down: the hint stored, the writes sent, each replica\'s log append and fsync, the acks, answered at ack 2', () => {
    const sim = cluster();
    sim.crash(r3);
    waitDown(sim, r1, r3);
    const t = traceOf(sim.request(r1, { t: 'put', id: nextId++, key, value: 'v', level: 'QUORUM', trace: true, ...age(sim) }));
    const steps = t.events.map(step);
    expect(steps.slice(0, 5)).to.deep.equal([`replicas @${r1}`, `stamped @${r1}`, `hint @${r1} >${r3} down`, `sent @${r1} >${r4} write`, `sent @${r1} >${r1} write`]);
    expect(t.events[0]!.nodes).to.deep.equal([r3, r4, r1]);
    expect(t.events[0]!.down).to.deep.equal([r3]);
    // Both replicas' steps arrive with their acks, in whichever order the acks came; nothing else.
    const middle = steps.slice(5, -1);
    const orders = [[...writeSteps(r4, r1), ...writeSteps(r1, r1)], [...writeSteps(r1, r1), ...writeSteps(r4, r1)]];
    expect(orders.map((o) => JSON.stringify(o))).to.include(JSON.stringify(middle));
    expect(steps.at(-1)).to.equal(`answered @${r1} write`);
    expect([t.events.at(-1)!.n, t.events.at(-1)!.m]).to.deep.equal([2, 2]);
    const acks = t.events.filter((e) => e.kind === 'ack');
    expect(acks.map((e) => e.m)).to.deep.equal([1, 2]);
    // An ack's latency is on the coordinator's clock: from its send to the ack's arrival.
    for (const ack of acks) {
      const sent = t.events.find((e) => e.kind === 'sent' && e.peer === ack.peer)!;
      expect(ack.n).to.equal(ack.atUs - sent.atUs).and.to.be.greaterThan(0);
    }
    ordered(t.events, r1);
    expect(t.durationUs).to.equal(t.events.at(-1)!.elapsedUs);
    // What the trace says happened, happened.
    expect(sim.node(r1).hints.countFor(r3)).to.equal(1);
    expect(sim.node(r4).store.read(key)?.value).to.equal('v');
  });

  it('a read at ALL that finds replica-3 stale: the replies, the stale replica, the repair sent and acked before the answer', () => {
    const sim = cluster({ repairMode: 'read-repair', configOverrides: { antiEntropyIntervalMs: 0 } });
    sim.crash(r3);
    waitDown(sim, r1, r3);
    const put = sim.request(r1, { t: 'put', id: nextId++, key, value: 'fresh', level: 'QUORUM', ...age(sim) });
    expect(put?.t).to.equal('put.ok');
    expect((put as { trace?: unknown }).trace, 'an untraced request carries no trace').to.equal(undefined);
    sim.restart(r3);
    expect(sim.runUntil(() => sim.node(r1).status().peers[r3]!.up, 5_000)).to.equal(true);
    expect(sim.node(r3).store.read(key)).to.equal(undefined);

    const reply = sim.request(r1, { t: 'get', id: nextId++, key, level: 'ALL', trace: true, ...age(sim) });
    expect(reply?.t).to.equal('get.ok');
    const t = traceOf(reply);
    const steps = t.events.map(step);
    expect(steps.slice(0, 4)).to.deep.equal([`replicas @${r1}`, `sent @${r1} >${r3} read`, `sent @${r1} >${r4} read`, `sent @${r1} >${r1} read`]);
    // Each reply: the replica's read and its reply, then the coordinator's record of it, in arrival order.
    const repliedFrom = [0, 1, 2].map((i) => t.events[4 + 4 * i]!.src);
    expect([...repliedFrom].sort()).to.deep.equal([r1, r3, r4].sort());
    repliedFrom.forEach((replica, i) => expect(steps.slice(4 + 4 * i, 8 + 4 * i)).to.deep.equal(readSteps(replica, r1)));
    expect(steps.slice(16)).to.deep.equal([`stale @${r1} >${r3}`, `sent @${r1} >${r3} read-repair`, ...writeSteps(r3, r1, 'repair-ack'), `answered @${r1} read`]);
    const stale = t.events.find((e) => e.kind === 'stale')!;
    expect(stale.old).to.equal(null);
    expect(stale.stamp).to.deep.equal((put as { stamp: unknown }).stamp);
    expect(steps.at(-1)).to.equal(`answered @${r1} read`);
    ordered(t.events, r1);
    expect(sim.node(r3).store.read(key)?.value, 'repaired before the answer').to.equal('fresh');
  });

  it('a put at ALL whose acks from replica-3 and replica-4 are lost: the retransmissions, the hints, Timeout with the one ack received', () => {
    const sim = cluster();
    for (const r of [r3, r4]) sim.cutOneWay(sim.addresses[r]!, sim.addresses[r1]!);
    const reply = sim.request(r1, { t: 'put', id: nextId++, key, value: 'lost acks', level: 'ALL', trace: true, ...age(sim) });
    expect(reply?.t).to.equal('fail');
    const t = traceOf(reply);
    const steps = t.events.map(step);
    expect(steps.slice(0, 5)).to.deep.equal([`replicas @${r1}`, `stamped @${r1}`, `sent @${r1} >${r3} write`, `sent @${r1} >${r4} write`, `sent @${r1} >${r1} write`]);
    // Only replica-1's own steps and ack come back; the others are sent again until the deadline.
    expect(steps.filter((s) => !s.startsWith('resent')).slice(5)).to.deep.equal([
      ...writeSteps(r1, r1), `hint @${r1} >${r3} no-ack`, `hint @${r1} >${r4} no-ack`, `timeout @${r1} write`,
    ]);
    const resent = t.events.filter((e) => e.kind === 'resent');
    expect(resent.length).to.be.greaterThan(1);
    expect(new Set(resent.map((e) => e.peer))).to.deep.equal(new Set([r3, r4]));
    const decision = t.events.at(-1)!;
    expect([decision.n, decision.m, decision.nodes]).to.deep.equal([1, 3, [r1]]);
    expect(decision.elapsedUs).to.be.at.least((sim.config.writeTimeoutMs - 1) * 1000);
    ordered(t.events, r1);
  });

  it('a QUORUM put with every replica up is answered at ack 2 and names the replica it did not wait for', () => {
    const sim = cluster();
    const t = traceOf(sim.request(r2, { t: 'put', id: nextId++, key, value: 'v', level: 'QUORUM', trace: true, ...age(sim) }));
    const acked = t.events.filter((e) => e.kind === 'ack').map((e) => e.peer);
    expect(acked).to.have.length(2);
    const [waiting, decision] = t.events.slice(-2);
    expect(waiting!.kind).to.equal('waiting');
    expect(waiting!.nodes).to.deep.equal([r3, r4, r1].filter((r) => !acked.includes(r)));
    expect(decision).to.include({ kind: 'answered', n: 2, m: 2 });
    expect(t.events.filter((e) => e.kind === 'sent').map((e) => e.peer), 'a coordinator that holds no copy sends to all three').to.deep.equal([r3, r4, r1]);
  });

  it('Unavailable is decided before anything is sent, and the trace says why', () => {
    const sim = cluster();
    sim.crash(r3);
    sim.crash(r4);
    waitDown(sim, r1, r3);
    waitDown(sim, r1, r4);
    const t = traceOf(sim.request(r1, { t: 'del', id: nextId++, key, level: 'QUORUM', trace: true, ...age(sim) }));
    expect(t.events.map(step)).to.deep.equal([`replicas @${r1}`, `unavailable @${r1}`]);
    expect(t.events[1]!.note).to.equal('Unavailable: QUORUM needs 2 of 3 replicas of key 128, 1 alive (replica-3, replica-4 down)');
  });

  it('trace_probability 1 traces every request unasked: kept on the coordinator, not sent to a client that did not ask', () => {
    const sim = cluster({ configOverrides: { traceProbability: 1 } });
    const reply = sim.request(r2, { t: 'put', id: nextId++, key, value: 'sampled', level: 'ONE', ...age(sim) });
    expect(reply?.t).to.equal('put.ok');
    expect((reply as { trace?: unknown }).trace).to.equal(undefined);
    const kept = sim.node(r2).tracing.recentSampled();
    expect(kept.length).to.equal(1);
    expect(kept[0]!.sampled).to.equal(true);
    expect(kept[0]!.events.at(-1)!.kind).to.equal('answered');
  });

  it('slow_request_ms logs a request that took longer, with its outcome', () => {
    const sim = cluster({ configOverrides: { slowRequestMs: 300 } });
    for (const r of [r3, r4]) sim.cutOneWay(sim.addresses[r]!, sim.addresses[r1]!);
    sim.request(r1, { t: 'put', id: nextId++, key, value: 'slow', level: 'ALL', ...age(sim) });
    expect(sim.logLines.filter((l) => l.includes('slow request'))).to.have.length(1);
    expect(sim.logLines.find((l) => l.includes('slow request'))).to.contain(`slow request: put key 128 at ALL took ${sim.config.writeTimeoutMs} ms (slow_request_ms 300): Timeout: 1 of 3 acks by the deadline (from replica-1)`);
    expect(sim.node(r1).tracing.recentSlow().map((s) => s.op)).to.deep.equal(['put']);
    sim.heal();
    sim.request(r1, { t: 'put', id: nextId++, key, value: 'fast', level: 'ALL', ...age(sim) });
    expect(sim.logLines.filter((l) => l.includes('slow request')), 'a fast one is not logged').to.have.length(1);
  });
});
