// Receiver side of reliable requests between replicas: which (peer, generation, id) requests were
// seen, so a retransmission is answered again and never applied twice. Replica writes and hint
// batches have bodiless acks, so a seen request needs one small entry (a number and a flag), not a
// kept reply: at thousands of writes a second these entries are most of what a replica allocates.
import type { NodeIndex } from './types.js';

export type Seen = 'new' | 'pending' | 'done';

export class PeerDedup {
  private readonly byPeer = new Map<NodeIndex, { gen: number; done: Map<number, boolean> }>();

  constructor(private readonly perPeerMax: number) {
    if (!(perPeerMax >= 1)) throw new RangeError(`dedup: perPeerMax ${perPeerMax} must be at least 1`);
  }

  /** An older generation's request (from before the peer restarted) is never cached, always 'new'. */
  seen(peer: NodeIndex, gen: number, id: number): Seen {
    const p = this.byPeer.get(peer);
    if (p === undefined || p.gen !== gen) return 'new';
    const done = p.done.get(id);
    return done === undefined ? 'new' : done ? 'done' : 'pending';
  }

  /** The request is being carried out (its record is on the way to disk). */
  start(peer: NodeIndex, gen: number, id: number): void {
    this.mark(peer, gen, id, false);
  }

  /** The request was carried out and acked. */
  finish(peer: NodeIndex, gen: number, id: number): void {
    this.mark(peer, gen, id, true);
  }

  get size(): number {
    let n = 0;
    for (const p of this.byPeer.values()) n += p.done.size;
    return n;
  }

  private mark(peer: NodeIndex, gen: number, id: number, done: boolean): void {
    let p = this.byPeer.get(peer);
    if (p !== undefined && gen < p.gen) return;
    if (p === undefined || gen > p.gen) this.byPeer.set(peer, (p = { gen, done: new Map() }));
    p.done.set(id, done);
    if (p.done.size > this.perPeerMax) {
      const oldest = p.done.keys().next();
      if (!oldest.done) p.done.delete(oldest.value);
    }
  }
}
