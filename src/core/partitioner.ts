// The ring: slots 0..255 split into N contiguous ranges, one per replica in nodes.toml order. A
// slot's first replica owns its range; the next RF-1 clockwise hold copies. Keys reach a slot
// through the key space's partitioner (keyspace.ts): byte-ordered, a key is its slot (the
// original ByteOrderedPartitioner); hashed, murmur3 picks it.
import { byteOrdered, type KeySpace, type Slot } from './keyspace.js';
import { slotCount } from './limits.js';
import type { Key, NodeIndex } from './types.js';

/** Slots first..last (inclusive), owned by `owner`. */
export interface Range { readonly first: Slot; readonly last: Slot; readonly owner: NodeIndex }

export class Ring {
  readonly ranges: readonly Range[];
  private readonly replicasBySlot: readonly (readonly NodeIndex[])[];

  constructor(readonly nodeCount: number, readonly replicationFactor: number, readonly keySpace: KeySpace = byteOrdered) {
    if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > slotCount) throw new RangeError(`ring: node count ${nodeCount} outside 1..${slotCount}`);
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > nodeCount) {
      throw new RangeError(`ring: replication factor ${replicationFactor} outside 1..${nodeCount}`);
    }
    this.ranges = splitRanges(nodeCount);
    this.replicasBySlot = Array.from({ length: slotCount }, (_, slot) => {
      const owner = ownerOf(slot, nodeCount);
      return Array.from({ length: replicationFactor }, (_, j) => (owner + j) % nodeCount);
    });
  }

  /** The slot's owner first, then the next RF-1 replicas clockwise. */
  replicasForSlot(slot: Slot): readonly NodeIndex[] {
    const set = this.replicasBySlot[slot];
    if (set === undefined) throw new RangeError(`ring: slot ${slot} outside 0..${slotCount - 1}`);
    return set;
  }

  /** The key's slot (through the partitioner). */
  slotOf(key: Key): Slot {
    return this.keySpace.slotOf(key);
  }

  /** The replicas of the key's slot. */
  replicasFor(key: Key): readonly NodeIndex[] {
    return this.replicasForSlot(this.keySpace.slotOf(key));
  }

  /** Does this node hold a copy of the key? */
  holds(node: NodeIndex, key: Key): boolean {
    return this.replicasFor(key).includes(node);
  }

  holdsSlot(node: NodeIndex, slot: Slot): boolean {
    return this.replicasForSlot(slot).includes(node);
  }
}

/** N ranges as equal as integer division allows: the first (slotCount mod N) ranges get one slot more. */
function splitRanges(n: number): Range[] {
  const base = Math.floor(slotCount / n);
  const extra = slotCount % n;
  const ranges: Range[] = [];
  let first = 0;
  for (let owner = 0; owner < n; owner++) {
    const size = base + (owner < extra ? 1 : 0);
    ranges.push({ first, last: first + size - 1, owner });
    first += size;
  }
  return ranges;
}

function ownerOf(slot: Slot, n: number): NodeIndex {
  const base = Math.floor(slotCount / n);
  const extra = slotCount % n;
  const bigSpan = extra * (base + 1);
  return slot < bigSpan ? Math.floor(slot / (base + 1)) : extra + Math.floor((slot - bigSpan) / base);
}
