// A bounded map that forgets its oldest entries first (Map keeps insertion order).
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly sizeMax: number) {
    if (!(sizeMax >= 1)) throw new RangeError(`BoundedMap: sizeMax ${sizeMax} must be at least 1`);
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.sizeMax) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
