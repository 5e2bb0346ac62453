import { expect } from 'chai';
import { clockNoticesPerAddressPerS, clockNoticesPerS } from '../../src/core/limits.js';
import { NoticeLimiter } from '../../src/core/notice-limiter.js';

const t0 = 1_763_700_000_000;

/** How many of `n` notices to `to` at `atMs` the limiter lets through. */
function burst(l: NoticeLimiter, to: string, n: number, atMs: number): number {
  let sent = 0;
  for (let i = 0; i < n; i++) if (l.take(to, atMs)) sent++;
  return sent;
}

describe('notice limiter (ClockSkew answers budget)', () => {
  it('lets one notice a second through to one address, and counts the rest', () => {
    const l = new NoticeLimiter(undefined, t0);
    expect(burst(l, '10.0.0.1:5000', 100, t0)).to.equal(clockNoticesPerAddressPerS);
    expect(l.limited).to.equal(100 - clockNoticesPerAddressPerS);
    expect(burst(l, '10.0.0.1:5000', 10, t0 + 999), 'not refilled before a second').to.equal(0);
    expect(burst(l, '10.0.0.1:5000', 10, t0 + 1_000), 'refilled after a second').to.equal(1);
    expect(burst(l, '10.0.0.2:5000', 10, t0 + 1_000), 'another address has its own budget').to.equal(1);
  });

  it('lets at most the total budget through across many addresses, refilled with time', () => {
    const l = new NoticeLimiter(undefined, t0);
    let sent = 0;
    for (let a = 0; a < 100; a++) sent += burst(l, `10.0.${a}.1:5000`, 1, t0);
    expect(sent).to.equal(clockNoticesPerS);
    expect(l.limited).to.equal(100 - clockNoticesPerS);
    // Half a second refills half the total budget; addresses not yet drawn from get it.
    sent = 0;
    for (let a = 100; a < 200; a++) sent += burst(l, `10.0.${a}.1:5000`, 1, t0 + 500);
    expect(sent).to.equal(clockNoticesPerS / 2);
    // Over ten seconds of one new address a millisecond, at most the total rate (plus the burst) goes out.
    sent = 0;
    for (let ms = 0; ms < 10_000; ms++) sent += burst(l, `10.1.${ms >> 8}.${ms & 255}:5000`, 1, t0 + 1_000 + ms);
    expect(sent).to.be.within(10 * clockNoticesPerS, 10 * clockNoticesPerS + clockNoticesPerS);
  });

  it('forgets addresses whose budget is full again, and refuses new ones past its bound until some refill', () => {
    const l = new NoticeLimiter({ perAddressPerS: 1, totalPerS: 1_000, addressesMax: 4 }, t0);
    for (let a = 0; a < 4; a++) expect(l.take(`10.0.0.${a}:1`, t0)).to.equal(true);
    expect(l.take('10.0.0.9:1', t0), 'a fifth address while four are still drawn').to.equal(false);
    expect(l.addresses).to.equal(4);
    expect(l.take('10.0.0.9:1', t0 + 1_000), 'once theirs refill, they are forgotten').to.equal(true);
    expect(l.addresses).to.equal(1);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new NoticeLimiter({ perAddressPerS: 0, totalPerS: 16, addressesMax: 1 })).to.throw(RangeError);
  });
});
