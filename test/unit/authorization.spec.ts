// The authorization table, checked against a matrix written out here by hand: every message type
// times every kind of sender. A message type added to messages.ts without a row here fails.
import { expect } from 'chai';
import { mayBeSentBy, messageTypes, refusal, senderKinds, type Principal, type SenderKind } from '../../src/core/authorization.js';
import type { Message } from '../../src/core/messages.js';
import { validate } from '../../src/core/messages.js';

/** P peer, R read, W write, A admin: who may send it to a replica. */
const expected: Record<Message['t'], string> = {
  get: 'RWA', local: 'RWA', time: 'RWA', put: 'WA', del: 'WA', status: 'A', state: 'A', repair: 'A', 'client.set': 'A', keyring: 'A',
  'get.ok': '', 'put.ok': '', 'del.ok': '', 'local.ok': '', 'status.ok': '', 'state.ok': '', 'repair.ok': '', 'client.ok': '', 'time.ok': '', 'keyring.ok': '', fail: '',
  rw: 'P', 'rw.ok': 'P', rr: 'P', 'rr.ok': 'P', hints: 'P', 'hints.ok': 'P', ae: 'P', 'ae.ok': 'P', 'ae.pull': 'P', 'ae.pull.ok': 'P', hb: 'P', ring: 'P',
};
const letter: Record<SenderKind, string> = { peer: 'P', read: 'R', write: 'W', admin: 'A' };

describe('core/authorization', () => {
  it('every message type times every kind of sender gives the matrix answer', () => {
    for (const t of Object.keys(expected) as Message['t'][]) {
      for (const kind of senderKinds) {
        expect(mayBeSentBy(t).includes(kind), `${t} from ${kind}`).to.equal(expected[t].includes(letter[kind]));
      }
    }
  });

  it('the table and this matrix list the same message types, each one the validator knows', () => {
    expect([...messageTypes].sort()).to.deep.equal(Object.keys(expected).sort());
    for (const t of messageTypes) expect((validate({ t }) as { reason: string }).reason, t).to.not.match(/unknown message type/);
  });

  it('a replica speaks only for itself; a revoked client for nobody', () => {
    const rw: Message = { t: 'rw', from: 2, gen: 1, id: 1, key: 3, value: 'x', stamp: [1, 0, 2] };
    expect(refusal(rw, { kind: 'peer', node: 2 })).to.equal(null);
    expect(refusal(rw, { kind: 'peer', node: 1 })).to.equal('spoofed');
    const admin: Principal = { kind: 'client', id: 'root', role: 'admin' };
    expect(refusal(rw, admin)).to.equal('forbidden');
    expect(refusal({ t: 'status', id: 1 }, admin)).to.equal(null);
    expect(refusal({ t: 'status', id: 1 }, { kind: 'client', id: 'gone', role: null })).to.equal('revoked');
  });
});
