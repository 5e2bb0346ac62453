// ByteOrderedPartitioner: the key space keyMin..keyMax split into N contiguous ranges, one per
// replica in nodes.toml order. A key's first replica owns its range; the next RF-1 clockwise hold copies.
import { keyCount, keyMax, keyMin } from './limits.js';
import type { Key, NodeIndex } from './types.js';

export interface Range { readonly first: Key; readonly last: Key; readonly owner: NodeIndex }

export class Ring {
  readonly ranges: readonly Range[];
  private readonly replicasByKey: readonly (readonly NodeIndex[])[];

  constructor(readonly nodeCount: number, readonly replicationFactor: number) {
    if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > keyCount) throw new RangeError(`ring: node count ${nodeCount} outside 1..${keyCount}`);
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > nodeCount) {
      throw new RangeError(`ring: replication factor ${replicationFactor} outside 1..${nodeCount}`);
    }
    this.ranges = splitRanges(nodeCount);
    this.replicasByKey = Array.from({ length: keyCount }, (_, i) => {
      const owner = ownerOf(i + keyMin, nodeCount);
      return Array.from({ length: replicationFactor }, (_, j) => (owner + j) % nodeCount);
    });
  }

  /** The key's owner first, then the next RF-1 replicas clockwise. */
  replicasFor(key: Key): readonly NodeIndex[] {
    const set = this.replicasByKey[key - keyMin];
    if (set === undefined) throw new RangeError(`ring: key ${key} outside ${keyMin}..${keyMax}`);
    return set;
  }

  /** Does this node hold a copy of the key? */
  holds(node: NodeIndex, key: Key): boolean {
    return this.replicasFor(key).includes(node);
  }
}

/** N ranges as equal as integer division allows: the first (keyCount mod N) ranges get one key more. */
function splitRanges(n: number): Range[] {
  const base = Math.floor(keyCount / n);
  const extra = keyCount % n;
  const ranges: Range[] = [];
  let first = keyMin;
  for (let owner = 0; owner < n; owner++) {
    const size = base + (owner < extra ? 1 : 0);
    ranges.push({ first, last: first + size - 1, owner });
    first += size;
  }
  return ranges;
}

function ownerOf(key: Key, n: number): NodeIndex {
  const base = Math.floor(keyCount / n);
  const extra = keyCount % n;
  const offset = key - keyMin;
  const bigSpan = extra * (base + 1);
  return offset < bigSpan ? Math.floor(offset / (base + 1)) : extra + Math.floor((offset - bigSpan) / base);
}
