import { expect } from 'chai';
import { ClientAnswers, PeerDedup } from '../../src/core/dedup.js';

describe('peer request dedup', () => {
  it('tells a new request from one in progress and one done', () => {
    const d = new PeerDedup(10);
    expect(d.seen(1, 100, 7)).to.equal('new');
    d.start(1, 100, 7);
    expect(d.seen(1, 100, 7)).to.equal('pending');
    d.finish(1, 100, 7);
    expect(d.seen(1, 100, 7)).to.equal('done');
    expect(d.seen(2, 100, 7), 'another peer').to.equal('new');
  });

  it('forgets a peer\'s old ids when it restarts with a newer generation, and never caches an older one', () => {
    const d = new PeerDedup(10);
    d.finish(1, 100, 7);
    d.finish(1, 200, 1);
    expect(d.seen(1, 200, 7), 'id 7 of the new incarnation is a new request').to.equal('new');
    d.finish(1, 100, 9);
    expect(d.seen(1, 100, 9)).to.equal('new');
    expect(d.size).to.equal(1);
  });

  it('keeps at most its bound per peer, forgetting the oldest first', () => {
    const d = new PeerDedup(3);
    for (let id = 1; id <= 5; id++) d.finish(1, 1, id);
    expect([1, 2, 3, 4, 5].map((id) => d.seen(1, 1, id))).to.deep.equal(['new', 'new', 'done', 'done', 'done']);
    expect(d.size).to.equal(3);
  });

  it('forgets requests in progress (their records were refused by a full disk), never finished ones', () => {
    const d = new PeerDedup(10);
    d.start(1, 1, 7);
    d.finish(1, 1, 8);
    d.start(2, 1, 9);
    d.forgetPending();
    expect([d.seen(1, 1, 7), d.seen(1, 1, 8), d.seen(2, 1, 9)]).to.deep.equal(['new', 'done', 'new']);
  });
});

describe('client answers (kept until each request\'s deadline)', () => {
  it('answers until the deadline, then forgets', () => {
    const a = new ClientAnswers<string>(10);
    a.set('1|100', 'put.ok 1', 2_000);
    a.set('2|100', 'put.ok 2', 3_000);
    a.sweep(2_000);
    expect([a.get('1|100'), a.get('2|100')], 'at the deadline itself a replay is still admitted').to.deep.equal(['put.ok 1', 'put.ok 2']);
    a.sweep(2_001);
    expect([a.get('1|100'), a.get('2|100')]).to.deep.equal([undefined, 'put.ok 2']);
  });

  it('never evicts an answer still within its deadline: full of live ones, it has no room', () => {
    const a = new ClientAnswers<string>(3);
    for (let i = 1; i <= 3; i++) a.set(`${i}|0`, `v${i}`, 1_000 + i);
    expect(a.hasRoom(500, 1)).to.equal(false);
    expect([1, 2, 3].map((i) => a.get(`${i}|0`))).to.deep.equal(['v1', 'v2', 'v3']);
    expect(a.hasRoom(1_001.5, 1), 'the first one expired').to.equal(true);
    expect(a.size).to.equal(2);
    expect(a.hasRoom(1_001.5, 2), 'room for one, not two').to.equal(false);
  });
});
