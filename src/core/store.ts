// The replica's data in memory: key -> newest version, last write wins on stamps. A tombstone
// (value null) is a version like any other and is kept for good: with 256 keys there are at most
// 256 of them, and a tombstone that is never dropped can never let an older value come back.
import { compareStamps } from './hlc.js';
import type { Key, Stamp, StoredValue, Versioned } from './types.js';

export class Store {
  private readonly versions = new Map<Key, Versioned>();
  private tombstoneCount = 0;

  /** Keeps the newer of the stored and the given version; returns whether the given one won. */
  apply(key: Key, value: StoredValue, stamp: Stamp): boolean {
    const current = this.versions.get(key);
    if (current !== undefined && compareStamps(current.stamp, stamp) >= 0) return false;
    if (current?.value === null) this.tombstoneCount--;
    if (value === null) this.tombstoneCount++;
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
}
