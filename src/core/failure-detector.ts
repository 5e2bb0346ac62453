// Heartbeat failure detector: a peer unheard for downAfterMs is DOWN; its next heartbeat brings it
// back UP. A heartbeat with a newer generation means the peer restarted.
import type { NodeIndex } from './types.js';

export interface PeerView {
  up: boolean;
  lastHeardMs: number;
  /** The peer's generation (its start time), once a heartbeat from it has been seen. */
  generation: number | null;
}

/** What a heartbeat changed, so the node knows to deliver hints and what to log. */
export type HeartbeatOutcome = 'stale' | 'alive' | 'up' | 'restarted' | 'first-contact';

export class FailureDetector {
  private readonly peers: PeerView[];

  constructor(nodeCount: number, readonly self: NodeIndex, readonly downAfterMs: number, startMs: number) {
    // Peers start UP, as if just heard: a fresh cluster serves at once, and a peer that never
    // speaks is DOWN after downAfterMs like any other.
    this.peers = Array.from({ length: nodeCount }, () => ({ up: true, lastHeardMs: startMs, generation: null }));
  }

  isUp(node: NodeIndex): boolean {
    return node === this.self || this.view(node).up;
  }

  view(node: NodeIndex): PeerView {
    const v = this.peers[node];
    if (v === undefined) throw new RangeError(`failure detector: no node ${node}`);
    return v;
  }

  heartbeat(from: NodeIndex, generation: number, nowMs: number): HeartbeatOutcome {
    const v = this.view(from);
    if (v.generation !== null && generation < v.generation) return 'stale';
    const firstContact = v.generation === null;
    const restarted = !firstContact && generation > (v.generation as number);
    const wasDown = !v.up;
    v.generation = generation;
    v.lastHeardMs = nowMs;
    v.up = true;
    if (restarted) return 'restarted';
    if (wasDown) return 'up';
    if (firstContact) return 'first-contact';
    return 'alive';
  }

  /** Marks silent peers DOWN; returns the ones that just went DOWN. */
  expire(nowMs: number): NodeIndex[] {
    const wentDown: NodeIndex[] = [];
    this.peers.forEach((v, node) => {
      if (node !== this.self && v.up && nowMs - v.lastHeardMs > this.downAfterMs) {
        v.up = false;
        wentDown.push(node);
      }
    });
    return wentDown;
  }
}
