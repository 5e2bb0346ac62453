import { expect } from 'chai';
import { retryCeilingMs, retryFirstMs, retryMinMs } from '../../src/core/limits.js';
import type { PeerRequest } from '../../src/core/messages.js';
import { RequestTracker } from '../../src/core/reliable.js';

const rr = (id: number): PeerRequest => ({ t: 'rr', from: 0, gen: 1, id, key: 1 });

describe('reliable requests', () => {
  it('retransmits after the first timeout until the deadline, then gives up', () => {
    const tracker = new RequestTracker(() => 0);
    let gaveUp = 0;
    tracker.register(1, rr, 0, 1_000, true, () => {}, () => gaveUp++);
    expect(tracker.due(retryFirstMs - 1).retransmit).to.have.length(0);
    expect(tracker.due(retryFirstMs).retransmit).to.have.length(1);
    expect(tracker.due(retryFirstMs + 2 * retryFirstMs - 1).retransmit, 'backoff doubles').to.have.length(0);
    expect(tracker.due(3 * retryFirstMs).retransmit).to.have.length(1);
    const end = tracker.due(1_000);
    expect(end.expired).to.have.length(1);
    end.expired[0]!.onGiveUp();
    expect(gaveUp).to.equal(1);
    expect(tracker.size).to.equal(0);
  });

  it('learns the round trip from first attempts and times out just past it', () => {
    const tracker = new RequestTracker(() => 0);
    for (let i = 0; i < 20; i++) {
      const msg = tracker.register(2, rr, i * 100, i * 100 + 1_000, true, () => {});
      expect(tracker.settle(msg.id, 2, i * 100 + 30)).to.not.equal(undefined);
    }
    expect(tracker.rtoMs(2)).to.be.within(30, 40);
    expect(tracker.rtoMs(3), 'another peer is unmeasured').to.equal(retryFirstMs);
  });

  it('keeps the timeout within its floor and ceiling', () => {
    const fast = new RequestTracker(() => 0);
    const slow = new RequestTracker(() => 0);
    for (let i = 0; i < 10; i++) {
      fast.settle(fast.register(1, rr, 0, 10_000, true, () => {}).id, 1, 0);
      slow.settle(slow.register(1, rr, 0, 10_000, true, () => {}).id, 1, 5_000);
    }
    expect(fast.rtoMs(1)).to.equal(retryMinMs);
    expect(slow.rtoMs(1)).to.equal(retryCeilingMs);
  });

  it("ignores replies to retransmitted requests when measuring (Karn's rule)", () => {
    const tracker = new RequestTracker(() => 0);
    const msg = tracker.register(1, rr, 0, 10_000, true, () => {});
    tracker.due(retryFirstMs);
    tracker.settle(msg.id, 1, 900);
    expect(tracker.rtoMs(1)).to.equal(retryFirstMs);
  });

  it('accepts a reply only from the peer the request went to, and only once', () => {
    const tracker = new RequestTracker(() => 0.5);
    const msg = tracker.register(1, rr, 0, 1_000, true, () => {});
    expect(tracker.settle(msg.id, 2, 5)).to.equal(undefined);
    expect(tracker.settle(msg.id, 1, 5)).to.not.equal(undefined);
    expect(tracker.settle(msg.id, 1, 6)).to.equal(undefined);
  });
});
