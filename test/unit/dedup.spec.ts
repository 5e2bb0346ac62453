import { expect } from 'chai';
import { PeerDedup } from '../../src/core/dedup.js';

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
});
