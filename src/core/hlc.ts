// Hybrid logical clock (Kulkarni et al.): stamps that follow the wall clock when it moves forward,
// never go backwards when it does not, and move past every stamp this node has seen.
import type { NodeIndex, Stamp } from './types.js';

/** Total order: wall ms, then counter, then node index. */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export function newerStamp(a: Stamp, b: Stamp): Stamp {
  return compareStamps(a, b) >= 0 ? a : b;
}

export function formatStamp(s: Stamp): string {
  return `${s[0]}.${s[1]}@${s[2]}`;
}

/** How far a stamp's wall part is ahead of a wall clock, in ms (negative: behind). */
export function aheadOf(stamp: Stamp, wallClockMs: number): number {
  return stamp[0] - wallClockMs;
}

/**
 * Counter values per millisecond of the physical clock: a new millisecond's counter starts at the
 * microsecond within it, not at 0, so two coordinators stamping in the same millisecond (on one
 * host, or hosts whose clocks agree that closely) order their stamps as they really happened. Without
 * it a write acknowledged in 0.4 ms could lose to a later one stamped in the same ms by a node of a
 * lower index, and a QUORUM read after both would return the older.
 */
export const counterPerMs = 1_000;

export class Hlc {
  private wallMs = 0;
  private counter = 0;

  constructor(readonly node: NodeIndex) {}

  /** A new stamp, greater than every stamp made or observed so far. `wallClockMs` may carry a fraction of a ms. */
  now(wallClockMs: number): Stamp {
    const wallMs = Math.floor(wallClockMs);
    const physical = Math.floor((wallClockMs - wallMs) * counterPerMs + 1e-6); // 1000.3 ms: counter 300, not 299.99…
    if (wallMs > this.wallMs) {
      this.wallMs = wallMs;
      this.counter = physical;
    } else if (wallMs === this.wallMs) {
      this.counter = Math.max(this.counter + 1, physical);
    } else {
      this.counter++;
    }
    return [this.wallMs, this.counter, this.node];
  }

  /** Moves past a stamp seen from elsewhere, so the next stamp made here is newer than it. */
  observe(stamp: Stamp): void {
    if (stamp[0] > this.wallMs || (stamp[0] === this.wallMs && stamp[1] > this.counter)) {
      this.wallMs = stamp[0];
      this.counter = stamp[1];
    }
  }

  /**
   * Moves past a stamp from elsewhere unless it is more than maxSkewMs ahead of this node's wall
   * clock: a peer (or client) with a fast clock must not drag this clock, and through it every
   * clock in the cluster, ahead for good. Returns how far ahead it was when refused, else null.
   */
  observeWithin(stamp: Stamp, wallClockMs: number, maxSkewMs: number): number | null {
    const aheadMs = aheadOf(stamp, wallClockMs);
    if (aheadMs > maxSkewMs) return aheadMs;
    this.observe(stamp);
    return null;
  }

  /** The latest stamp made or observed (for gossip). */
  latest(): Stamp {
    return [this.wallMs, this.counter, this.node];
  }
}
