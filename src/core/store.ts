// The replica's data in memory: key -> newest version, last write wins on stamps.
import { compareStamps } from './hlc.js';
import type { Key, Stamp, Versioned } from './types.js';

export class Store {
  private readonly versions = new Map<Key, Versioned>();

  /** Keeps the newer of the stored and the given version; returns whether the given one won. */
  apply(key: Key, value: string, stamp: Stamp): boolean {
    const current = this.versions.get(key);
    if (current !== undefined && compareStamps(current.stamp, stamp) >= 0) return false;
    this.versions.set(key, { value, stamp });
    return true;
  }

  read(key: Key): Versioned | undefined {
    return this.versions.get(key);
  }

  get size(): number {
    return this.versions.size;
  }

  entries(): IterableIterator<[Key, Versioned]> {
    return this.versions.entries();
  }
}
