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

  /**
   * Forgets every request still being carried out: their records were refused by a full disk, so
   * a retransmission must append again (one still on its way gets a second, harmless record).
   */
  forgetPending(): void {
    for (const p of this.byPeer.values()) for (const [id, done] of p.done) if (!done) p.done.delete(id);
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

/**
 * Coordinator side of client requests: the answers to client requests, each kept until that
 * request's own deadline (the coordinator's clock), so a retransmitted or replayed datagram is
 * answered again until then and refused as expired after, never run twice. An entry still within
 * its deadline is never evicted: a full cache refuses new requests instead (hasRoom).
 */
export class ClientAnswers<V> {
  private readonly entries = new Map<string, { value: V; keepUntilMs: number }>();

  constructor(readonly sizeMax: number) {
    if (!(sizeMax >= 1)) throw new RangeError(`dedup: sizeMax ${sizeMax} must be at least 1`);
  }

  get(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: string, value: V, keepUntilMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, keepUntilMs });
  }

  /**
   * Forgets answers whose deadline has passed. Entries are kept in arrival order and deadlines
   * mostly follow it; one long deadline among short ones only delays the sweep behind it (the
   * cache refuses too early, never forgets too early).
   */
  sweep(nowMs: number): void {
    for (const [key, e] of this.entries) {
      if (e.keepUntilMs >= nowMs) break;
      this.entries.delete(key);
    }
  }

  /** Room for `more` answers once the expired ones are gone. */
  hasRoom(nowMs: number, more: number): boolean {
    if (this.entries.size + more <= this.sizeMax) return true;
    this.sweep(nowMs);
    return this.entries.size + more <= this.sizeMax;
  }

  get size(): number {
    return this.entries.size;
  }
}
