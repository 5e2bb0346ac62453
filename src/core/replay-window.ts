// A sliding replay window over one sender session's datagram counters (RFC 6479, as WireGuard keeps
// one per peer): a counter seen before is refused, one further behind the newest than the window
// is refused, anything else is accepted and remembered. It needs no clock, costs a fixed
// replayWindowCounters bits per session, and is consulted only for datagrams that authenticated,
// so a forgery can never move it.
import { replayWindowCounters } from './limits.js';

export type WindowVerdict = 'ok' | 'replayed' | 'too-old';

export class ReplayWindow {
  /** The newest counter accepted; -1 before any. */
  private newest = -1;
  private readonly bits: Uint32Array;

  constructor(readonly size = replayWindowCounters) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new RangeError(`replay window: size ${size} must be a positive multiple of 32`);
    this.bits = new Uint32Array(size / 32);
  }

  /** Accepts `counter` (and remembers it) unless it was seen already or is behind the window. */
  accept(counter: number): WindowVerdict {
    if (counter > this.newest) {
      if (counter - this.newest >= this.size) this.bits.fill(0);
      else for (let c = this.newest + 1; c < counter; c++) this.clear(c);
      this.newest = counter;
      this.set(counter);
      return 'ok';
    }
    if (this.newest - counter >= this.size) return 'too-old';
    if (this.has(counter)) return 'replayed';
    this.set(counter);
    return 'ok';
  }

  private has(c: number): boolean {
    const i = c % this.size;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  private set(c: number): void {
    const i = c % this.size;
    this.bits[i >>> 5] = this.bits[i >>> 5]! | (1 << (i & 31));
  }

  private clear(c: number): void {
    const i = c % this.size;
    this.bits[i >>> 5] = this.bits[i >>> 5]! & ~(1 << (i & 31));
  }
}
