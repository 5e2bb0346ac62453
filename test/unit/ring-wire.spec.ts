import { expect } from 'chai';
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { datagramBytesMax, envelopeBytesMax, nodeNameBytesMax, nodesMax } from '../../src/core/limits.js';
import { sameRing } from '../../src/core/ring/agreement.js';
import { firstRing, type MemberSpec, type RingChange, type RingState } from '../../src/core/ring/state.js';
import { abort, advance, beginChange } from '../../src/core/ring/steps.js';
import { decodeAgreement, decodeRing, encodeAgreement, encodeRing, type RingWire } from '../../src/core/ring/wire.js';
import { validate } from '../../src/core/messages.js';
import type { AgreementMessage } from '../../src/core/ring/agreement.js';

const specs = (n: number, nameOf = (i: number) => `replica-${i + 1}`): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: nameOf(i), host: '127.0.0.1', port: 7101 + i }));
const newcomer: MemberSpec = { name: 'replica-new', host: '127.0.0.1', port: 7200 };
const cbor = new Encoder({ mapsAsObjects: true, useRecords: false });

function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) expect.fail(r.error);
  return r.value;
}

/** Every epoch of a change and of an abort from each step that allows one. */
function epochsOf(ring: RingState, change: RingChange): RingState[] {
  const out = [ring];
  let r = must(beginChange(ring, change));
  out.push(r);
  while (r.change !== null) {
    const back = abort(r);
    if (back.ok) out.push(back.value, ...(back.value.change === null ? [] : [must(abort(back.value))]));
    r = must(advance(r));
    out.push(r);
  }
  return out;
}

describe('ring wire form (src/core/ring/wire.ts)', () => {
  it('every ring of every step of a change, and of its aborts, comes back the same through CBOR', () => {
    const arb = fc.integer({ min: 1, max: 10 }).chain((n) => fc.record({
      n: fc.constant(n), rf: fc.integer({ min: 1, max: Math.min(n, 5) }),
      kind: fc.constantFrom<RingChange['kind']>('join', 'leave', 'replace', 'remove'), who: fc.integer({ min: 0, max: n - 1 }),
    })).filter(({ n, rf, kind }) => kind === 'join' || kind === 'replace' || n - 1 >= rf);
    fc.assert(fc.property(arb, ({ n, rf, kind, who }) => {
      const name = `replica-${who + 1}`;
      const change: RingChange = kind === 'join' ? { kind, member: newcomer } : kind === 'leave' ? { kind, name } : kind === 'remove' ? { kind, dead: name } : { kind, dead: name, member: newcomer };
      for (const ring of epochsOf(firstRing(specs(n), rf), change)) {
        const back = must(decodeRing(cbor.decode(cbor.encode(encodeRing(ring)))));
        expect(sameRing(back, ring), `epoch ${ring.epoch} ${ring.change?.step ?? 'stable'}`).to.equal(true);
      }
    }), { numRuns: 60 });
  });

  it('the largest ring (64 members with the longest names, a join in flight) fits one datagram with room for the envelope', () => {
    const long = (i: number) => `${'n'.repeat(nodeNameBytesMax - 2)}${String(i).padStart(2, '0')}`;
    const ring = firstRing(specs(nodesMax - 1, long), 5);
    const during = must(beginChange(ring, { kind: 'join', member: { name: 'x'.repeat(nodeNameBytesMax), host: 'h'.repeat(253), port: 65_535 } }));
    const bytes = cbor.encode(encodeRing(during)).length;
    expect(bytes).to.be.below(datagramBytesMax - envelopeBytesMax);
    // What the placements would add: this is why they are not sent.
    expect(cbor.encode({ a: during.placement, b: during.change!.next.placement }).length).to.be.above(datagramBytesMax);
  });

  it('refuses what no step reaches, with the field and the reason', () => {
    const during = must(beginChange(firstRing(specs(4), 3), { kind: 'join', member: newcomer }));
    const wire = encodeRing(during);
    const refusal = (w: unknown) => { const r = decodeRing(w); return r.ok ? 'accepted' : r.error; };
    expect(refusal(wire)).to.equal('accepted');
    expect(refusal({ ...wire, members: wire.members.slice(0, 4) })).to.equal('ring: members do not match the change in flight (replica-1 normal, replica-2 normal, replica-3 normal, replica-4 normal, replica-new joining)');
    expect(refusal({ ...wire, members: wire.members.map((m) => [m[0], m[1], m[2], m[0] === 'replica-2' ? 'leaving' : m[3]]) })).to.match(/^ring: members do not match the change in flight/);
    expect(refusal({ ...wire, change: null })).to.equal('ring: replica-new is joining with no change in flight');
    expect(refusal({ ...wire, change: { ...wire.change!, step: 'done' } })).to.equal('ring: change.step: expected one of write-both-read-old, streaming, write-both-read-new, cleanup, got "done"');
    expect(refusal({ ...wire, change: { ...wire.change!, aborting: true, step: 'cleanup' } })).to.equal('ring: change: an abort runs through write-both-read-old only, not cleanup');
    expect(refusal({ ...wire, change: { ...wire.change!, fromEpoch: 1 } })).to.equal('ring: change.fromEpoch: expected an integer in 0..0, got 1');
    expect(refusal({ ...wire, epoch: -1 })).to.match(/^ring: epoch: expected an integer in 0\.\./);
    expect(refusal({ ...wire, rf: 5 })).to.equal('ring: replication factor 5 needs at least 5 members, the ring would have 4');
    const dup: RingWire = { ...encodeRing(firstRing(specs(3), 1)) };
    dup.members = [...dup.members, ['replica-1', '127.0.0.1', 9999, 'normal']];
    expect(refusal(dup)).to.equal('ring: replica-1 is a member already');
    expect(refusal([1, 2])).to.equal('ring: expected an object');
  });

  it('every agreement message comes back the same as a `ring` message through CBOR and validate; a forged one is refused with the reason', () => {
    const ring = firstRing(specs(4), 3);
    const next = must(beginChange(ring, { kind: 'join', member: newcomer }));
    const ballot = [3, 'replica-2'] as const;
    const messages: AgreementMessage[] = [
      { t: 'prepare', epoch: 1, ballot }, { t: 'promise', epoch: 1, ballot, accepted: null }, { t: 'promise', epoch: 1, ballot, accepted: { ballot: [2, 'replica-1'], ring: next } },
      { t: 'accept', epoch: 1, ballot, ring: next }, { t: 'accepted', epoch: 1, ballot }, { t: 'nack', epoch: 1, ballot, promised: [4, 'replica-3'] },
      { t: 'refused', epoch: 1, ballot, reason: 'another change is in flight' }, { t: 'decided', ring: next }, { t: 'behind', epoch: 3, have: 1 },
    ];
    for (const m of messages) {
      const v = validate(cbor.decode(cbor.encode({ t: 'ring', from: 1, m: encodeAgreement(m) })));
      if (!v.ok) expect.fail(`${m.t}: ${v.reason}`);
      expect(v.msg.t).to.equal('ring');
      const back = must(decodeAgreement((v.msg as { m: unknown }).m));
      expect(JSON.stringify(encodeAgreement(back)), m.t).to.equal(JSON.stringify(encodeAgreement(m)));
    }
    const forged = { ...encodeRing(next), members: encodeRing(next).members.map((x) => [x[0], x[1], x[2], 'normal']) };
    const refusedRing = validate({ t: 'ring', from: 1, m: { k: 'accept', epoch: 1, ballot: [1, 'replica-1'], ring: forged } });
    expect(refusedRing.ok).to.equal(false);
    expect((refusedRing as { reason: string }).reason).to.match(/^agreement: accept: ring: /);
    expect(validate({ t: 'ring', from: 1, m: { k: 'elect', epoch: 1 } })).to.deep.equal({ ok: false, reason: 'agreement: k: unknown agreement message "elect"' });
    expect((validate({ t: 'ring', from: 1, m: { k: 'prepare', epoch: -1, ballot: [1, 'replica-1'] } }) as { reason: string }).reason).to.match(/^agreement: epoch: expected an integer/);
  });
});
