import { expect } from 'chai';
import type { Effect } from '../../src/core/effects.js';
import { Outbox } from '../../src/core/outbox.js';

const send = (n: number): Effect => ({ kind: 'send', to: 'peer', msg: { t: 'rw.ok', from: 0, id: n } });
const append = (lsn: number): Effect => ({ kind: 'append', lsn, record: { t: 'w', key: 1, value: 'v', stamp: [1, 0, 0] } });
const ids = (outs: { msg: unknown }[]) => outs.map((o) => (o.msg as { id: number }).id);

describe('outbox: persist before send', () => {
  it('sends at once what a step produced before its first append', () => {
    const box = new Outbox();
    const r = box.route([send(1), append(1), send(2)]);
    expect(ids(r.sendsNow)).to.deep.equal([1]);
    expect(r.appends.map((a) => a.lsn)).to.deep.equal([1]);
    expect(box.heldCount).to.equal(1);
  });

  it('holds a send until the append before it is durable, and releases in order', () => {
    const box = new Outbox();
    box.route([append(1), send(1)]);
    box.route([append(2), send(2), append(3), send(3)]);
    expect(ids(box.synced(1))).to.deep.equal([1]);
    expect(ids(box.synced(2))).to.deep.equal([2]);
    expect(ids(box.synced(3))).to.deep.equal([3]);
    expect(box.heldCount).to.equal(0);
  });

  it('does not hold a later step without appends behind earlier unsynced records', () => {
    const box = new Outbox();
    box.route([append(1), send(1)]);
    expect(ids(box.route([send(2)]).sendsNow)).to.deep.equal([2]);
  });

  it('drops the sends that waited for records a full disk refused; a later sync never releases them', () => {
    const box = new Outbox();
    box.route([append(1), send(1)]);
    box.route([append(2), append(3), send(3)]);
    box.route([append(4), send(4)]);
    expect(ids(box.synced(1))).to.deep.equal([1]);
    box.failed(2, 3);
    expect(ids(box.synced(4)), 'the ack of 2..3 never leaves').to.deep.equal([4]);
    expect(box.heldCount).to.equal(0);
  });
});
