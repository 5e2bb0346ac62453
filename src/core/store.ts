// The replica's data in memory: key -> newest version, last write wins on stamps, and the keys of
// each slot (what anti-entropy compares slot by slot). A tombstone (value null) is a version like
// any other and is kept for good: with 256 keys there are at most 256 of them, and a tombstone that
// is never dropped can never let an older value come back.
import { byteOrdered, type KeySpace, type Slot } from './keyspace.js';
import { compareStamps } from './hlc.js';
import { slotCount } from './limits.js';
import type { Key, Stamp, StoredValue, Versioned } from './types.js';

export class Store {
  private readonly versions = new Map<Key, Versioned>();
  private readonly keysBySlot: Set<Key>[] = Array.from({ length: slotCount }, () => new Set());
  private tombstoneCount = 0;
  private newest: Stamp | null = null;

  constructor(private readonly keySpace: KeySpace = byteOrdered) {}

  /** Keeps the newer of the stored and the given version; returns whether the given one won. */
  apply(key: Key, value: StoredValue, stamp: Stamp): boolean {
    const current = this.versions.get(key);
    if (current !== undefined && compareStamps(current.stamp, stamp) >= 0) return false;
    if (current?.value === null) this.tombstoneCount--;
    if (value === null) this.tombstoneCount++;
    if (current === undefined) this.keysBySlot[this.keySpace.slotOf(key)]!.add(key);
    if (this.newest === null || compareStamps(stamp, this.newest) > 0) this.newest = stamp;
    this.versions.set(key, { value, stamp });
    return true;
  }

  /** The stored version, a tombstone included (value null); undefined if the key was never written here. */
  read(key: Key): Versioned | undefined {
    return this.versions.get(key);
  }

  /** Keys holding a value (tombstones not counted). */
  get liveKeys(): number {
    return this.versions.size - this.tombstoneCount;
  }

  /** The newest stamp ever stored here (the node's clock must never be behind it). */
  get newestStamp(): Stamp | null {
    return this.newest;
  }

  get tombstones(): number {
    return this.tombstoneCount;
  }

  /** Versions held, tombstones included. */
  get size(): number {
    return this.versions.size;
  }

  entries(): IterableIterator<[Key, Versioned]> {
    return this.versions.entries();
  }

  /** The keys held on a slot, tombstones included, in no particular order. */
  keysIn(slot: Slot): ReadonlySet<Key> {
    return this.keysBySlot[slot] ?? new Set();
  }
}
