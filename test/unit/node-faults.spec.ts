// One Node, driven by hand: how it takes a refused log append and a client request past its age.
import { expect } from 'chai';
import type { Effect } from '../../src/core/effects.js';
import { logFullRetryIntervalMs } from '../../src/core/limits.js';
import type { Message } from '../../src/core/messages.js';
import { Node } from '../../src/core/node.js';
import { seededRandom } from '../../src/core/prng.js';
import { simConfig } from '../../tools/sim/cluster.js';

const config = simConfig(4, 3, 'hinted-handoff', true);
const t0 = 1_700_000_000_000;
const peer = '127.0.0.1:7102'; // replica-2, index 1
const client = '127.0.0.9:9000';
const key = 10; // replica-1, -2, -3

function started(): Node {
  const node = new Node({ config, self: 0, generation: t0, random: seededRandom(1), nowMs: t0 });
  node.step({ kind: 'start' }, t0);
  return node;
}
const appends = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: 'append' }> => e.kind === 'append');
const sent = (effects: Effect[]) => effects.filter((e) => e.kind === 'send' || e.kind === 'reply').map((e) => (e as { msg: Message }).msg);

describe('node: a refused log append (full disk)', () => {
  const write: Message = { t: 'rw', from: 1, gen: t0, id: 7, key, value: 'v', stamp: [t0, 0, 1] };

  it('never applies the record nor acks it; a retransmission appends again; acks once the disk takes it', () => {
    const node = started();
    const [first] = appends(node.step({ kind: 'message', from: peer, msg: write }, t0 + 1));
    expect(first).to.not.equal(undefined);
    const failed = node.step({ kind: 'append-failed', fromLsn: first!.lsn, toLsn: first!.lsn, reason: 'ENOSPC' }, t0 + 2);
    expect(sent(failed), 'no ack').to.deep.equal([]);
    expect(failed.filter((e) => e.kind === 'log').map((e) => (e as { event: { name: string } }).event.name)).to.deep.equal(['disk-full']);
    expect(node.store.read(key)).to.equal(undefined);
    expect(node.status()).to.deep.include({ logWritable: false, logAppendsFailed: 1 });

    const [again] = appends(node.step({ kind: 'message', from: peer, msg: write }, t0 + 3));
    expect(again?.lsn, 'the retransmission is carried out again, not taken for one in progress').to.equal(first!.lsn + 1);
    const synced = node.step({ kind: 'synced', upToLsn: again!.lsn, logBytes: 100 }, t0 + 4);
    expect(sent(synced)).to.deep.equal([{ t: 'rw.ok', from: 0, id: 7 }]);
    expect(node.store.read(key)?.value).to.equal('v');
    expect(node.status().logWritable).to.equal(true);
  });

  it('appends the refused write again by itself every retry interval until it lands', () => {
    const node = started();
    const [first] = appends(node.step({ kind: 'message', from: peer, msg: write }, t0 + 1));
    node.step({ kind: 'append-failed', fromLsn: first!.lsn, toLsn: first!.lsn, reason: 'ENOSPC' }, t0 + 2);
    expect(appends(node.step({ kind: 'tick' }, t0 + logFullRetryIntervalMs / 2))).to.deep.equal([]);
    const [retried] = appends(node.step({ kind: 'tick' }, t0 + 2 + logFullRetryIntervalMs));
    expect(retried?.record).to.deep.equal(first!.record);
    node.step({ kind: 'append-failed', fromLsn: retried!.lsn, toLsn: retried!.lsn, reason: 'ENOSPC' }, t0 + 3 + logFullRetryIntervalMs);
    const [third] = appends(node.step({ kind: 'tick' }, t0 + 4 + 2 * logFullRetryIntervalMs));
    expect(third?.record).to.deep.equal(first!.record);
    node.step({ kind: 'synced', upToLsn: third!.lsn, logBytes: 100 }, t0 + 5 + 2 * logFullRetryIntervalMs);
    expect(node.store.read(key)?.value).to.equal('v');
    expect(appends(node.step({ kind: 'tick' }, t0 + 10 * logFullRetryIntervalMs)), 'nothing left to retry').to.deep.equal([]);
  });
});

describe('node: client requests past their age', () => {
  const put = (sentAtMs: number, deadlineMs: number): Message => ({ t: 'put', id: 1, key, value: 'late', level: 'ONE', sentAtMs, deadlineMs });

  it('refuses a put past its deadline with no record, answers ClockSkew with its clock, and counts it', () => {
    const node = started();
    const effects = node.step({ kind: 'message', from: client, msg: put(t0, t0 + 2_000) }, t0 + 2_001);
    expect(appends(effects)).to.deep.equal([]);
    expect(sent(effects).filter((m) => m.t !== 'hb').map((m) => m.t === 'fail' ? [m.error, m.dated, m.clockMs] : m.t)).to.deep.equal([['ClockSkew', 'expired', t0 + 2_001]]);
    expect(node.status().droppedDatagrams).to.deep.equal({ expired: 1 });
    expect(node.status().clientReplies).to.deep.equal({ 'fail:ClockSkew': 1 });
  });

  it('starts one at its deadline exactly, and one sent up to max_clock_skew_ms ahead', () => {
    const node = started();
    expect(sent(node.step({ kind: 'message', from: client, msg: put(t0, t0 + 5) }, t0 + 5)).some((m) => m.t === 'rw')).to.equal(true);
    const ahead = { ...put(t0 + 10 + config.maxClockSkewMs, t0 + 2_000), id: 2 };
    expect(sent(node.step({ kind: 'message', from: client, msg: ahead }, t0 + 10)).some((m) => m.t === 'rw')).to.equal(true);
    expect(node.status().droppedDatagrams).to.deep.equal({});
  });
});
