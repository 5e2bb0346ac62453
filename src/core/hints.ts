// Hinted handoff state on a coordinator: for each replica that missed a write, the newest missed
// version of each key (so a replica that missed 10,000 writes to 256 keys needs at most 256 hints; the hashed key space bounds them, see handoff.ts).
import { compareStamps } from './hlc.js';
import type { Key, NodeIndex, Stamp, StoredValue } from './types.js';

export interface Hint {
  readonly key: Key;
  /** null: a tombstone (the write was a delete). */
  readonly value: StoredValue;
  readonly stamp: Stamp;
  /** When the coordinator stored it; hints older than the hint window are dropped. */
  readonly atMs: number;
  /** A batch carrying it is awaiting its ack. */
  inFlight: boolean;
}

export class HintStore {
  private readonly byTarget = new Map<NodeIndex, Map<Key, Hint>>();

  /** Would a hint with this stamp replace what is held (or fill a gap)? */
  isNewer(target: NodeIndex, key: Key, stamp: Stamp): boolean {
    const held = this.byTarget.get(target)?.get(key);
    return held === undefined || compareStamps(stamp, held.stamp) > 0;
  }

  holds(target: NodeIndex, key: Key): boolean {
    return this.byTarget.get(target)?.has(key) ?? false;
  }

  /** Keeps the newest hint per (target, key); returns whether this one was kept. */
  add(target: NodeIndex, key: Key, value: StoredValue, stamp: Stamp, atMs: number): boolean {
    if (!this.isNewer(target, key, stamp)) return false;
    let hints = this.byTarget.get(target);
    if (hints === undefined) this.byTarget.set(target, (hints = new Map()));
    hints.set(key, { key, value, stamp, atMs, inFlight: false });
    return true;
  }

  /** Forgets the hint for (target, key) if it is still the delivered version; a newer one stays. */
  delivered(target: NodeIndex, key: Key, stamp: Stamp): boolean {
    const hints = this.byTarget.get(target);
    const held = hints?.get(key);
    if (hints === undefined || held === undefined || compareStamps(held.stamp, stamp) !== 0) return false;
    hints.delete(key);
    if (hints.size === 0) this.byTarget.delete(target);
    return true;
  }

  hintsFor(target: NodeIndex): Iterable<Hint> {
    return this.byTarget.get(target)?.values() ?? [];
  }

  countFor(target: NodeIndex): number {
    return this.byTarget.get(target)?.size ?? 0;
  }

  get count(): number {
    let n = 0;
    for (const hints of this.byTarget.values()) n += hints.size;
    return n;
  }

  targets(): NodeIndex[] {
    return [...this.byTarget.keys()];
  }

  /** Drops hints stored before nowMs - windowMs; returns how many were dropped per target. */
  expire(nowMs: number, windowMs: number): Map<NodeIndex, number> {
    const dropped = new Map<NodeIndex, number>();
    for (const [target, hints] of this.byTarget) {
      for (const [key, hint] of hints) {
        if (nowMs - hint.atMs > windowMs) {
          hints.delete(key);
          dropped.set(target, (dropped.get(target) ?? 0) + 1);
        }
      }
      if (hints.size === 0) this.byTarget.delete(target);
    }
    return dropped;
  }

  /** Every hint, for a snapshot: [target, key, value, stamp, atMs]. */
  dump(): [NodeIndex, Key, StoredValue, Stamp, number][] {
    const out: [NodeIndex, Key, StoredValue, Stamp, number][] = [];
    for (const [target, hints] of this.byTarget) for (const h of hints.values()) out.push([target, h.key, h.value, h.stamp, h.atMs]);
    return out;
  }

  clear(): void {
    this.byTarget.clear();
  }
}
