// Token buckets for the answers a replica owes no one: a fail ClockSkew to a request refused as
// expired or future-dated by this replica's clock. Such a request may be a genuine client whose
// clock disagrees (it deserves to hear why), or a captured datagram replayed after a restart from
// any source address (answering it does the replayer's sending for it). So the answers are
// budgeted per client address and in all (limits.ts); past a budget the caller drops the answer
// and counts it. Pure: time comes in as `nowMs`.
import { clockNoticeAddressesMax, clockNoticesPerAddressPerS, clockNoticesPerS } from './limits.js';
import type { Address } from './types.js';

/** A bucket of `capacity` tokens refilled at `perSecond`, its state as of `atMs`. */
class Bucket {
  constructor(public tokens: number, public atMs: number) {}

  refill(nowMs: number, capacity: number, perSecond: number): void {
    if (nowMs > this.atMs) this.tokens = Math.min(capacity, this.tokens + ((nowMs - this.atMs) * perSecond) / 1_000);
    this.atMs = Math.max(this.atMs, nowMs);
  }
}

export interface NoticeBudget {
  /** Tokens per second for one address; its bucket holds as many (a burst of one by default). */
  perAddressPerS: number;
  /** Tokens per second in all, and the burst the total bucket holds. */
  totalPerS: number;
  /** Addresses tracked at once (their buckets not yet full again). */
  addressesMax: number;
}

export const defaultNoticeBudget: NoticeBudget = {
  perAddressPerS: clockNoticesPerAddressPerS, totalPerS: clockNoticesPerS, addressesMax: clockNoticeAddressesMax,
};

export class NoticeLimiter {
  private readonly total: Bucket;
  /** Buckets in the order they were last drawn from: the oldest refill first, so they are forgotten from the front. */
  private readonly byAddress = new Map<Address, Bucket>();
  /** Notices refused for the budget since start. */
  limited = 0;

  constructor(private readonly budget: NoticeBudget = defaultNoticeBudget, nowMs = 0) {
    if (!(budget.perAddressPerS > 0 && budget.totalPerS > 0 && budget.addressesMax > 0)) throw new RangeError('notice limiter: every budget must be positive');
    this.total = new Bucket(budget.totalPerS, nowMs);
  }

  /** True (and one token taken from both buckets) when a notice to `to` may go out now. */
  take(to: Address, nowMs: number): boolean {
    const { perAddressPerS, totalPerS, addressesMax } = this.budget;
    this.total.refill(nowMs, totalPerS, totalPerS);
    if (this.total.tokens < 1) return this.refuse();
    this.forgetFull(nowMs);
    let mine = this.byAddress.get(to);
    if (mine === undefined) {
      if (this.byAddress.size >= addressesMax) return this.refuse();
      mine = new Bucket(perAddressPerS, nowMs);
    } else {
      mine.refill(nowMs, perAddressPerS, perAddressPerS);
      if (mine.tokens < 1) return this.refuse();
      this.byAddress.delete(to);
    }
    mine.tokens -= 1;
    this.total.tokens -= 1;
    this.byAddress.set(to, mine);
    return true;
  }

  /** Addresses tracked now (tests, status). */
  get addresses(): number {
    return this.byAddress.size;
  }

  private refuse(): false {
    this.limited++;
    return false;
  }

  /** A bucket full again is the same as none: forgotten, oldest first, so the map holds only recent senders. */
  private forgetFull(nowMs: number): void {
    const { perAddressPerS } = this.budget;
    for (const [address, bucket] of this.byAddress) {
      bucket.refill(nowMs, perAddressPerS, perAddressPerS);
      if (bucket.tokens < perAddressPerS) return;
      this.byAddress.delete(address);
    }
  }
}
