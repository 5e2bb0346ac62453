// Reliability above UDP, sender side: every request gets an id; the reply with that id is the ack.
// Unanswered requests are retransmitted with exponential backoff and jitter until their deadline;
// the first wait follows the peer's measured round trip, so a busy peer is not flooded with copies.
import { peerRequestsInFlightMax, retriesMax, retryCeilingMs, retryFirstMs, retryMinMs } from './limits.js';
import type { PeerReply, PeerRequest } from './messages.js';
import type { Random } from './prng.js';
import { RttEstimator } from './rtt.js';
import type { NodeIndex } from './types.js';

export interface Outbound {
  readonly id: number;
  readonly to: NodeIndex;
  readonly msg: PeerRequest;
  readonly deadlineMs: number;
  readonly sentAtMs: number;
  attempts: number;
  nextSendMs: number;
  readonly onReply: (reply: PeerReply) => void;
  readonly onGiveUp: () => void;
  /** Called with the attempt number on each retransmission (a traced request records it). */
  readonly onResend: ((attempt: number) => void) | undefined;
}

export interface Due {
  retransmit: Outbound[];
  expired: Outbound[];
}

export class RequestTracker {
  private nextId = 1;
  private readonly open = new Map<number, Outbound>();
  /** Round trip per peer, from replies to first attempts only. */
  private readonly rtt = new Map<NodeIndex, RttEstimator>();

  constructor(private readonly random: Random) {}

  get size(): number {
    return this.open.size;
  }

  hasRoom(n = 1): boolean {
    return this.open.size + n <= peerRequestsInFlightMax;
  }

  /** Registers a request; `retransmits` is false for the loopback to this node, which never loses it. */
  register(
    to: NodeIndex,
    build: (id: number) => PeerRequest,
    nowMs: number,
    deadlineMs: number,
    retransmits: boolean,
    onReply: (reply: PeerReply) => void,
    onGiveUp: () => void = () => {},
    onResend?: (attempt: number) => void,
  ): PeerRequest {
    const id = this.nextId++;
    const msg = build(id);
    const nextSendMs = retransmits ? nowMs + this.backoffMs(to, 0) : Infinity;
    this.open.set(id, { id, to, msg, deadlineMs, sentAtMs: nowMs, attempts: 1, nextSendMs, onReply, onGiveUp, onResend });
    return msg;
  }

  /** The open request this reply answers (from the node it was sent to), now closed. */
  settle(id: number, from: NodeIndex, nowMs: number): Outbound | undefined {
    const out = this.open.get(id);
    if (out === undefined || out.to !== from) return undefined;
    this.open.delete(id);
    // Karn's rule: a reply to a retransmitted request says nothing certain about the round trip.
    if (out.attempts === 1 && out.nextSendMs !== Infinity) this.sampleRtt(from, nowMs - out.sentAtMs);
    return out;
  }

  private sampleRtt(peer: NodeIndex, sampleMs: number): void {
    let est = this.rtt.get(peer);
    if (est === undefined) this.rtt.set(peer, (est = new RttEstimator(retryFirstMs, retryMinMs, retryCeilingMs)));
    est.sample(sampleMs);
  }

  /** The peer's smoothed round trip in ms, once one was measured (the state view shows it). */
  rttMs(peer: NodeIndex): number | null {
    return this.rtt.get(peer)?.smoothedMs() ?? null;
  }

  /** The peer's retransmission timeout before backoff. */
  rtoMs(peer: NodeIndex): number {
    return this.rtt.get(peer)?.timeoutMs() ?? retryFirstMs;
  }

  /** Requests to send again now, and requests past their deadline or retries (closed). */
  due(nowMs: number): Due {
    const retransmit: Outbound[] = [];
    const expired: Outbound[] = [];
    for (const out of this.open.values()) {
      if (nowMs >= out.deadlineMs || (out.attempts > retriesMax && nowMs >= out.nextSendMs)) {
        expired.push(out);
      } else if (nowMs >= out.nextSendMs) {
        out.nextSendMs = nowMs + this.backoffMs(out.to, out.attempts);
        out.attempts++;
        retransmit.push(out);
      }
    }
    for (const out of expired) this.open.delete(out.id);
    return { retransmit, expired };
  }

  /** Never earlier than the timeout, up to half again later, so retries from many requests spread out. */
  private backoffMs(peer: NodeIndex, attempt: number): number {
    const base = Math.min(retryCeilingMs, this.rtoMs(peer) * 2 ** attempt);
    return Math.max(1, Math.round(base * (1 + 0.5 * this.random())));
  }
}
