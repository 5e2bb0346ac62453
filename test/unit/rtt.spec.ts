import { expect } from 'chai';
import { quantileWindowSamples, RttEstimator } from '../../src/core/rtt.js';

describe('core/rtt: the retransmission timeout', () => {
  it('follows srtt + 4 rttvar within the floor and ceiling, and waits firstMs before any sample', () => {
    const est = new RttEstimator(50, 5, 1000);
    expect(est.timeoutMs()).to.equal(50);
    est.sample(2);
    expect(est.timeoutMs()).to.equal(6); // 2 + 4 * 1
    for (let i = 0; i < 100; i++) est.sample(1);
    expect(est.timeoutMs()).to.equal(5); // the floor
    for (let i = 0; i < 100; i++) est.sample(5000);
    expect(est.timeoutMs()).to.equal(1000); // the ceiling
  });

  it('with a quantile guard, stays above the recent p99 when queueing spreads the round trips', () => {
    // Queueing at a busy coordinator: most answers in 2-6 ms, one in fifty at 40 ms.
    const samples = Array.from({ length: 4 * quantileWindowSamples }, (_, i) => (i % 50 === 0 ? 40 : 2 + (i % 5)));
    const plain = new RttEstimator(50, 5, 1000);
    const guarded = new RttEstimator(50, 5, 1000, { quantile: 0.99, factor: 1.25 });
    for (const s of samples) {
      plain.sample(s);
      guarded.sample(s);
    }
    expect(plain.timeoutMs(), 'the mean-based RTO sits inside the distribution').to.be.below(40);
    expect(guarded.timeoutMs()).to.equal(50); // 1.25 x the 40 ms tail
  });

  it('with a quantile guard, comes back down when the tail goes away', () => {
    const guarded = new RttEstimator(50, 5, 1000, { quantile: 0.99, factor: 1.25 });
    for (let i = 0; i < quantileWindowSamples; i++) guarded.sample(i % 10 === 0 ? 80 : 3);
    expect(guarded.timeoutMs()).to.equal(100);
    for (let i = 0; i < quantileWindowSamples; i++) guarded.sample(1);
    expect(guarded.timeoutMs()).to.equal(5);
  });
});
