// Where a key lives at the ring's current epoch, as the node's parts look it up: the coordinator
// (read set, write set and its ack groups), the replica side (is a write or read for me?), hints,
// read repair and anti-entropy. One table per epoch, made when the ring is adopted, so a request
// looks its slot up and allocates nothing. The ring names its members (ring/state.ts); the node
// numbers its peers (NodeIndex, the order of its peer table): the table holds the numbers.
//
// At epoch 0 (the ring of nodes.toml) this places every key exactly as partitioner.ts's Ring does
// (test/unit/placement.spec.ts checks every N <= 8 and RF <= N, with both partitioners).
import type { KeySpace, Slot } from './keyspace.js';
import { slotCount } from './limits.js';
import type { RingState } from './ring/state.js';
import { slotTable } from './ring/steps.js';
import type { Key, NodeIndex } from './types.js';

/** A slot's replicas at one epoch, by peer index: reads go to `read`; writes to `write.to`, acked by the level within each of `write.groups`. */
export interface SlotPlacement {
  readonly read: readonly NodeIndex[];
  readonly write: { readonly to: readonly NodeIndex[]; readonly groups: readonly (readonly NodeIndex[])[] };
}

/** Consecutive slots with the same read replicas, for status. */
export interface PlacedRange { readonly first: Slot; readonly last: Slot; readonly replicas: readonly NodeIndex[] }

export class Placement {
  readonly epoch: number;
  readonly nodeCount: number;
  readonly ranges: readonly PlacedRange[];
  private readonly table: readonly SlotPlacement[];
  /** Per slot, per peer index: does that peer take its writes (a replica of the slot, old or new)? */
  private readonly writtenTo: readonly Uint8Array[];

  /**
   * `peers`: the node's peer table, names by NodeIndex. Every member of the ring must be in it (a
   * member this node cannot address would silently miss its writes): RangeError otherwise.
   */
  constructor(readonly ring: RingState, readonly keySpace: KeySpace, peers: readonly string[]) {
    const index = new Map(peers.map((name, i) => [name, i]));
    const indexOf = (name: string): NodeIndex => {
      const i = index.get(name);
      if (i === undefined) throw new RangeError(`placement: ring member ${name} (epoch ${ring.epoch}) is not one of this node's peers (${peers.join(', ')})`);
      return i;
    };
    for (const m of ring.members) indexOf(m.name);
    this.epoch = ring.epoch;
    this.nodeCount = peers.length;
    // Rings share their slot arrays (equalPlacement repeats one per range): translate each once.
    const translated = new Map<readonly string[], readonly NodeIndex[]>();
    const of = (names: readonly string[]) => {
      let out = translated.get(names);
      if (out === undefined) { out = Object.freeze(names.map(indexOf)); translated.set(names, out); }
      return out;
    };
    this.table = slotTable(ring).map((s) => Object.freeze({
      read: of(s.read), write: Object.freeze({ to: of(s.write.to), groups: Object.freeze(s.write.groups.map(of)) }),
    }));
    this.writtenTo = this.table.map((s) => {
      const row = new Uint8Array(peers.length);
      for (const r of s.write.to) row[r] = 1;
      return row;
    });
    const ranges: PlacedRange[] = [];
    for (let slot = 0; slot < slotCount; slot++) {
      const read = this.table[slot]!.read;
      const last = ranges[ranges.length - 1];
      if (last !== undefined && sameList(last.replicas, read)) ranges[ranges.length - 1] = { ...last, last: slot };
      else ranges.push({ first: slot, last: slot, replicas: read });
    }
    this.ranges = ranges;
  }

  slotOf(key: Key): Slot {
    return this.keySpace.slotOf(key);
  }

  forSlot(slot: Slot): SlotPlacement {
    const s = this.table[slot];
    if (s === undefined) throw new RangeError(`placement: slot ${slot} outside 0..${slotCount - 1}`);
    return s;
  }

  forKey(key: Key): SlotPlacement {
    return this.forSlot(this.keySpace.slotOf(key));
  }

  /** The key's read replicas: its owner first, then the next RF-1 (outside a change, also its write set). */
  replicasFor(key: Key): readonly NodeIndex[] {
    return this.forKey(key).read;
  }

  replicasForSlot(slot: Slot): readonly NodeIndex[] {
    return this.forSlot(slot).read;
  }

  /** Does this peer take the slot's writes (and so hold its copies, hints for it and anti-entropy rounds on it)? */
  holdsSlot(node: NodeIndex, slot: Slot): boolean {
    const row = this.writtenTo[slot];
    if (row === undefined) throw new RangeError(`placement: slot ${slot} outside 0..${slotCount - 1}`);
    return row[node] === 1;
  }

  holds(node: NodeIndex, key: Key): boolean {
    return this.holdsSlot(node, this.keySpace.slotOf(key));
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}
