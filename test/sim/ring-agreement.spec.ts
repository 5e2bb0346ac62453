// The ring's agreement on the wire, between simulated replicas: a proposer (the test, speaking from
// the address of a crashed fifth replica, as the commit driver will) decides epoch 1 with a majority
// of the five voters; every replica persists its promise and vote before answering, holds the ring
// across a restart, and places writes by it (old and new replicas both written while it moves). A
// replica cut off during the decision catches up from its peers' heartbeats; a second proposal for
// the same epoch learns it lost; a full disk holds the answer back instead of sending it unsaved.
import { expect } from 'chai';
import type { ClientReply, RingMessage } from '../../src/core/messages.js';
import { Proposal, type AgreementMessage, type Outcome } from '../../src/core/ring/agreement.js';
import type { RingChange, RingState } from '../../src/core/ring/state.js';
import { beginChange } from '../../src/core/ring/steps.js';
import { decodeAcceptor, decodeAgreement, encodeAgreement } from '../../src/core/ring/wire.js';
import { SimCluster } from '../../tools/sim/cluster.js';

const proposerIndex = 4; // replica-5: crashed, its address is the test's
let nextId = 1;

function cluster(seed: number): SimCluster {
  const sim = new SimCluster({ seed, nodes: 5, replicationFactor: 3 });
  sim.runFor(500);
  sim.crash(proposerIndex);
  return sim;
}

/** The test as a proposer at replica-5's address: every `ring` answer to that address goes to the proposal. */
function proposer(sim: SimCluster) {
  const names = sim.config.nodes.map((n) => n.name);
  const heard: { from: string; msg: AgreementMessage }[] = [];
  let proposal: Proposal | null = null;
  const post = (to: string, msg: AgreementMessage): void => {
    const i = names.indexOf(to);
    if (i === proposerIndex) return; // its own acceptor is down
    const m: RingMessage = { t: 'ring', from: proposerIndex, m: encodeAgreement(msg) };
    sim.send(sim.addresses[proposerIndex]!, sim.addresses[i]!, m);
  };
  sim.addClient(sim.addresses[proposerIndex]!, (reply: ClientReply) => {
    const m = reply as unknown as RingMessage;
    if (m.t !== 'ring') return;
    const decoded = decodeAgreement(m.m);
    if (!decoded.ok) throw new Error(decoded.error);
    heard.push({ from: names[m.from]!, msg: decoded.value });
    for (const s of proposal?.receive(names[m.from]!, decoded.value) ?? []) post(s.to, s.msg);
  });
  return {
    heard, post,
    /** Proposes `change` on `base` and retransmits until an outcome (or `limitMs`). */
    run(base: RingState, change: RingChange, round: number, limitMs = 5_000): Outcome | null {
      const value = beginChange(base, change);
      if (!value.ok) throw new Error(value.error);
      proposal = new Proposal(base, value.value, 'replica-5', round);
      for (let waited = 0; proposal.outcome === null && waited < limitMs; waited += 200) {
        for (const s of proposal.pending()) post(s.to, s.msg);
        sim.runFor(200);
      }
      sim.runFor(300); // the `decided` messages land
      return proposal.outcome;
    },
  };
}

const epochOf = (sim: SimCluster, i: number) => sim.node(i).ring.ring.epoch;
const ringRecords = (sim: SimCluster, i: number) => sim.durableRecords(i).filter((r) => r.t === 'ring');

describe('ring agreement between replicas', () => {
  it('a majority decides epoch 1; every replica logs its promise, vote and the ring before it follows it, and keeps it across a restart', () => {
    const sim = cluster(11);
    const base = sim.node(0).ring.ring;
    const outcome = proposer(sim).run(base, { kind: 'remove', dead: 'replica-5' }, 1);
    expect(outcome?.kind).to.equal('committed');
    for (const i of [0, 1, 2, 3]) {
      expect(epochOf(sim, i), `replica-${i + 1}'s epoch`).to.equal(1);
      const states = ringRecords(sim, i).map((r) => { const d = decodeAcceptor((r as { acceptor: unknown }).acceptor); if (!d.ok) throw new Error(d.error); return d.value; });
      expect(states.at(-1)!.ring.epoch, `replica-${i + 1}'s last ring record`).to.equal(1);
      expect(states.some((s) => s.promised !== null && s.ring.epoch === 0), 'a promise was logged').to.equal(true);
    }
    expect(sim.node(0).status().ring.length).to.be.greaterThan(0);

    sim.crash(0);
    sim.restart(0);
    sim.runFor(500);
    expect(epochOf(sim, 0), 'replica-1 after a restart').to.equal(1);
    expect(sim.node(0).ring.ring.change?.change).to.deep.equal({ kind: 'remove', dead: 'replica-5' });
  });

  it('while replica-5\'s slots move, a QUORUM put reaches the old replicas and the new one', () => {
    const sim = cluster(12);
    const base = sim.node(0).ring.ring;
    expect(proposer(sim).run(base, { kind: 'remove', dead: 'replica-5' }, 1)?.kind).to.equal('committed');
    const placement = sim.node(0).ring;
    const names = sim.config.nodes.map((n) => n.name);
    // A slot replica-5 held: its write set is the old replicas that live and the one taking its place.
    const key = [...Array(256).keys()].find((k) => placement.forKey(k).read.includes(proposerIndex))!;
    expect(key, 'a key of replica-5\'s').to.not.equal(undefined);
    const { to } = placement.forKey(key).write;
    const before = base.placement[placement.slotOf(key)]!.map((n) => names.indexOf(n));
    const gained = to.filter((n) => !before.includes(n));
    expect(gained.length, 'a new replica of the slot').to.equal(1);
    const put = sim.request(0, { t: 'put', id: nextId++, key, value: 'moving', level: 'QUORUM', sentAtMs: Math.floor(sim.now), deadlineMs: Math.floor(sim.now) + 3_000 });
    expect(put?.t, JSON.stringify(put)).to.equal('put.ok');
    sim.runFor(300);
    for (const n of to.filter((x) => x !== proposerIndex)) { // replica-5 is dead: a hint waits for it
      const local = sim.request(n, { t: 'local', id: nextId++, key });
      expect(local, `replica-${n + 1} holds the put`).to.include({ t: 'local.ok', value: 'moving' });
    }
  });

  it('a replica cut off during the decision catches up from its peers\' heartbeats; a second proposal for the same epoch is told it lost', () => {
    const sim = cluster(13);
    const base = sim.node(0).ring.ring;
    sim.isolate(3);
    const p = proposer(sim);
    expect(p.run(base, { kind: 'remove', dead: 'replica-5' }, 1)?.kind).to.equal('committed');
    expect(epochOf(sim, 3), 'replica-4, cut off').to.equal(0);
    sim.heal();
    sim.runUntil(() => epochOf(sim, 3) === 1, 3_000);
    expect(epochOf(sim, 3), 'replica-4 after the heal').to.equal(1);
    expect(ringRecords(sim, 3).length, 'replica-4 logged the ring it adopted').to.be.greaterThan(0);

    const second = p.run(base, { kind: 'leave', name: 'replica-4' }, 2);
    expect(second?.kind).to.be.oneOf(['lost', 'stale']);
    expect(epochOf(sim, 0)).to.equal(1);
    expect(sim.node(0).ring.ring.change?.change).to.deep.equal({ kind: 'remove', dead: 'replica-5' });
  });

  it('a replica whose disk refuses its promise sends none until the promise is on disk', () => {
    const sim = cluster(14);
    const p = proposer(sim);
    sim.fillDisk(0, 2_000);
    p.post('replica-1', { t: 'prepare', epoch: 1, ballot: [1, 'replica-5'] });
    sim.runFor(1_500);
    expect(p.heard.filter((h) => h.from === 'replica-1'), 'no promise while the disk is full').to.deep.equal([]);
    sim.runFor(2_000); // the disk takes the record again (retried), then a retransmission is answered
    p.post('replica-1', { t: 'prepare', epoch: 1, ballot: [1, 'replica-5'] });
    sim.runFor(500);
    expect(p.heard.filter((h) => h.from === 'replica-1').map((h) => h.msg.t)).to.deep.equal(['promise']);
    expect(ringRecords(sim, 0).length).to.be.greaterThan(0);
  });

  it('a replica refuses to vote for a ring with a member nodes.toml gives it no address for', () => {
    const sim = cluster(15);
    const base = sim.node(0).ring.ring;
    const outcome = proposer(sim).run(base, { kind: 'join', member: { name: 'replica-6', host: '127.0.0.1', port: 9106 } }, 1);
    expect(outcome?.kind).to.equal('refused');
    expect((outcome as { reason: string }).reason).to.contain('it has replica-6 (127.0.0.1:9106), which nodes.toml does not list');
    for (const i of [0, 1, 2, 3]) expect(epochOf(sim, i)).to.equal(0);
  });
});
