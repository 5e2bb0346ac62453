// The ring a replica holds: its acceptor state in the log, replayed at start, and nodes.toml's part.
import { expect } from 'chai';
import { encodeRecord, scanRecords, validateRecord, type LogRecord } from '../../src/core/log-record.js';
import { Node, RingPeersError } from '../../src/core/node.js';
import { seededRandom } from '../../src/core/prng.js';
import { RingHolder } from '../../src/core/ring-holder.js';
import { newAcceptor, type AcceptorState, type Ballot } from '../../src/core/ring/agreement.js';
import { firstRing, type MemberSpec, type RingChange, type RingState } from '../../src/core/ring/state.js';
import { advance, beginChange } from '../../src/core/ring/steps.js';
import { encodeAcceptor, encodeRing } from '../../src/core/ring/wire.js';
import { simConfig } from '../../tools/sim/cluster.js';

const specs = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i }));
const must = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => { if (!r.ok) throw new Error(r.error); return r.value; };
/** The stable ring after the whole change (five epochs). */
function changed(ring: RingState, change: RingChange): RingState {
  let r = must(beginChange(ring, change));
  while (r.change !== null) r = must(advance(r));
  return r;
}
const holderFor = (n: number) => new RingHolder({ nodes: specs(n), ring: firstRing(specs(n), 3) });
const mine: Ballot = [1, 'replica-1'];

describe('the ring a replica holds (ring-holder.ts)', () => {
  describe('acceptor state as log records', () => {
    const ring = firstRing(specs(4), 3);
    const next = must(beginChange(ring, { kind: 'join', member: { name: 'replica-5', host: '127.0.0.1', port: 7105 } }));
    const states: [string, AcceptorState][] = [
      ['the first ring alone', newAcceptor(ring)],
      ['a promise', { ring, promised: mine, accepted: null }],
      ['a vote for a join', { ring, promised: [2, 'replica-2'], accepted: { ballot: mine, ring: next } }],
      ['a ring in the middle of a change', newAcceptor(must(advance(next)))],
    ];
    for (const [what, state] of states) {
      it(`round-trips ${what}, alone and in a snapshot`, () => {
        const records: LogRecord[] = [{ t: 'ring', acceptor: encodeAcceptor(state) }, { t: 'snap', writes: [], hints: [], ring: encodeAcceptor(state) }];
        for (const rec of records) expect(scanRecords(encodeRecord(rec)).records).to.deep.equal([rec]);
      });
    }

    it('a snapshot without a ring stays as it was (the ring of nodes.toml)', () => {
      const rec: LogRecord = { t: 'snap', writes: [], hints: [] };
      expect(scanRecords(encodeRecord(rec)).records).to.deep.equal([rec]);
    });

    it('refuses a ring state that is not one, naming what is wrong', () => {
      const good = encodeAcceptor({ ring, promised: mine, accepted: { ballot: mine, ring: next } });
      const bad: [unknown, RegExp][] = [
        [{ ...good, accepted: { ballot: mine, ring: encodeRing(must(advance(next))) } }, /accepted ring: epoch 2 does not follow the held epoch 0/],
        [{ ...good, promised: null }, /a vote above the promise/],
        [{ ...good, promised: [1] }, /promised: expected \[round, proposer\]/],
        [{ ...good, promised: [-1, 'replica-1'] }, /promised round: expected an integer/],
        [{ ...good, ring: { ...encodeRing(ring), rf: 5 } }, /replication factor 5 needs at least 5 members/],
        [{ ...good, ring: { ...encodeRing(ring), members: encodeRing(ring).members.map((m, i) => (i === 0 ? [m[0], m[1], m[2], 'leaving'] : m)) } }, /replica-1 is leaving with no change in flight/],
        [undefined, /acceptor: acceptor: expected an object/],
      ];
      for (const [acceptor, why] of bad) expect(validateRecord({ t: 'ring', acceptor })).to.match(why);
      expect(validateRecord({ t: 'snap', writes: [], hints: [], ring: { ...good, promised: null } })).to.match(/^ring: acceptor: accepted: a vote above the promise/);
    });
  });

  describe('the acceptor', () => {
    it('hands back a record with every promise and vote, and the state it holds survives a restart through it', () => {
      const before = holderFor(4);
      const promise = before.receive({ t: 'prepare', epoch: 1, ballot: [5, 'replica-2'] });
      expect(promise.reply).to.deep.include({ t: 'promise', epoch: 1 });
      expect(promise.record, 'a promise is persisted before it is answered').to.not.equal(null);
      expect(before.receive({ t: 'prepare', epoch: 1, ballot: [5, 'replica-2'] }).record, 'the same promise again changes nothing').to.equal(null);
      // Restarted from its log: it remembers the promise, so a lower ballot is refused as before the crash.
      const after = holderFor(4);
      after.replay(promise.record!.acceptor);
      expect(after.receive({ t: 'prepare', epoch: 1, ballot: [4, 'replica-3'] }).reply).to.deep.include({ t: 'nack', promised: [5, 'replica-2'] });
      const fresh = holderFor(4);
      expect(fresh.receive({ t: 'prepare', epoch: 1, ballot: [4, 'replica-3'] }).reply, 'without the record it would promise again').to.deep.include({ t: 'promise' });
    });

    it('a decided ring is persisted and adopted; an older one changes nothing', () => {
      const holder = holderFor(4);
      const next = must(beginChange(holder.ring, { kind: 'leave', name: 'replica-4' }));
      const step = holder.receive({ t: 'decided', ring: next });
      expect(step.adopted).to.equal(next);
      expect(step.record).to.deep.equal({ t: 'ring', acceptor: encodeAcceptor(newAcceptor(next)) });
      expect(holder.snapshotPart()).to.deep.equal({ ring: encodeAcceptor(newAcceptor(next)) });
      expect(holder.receive({ t: 'decided', ring: firstRing(specs(4), 3) })).to.deep.equal({ reply: null, record: null, adopted: null });
      expect(holderFor(4).snapshotPart(), 'nothing of its own yet: snapshots stay as they were').to.deep.equal({});
    });
  });

  describe('nodes.toml against the ring held', () => {
    it('says nothing while they agree', () => {
      expect(holderFor(4).fileDisagreement()).to.equal(null);
    });

    it('names members missing from either side, moved addresses, a change in flight and another order', () => {
      const held = (ring: RingState, file: MemberSpec[]) => {
        const h = new RingHolder({ nodes: file, ring: firstRing(file, 3) });
        h.replay(encodeAcceptor(newAcceptor(ring)));
        return h.fileDisagreement();
      };
      const removed = changed(firstRing(specs(5), 3), { kind: 'remove', dead: 'replica-5' });
      expect(held(removed, specs(5))).to.equal('nodes.toml disagrees with the ring this replica holds (epoch 5: replica-1, replica-2, replica-3, replica-4): ' +
        'not in the ring: replica-5. Following the ring held; nodes.toml only gives the first ring');
      const joining = must(beginChange(firstRing(specs(4), 3), { kind: 'join', member: { name: 'replica-5', host: '10.0.0.5', port: 7105 } }));
      expect(held(joining, specs(4))).to.match(/epoch 1: replica-1, replica-2, replica-3, replica-4, replica-5, a change in flight\): not in nodes.toml: replica-5 \(joining\)\./);
      const moved = specs(4).map((m, i) => (i === 2 ? { ...m, port: 9999 } : m));
      expect(held(firstRing(specs(4), 3), moved)).to.match(/: replica-3 is at 127.0.0.1:7103 in the ring, 127.0.0.1:9999 in nodes.toml\./);
      expect(held(firstRing(specs(4), 3), [...specs(4)].reverse())).to.match(/: the members are in another order\./);
    });
  });

  describe('a replica replaying its ring', () => {
    const node = (n: number) => new Node({ config: simConfig(n, 3, 'hinted-handoff', true), self: 0, generation: 1, random: seededRandom(1), nowMs: 1_700_000_000_000 });
    const removed = changed(firstRing(simConfig(5, 3, 'hinted-handoff', true).nodes, 3), { kind: 'remove', dead: 'replica-5' });

    it('places keys by the ring held, not by nodes.toml, and says so at start', () => {
      const n = node(5);
      expect(n.ring.replicasFor(255), 'nodes.toml: slot 255 is replica-5\'s').to.deep.equal([4, 0, 1]);
      n.replay({ t: 'ring', acceptor: encodeAcceptor(newAcceptor(removed)) });
      expect(n.ring.epoch).to.equal(5);
      expect(n.ring.replicasFor(255), 'the ring held: replica-4, -1, -2').to.deep.equal([3, 0, 1]);
      expect(n.ring.holds(4, 255)).to.equal(false);
      const logs = n.step({ kind: 'start' }, 1_700_000_000_000).flatMap((e) => (e.kind === 'log' ? [e.event] : []));
      expect(logs.find((e) => e.name === 'ring-file')).to.deep.include({ level: 'warn' }).and.have.property('text').that.matches(/not in the ring: replica-5\. Following the ring held/);
    });

    it('a snapshot brings the ring back as a record does; the last state replayed wins', () => {
      const n = node(5);
      n.replay({ t: 'snap', writes: [], hints: [], ring: encodeAcceptor(newAcceptor(removed)) });
      expect(n.ring.epoch).to.equal(5);
      const first = firstRing(simConfig(5, 3, 'hinted-handoff', true).nodes, 3);
      n.replay({ t: 'ring', acceptor: encodeAcceptor({ ring: removed, promised: [3, 'replica-2'], accepted: null }) });
      expect(n.ring.replicasFor(255)).to.deep.equal([3, 0, 1]);
      const plain = node(5);
      plain.replay({ t: 'ring', acceptor: encodeAcceptor({ ring: first, promised: mine, accepted: null }) });
      const logs = plain.step({ kind: 'start' }, 1_700_000_000_000).flatMap((e) => (e.kind === 'log' ? [e.event.name] : []));
      expect(logs, 'a promise alone keeps the ring of nodes.toml: nothing to say').to.not.include('ring-file');
    });

    it('refuses to start on a ring with a member nodes.toml gives no address for, or another replication factor', () => {
      const joined = changed(firstRing(simConfig(4, 3, 'hinted-handoff', true).nodes, 3), { kind: 'join', member: { name: 'replica-5', host: '10.0.0.5', port: 7105 } });
      expect(() => node(4).replay({ t: 'ring', acceptor: encodeAcceptor(newAcceptor(joined)) })).to.throw(RingPeersError,
        /replica-1: refusing to start: the ring it holds \(epoch 5\) has replica-5 \(10\.0\.0\.5:7105\), which nodes.toml does not list/);
      const rf2 = new Node({ config: simConfig(5, 2, 'hinted-handoff', true), self: 0, generation: 1, random: seededRandom(1), nowMs: 1_700_000_000_000 });
      expect(() => rf2.replay({ t: 'ring', acceptor: encodeAcceptor(newAcceptor(removed)) })).to.throw(RingPeersError, /has replication factor 3, nodes.toml says 2/);
    });
  });
});
