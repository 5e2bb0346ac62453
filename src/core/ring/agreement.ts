// Deciding the next epoch: single-decree Paxos per epoch among the voters of the current ring, pure.
//
// The ring is decided, not gossiped into agreement (the reason Cassandra moved to Transactional
// Cluster Metadata, which decides its epochs with Paxos too). Epoch e+1 is chosen by a MAJORITY of the
// voters of epoch e: the members of its stable ring (joining members vote once the change is done;
// leaving and dead ones until then, so a dead member counts in the denominator). Majority, not all:
// removing or replacing a dead member must be decidable while it is dead, and a slow member must not
// stall the decision. What needs every member is the step barrier (steps.ts), which is progress, not
// decision: a DOWN member blocks a step and is named, it never lets two rings share an epoch.
//
// One change at a time: an acceptor accepts only a ring that is a successor of the one it holds
// (beginChange, advance or abort of it), so no epoch starts a second change while one is in flight.
// Two proposers for the same epoch: Paxos lets one value be chosen; the other proposer learns it
// (from a promise carrying it, or a `decided` answer) and is told which change took the epoch.
//
// Persist before it takes effect: an acceptor's answer to prepare and accept, and a learner's
// adoption of a decided ring, return `persist: true`; the caller makes the new state durable before it
// sends the reply or acts on the ring (the outbox's rule, core/outbox.ts).
import { abort, advance, beginChange, describeChange } from './steps.js';
import type { RingState } from './state.js';

/** Ballots order by round, then proposer name, so two proposers never share one. */
export type Ballot = readonly [round: number, proposer: string];

export function compareBallots(a: Ballot, b: Ballot): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

export interface Accepted { readonly ballot: Ballot; readonly ring: RingState }

/** What an acceptor keeps durable: the newest decided ring it holds, and its votes for the epoch after it. */
export interface AcceptorState {
  readonly ring: RingState;
  readonly promised: Ballot | null;
  readonly accepted: Accepted | null;
}

/** `epoch` is always the epoch being decided (the acceptor's ring epoch + 1). */
export type AgreementMessage =
  | { readonly t: 'prepare'; readonly epoch: number; readonly ballot: Ballot }
  | { readonly t: 'promise'; readonly epoch: number; readonly ballot: Ballot; readonly accepted: Accepted | null }
  | { readonly t: 'accept'; readonly epoch: number; readonly ballot: Ballot; readonly ring: RingState }
  | { readonly t: 'accepted'; readonly epoch: number; readonly ballot: Ballot }
  /** A higher ballot was promised for this epoch. */
  | { readonly t: 'nack'; readonly epoch: number; readonly ballot: Ballot; readonly promised: Ballot }
  /** The proposed ring is not a successor of the acceptor's ring. */
  | { readonly t: 'refused'; readonly epoch: number; readonly ballot: Ballot; readonly reason: string }
  /** The sender holds this decided ring: the answer to a request for an epoch it has passed, and the commit itself. */
  | { readonly t: 'decided'; readonly ring: RingState }
  /** The acceptor's ring is older than the epoch before this one: send it the decided ring first. */
  | { readonly t: 'behind'; readonly epoch: number; readonly have: number };

export interface AcceptorStep { readonly state: AcceptorState; readonly persist: boolean; readonly reply: AgreementMessage | null }

export function newAcceptor(ring: RingState): AcceptorState {
  return { ring, promised: null, accepted: null };
}

/** Who decides the epoch after this ring. */
export function votersOf(ring: RingState): string[] {
  return ring.members.filter((m) => m.state !== 'joining').map((m) => m.name);
}

export function majorityOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function acceptorStep(state: AcceptorState, msg: AgreementMessage): AcceptorStep {
  const keep = (reply: AgreementMessage | null): AcceptorStep => ({ state, persist: false, reply });
  if (msg.t === 'decided') {
    if (msg.ring.epoch <= state.ring.epoch) return keep(null);
    return { state: newAcceptor(msg.ring), persist: true, reply: null };
  }
  if (msg.t !== 'prepare' && msg.t !== 'accept') return keep(null);
  if (msg.epoch <= state.ring.epoch) return keep({ t: 'decided', ring: state.ring });
  if (msg.epoch > state.ring.epoch + 1) return keep({ t: 'behind', epoch: msg.epoch, have: state.ring.epoch });
  if (state.promised !== null && compareBallots(msg.ballot, state.promised) < 0) {
    return keep({ t: 'nack', epoch: msg.epoch, ballot: msg.ballot, promised: state.promised });
  }
  if (msg.t === 'prepare') {
    const same = state.promised !== null && compareBallots(msg.ballot, state.promised) === 0;
    return { state: { ...state, promised: msg.ballot }, persist: !same, reply: { t: 'promise', epoch: msg.epoch, ballot: msg.ballot, accepted: state.accepted } };
  }
  const problem = successorProblem(state.ring, msg.ring);
  if (problem !== null) return keep({ t: 'refused', epoch: msg.epoch, ballot: msg.ballot, reason: problem });
  return {
    state: { ...state, promised: msg.ballot, accepted: { ballot: msg.ballot, ring: msg.ring } },
    persist: true,
    reply: { t: 'accepted', epoch: msg.epoch, ballot: msg.ballot },
  };
}

/** Why `next` can not be the epoch after `prev`, or null: it must be prev's change begun, advanced or aborted. */
export function successorProblem(prev: RingState, next: RingState): string | null {
  if (next.epoch !== prev.epoch + 1) return `epoch ${next.epoch} does not follow ${prev.epoch}`;
  const candidates = [
    ...(prev.change === null && next.change !== null ? [beginChange(prev, next.change.change)] : []),
    advance(prev), abort(prev),
  ];
  const want = canonical(next);
  if (candidates.some((c) => c.ok && canonical(c.value) === want)) return null;
  if (prev.change !== null && next.change !== null && next.change.fromEpoch === next.epoch - 1) {
    return `another change is in flight: ${describeChange(prev.change.change)} at step ${prev.change.step}; one change at a time`;
  }
  return `epoch ${next.epoch} is not a step of the ring at epoch ${prev.epoch}`;
}

/** JSON with sorted keys: two rings built along different paths compare equal when their data is. */
function canonical(x: unknown): string {
  return JSON.stringify(x, (_, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}

export function sameRing(a: RingState, b: RingState): boolean {
  return canonical(a) === canonical(b);
}

export type Outcome =
  | { readonly kind: 'committed'; readonly ring: RingState }
  /** Another proposal took the epoch; the ring decided for it. */
  | { readonly kind: 'lost'; readonly ring: RingState; readonly reason: string }
  /** The ring had moved past the epoch this proposal was based on. */
  | { readonly kind: 'stale'; readonly ring: RingState; readonly reason: string }
  /** A higher ballot is in the way: try again with a higher round (after a random pause, so duels end). */
  | { readonly kind: 'preempted'; readonly promised: Ballot }
  | { readonly kind: 'refused'; readonly reason: string };

export interface Send { readonly to: string; readonly msg: AgreementMessage }

/**
 * One proposer's attempt to make `value` the epoch after `base`. Pure: it is given the answers and
 * returns what to send; the caller retransmits (`pending`) until an outcome.
 */
export class Proposal {
  readonly epoch: number;
  readonly ballot: Ballot;
  readonly voters: readonly string[];
  private phase: 'prepare' | 'accept' | 'done' = 'prepare';
  private readonly promises = new Map<string, Accepted | null>();
  private readonly accepts = new Set<string>();
  private chosen: RingState;
  outcome: Outcome | null = null;

  constructor(readonly base: RingState, readonly value: RingState, proposer: string, round: number) {
    if (value.epoch !== base.epoch + 1) throw new RangeError(`proposal: epoch ${value.epoch} does not follow ${base.epoch}`);
    this.epoch = value.epoch;
    this.ballot = [round, proposer];
    this.voters = votersOf(base);
    this.chosen = value;
  }

  /** The current phase's request to every voter that has not answered it: the first sends and every retransmission. */
  pending(): Send[] {
    if (this.phase === 'done') return [];
    const answered = this.phase === 'prepare' ? this.promises : this.accepts;
    const msg: AgreementMessage = this.phase === 'prepare'
      ? { t: 'prepare', epoch: this.epoch, ballot: this.ballot }
      : { t: 'accept', epoch: this.epoch, ballot: this.ballot, ring: this.chosen };
    return this.voters.filter((v) => !answered.has(v)).map((to) => ({ to, msg }));
  }

  receive(from: string, msg: AgreementMessage): Send[] {
    if (this.phase === 'done' || !this.voters.includes(from)) return [];
    switch (msg.t) {
      case 'decided':
        if (msg.ring.epoch < this.epoch) return [];
        if (msg.ring.epoch > this.epoch) return this.finish({ kind: 'stale', ring: msg.ring, reason: `the ring moved to epoch ${msg.ring.epoch} since the plan (based on epoch ${this.base.epoch})` }, false);
        return this.finish(this.outcomeFor(msg.ring), false);
      case 'behind':
        return [{ to: from, msg: { t: 'decided', ring: this.base } }, ...this.pending().filter((s) => s.to === from)];
      case 'nack':
        return this.mine(msg) ? this.finish({ kind: 'preempted', promised: msg.promised }, false) : [];
      case 'refused':
        return this.mine(msg) ? this.finish({ kind: 'refused', reason: `${from} refused epoch ${this.epoch}: ${msg.reason}` }, false) : [];
      case 'promise':
        if (!this.mine(msg) || this.phase !== 'prepare') return [];
        this.promises.set(from, msg.accepted);
        if (this.promises.size < majorityOf(this.voters.length)) return [];
        this.phase = 'accept';
        // Paxos: a value some acceptor may already have chosen must be carried on, not replaced.
        this.chosen = [...this.promises.values()].reduce<Accepted | null>((best, a) => (a !== null && (best === null || compareBallots(a.ballot, best.ballot) > 0) ? a : best), null)?.ring ?? this.value;
        return this.pending();
      case 'accepted':
        if (!this.mine(msg) || this.phase !== 'accept') return [];
        this.accepts.add(from);
        if (this.accepts.size < majorityOf(this.voters.length)) return [];
        return this.finish(this.outcomeFor(this.chosen), true);
      default:
        return [];
    }
  }

  private mine(msg: { epoch: number; ballot: Ballot }): boolean {
    return msg.epoch === this.epoch && compareBallots(msg.ballot, this.ballot) === 0;
  }

  private outcomeFor(decided: RingState): Outcome {
    if (sameRing(decided, this.value)) return { kind: 'committed', ring: decided };
    const what = decided.change === null ? 'the end of a change' : `${describeChange(decided.change.change)} (step ${decided.change.step})`;
    return { kind: 'lost', ring: decided, reason: `epoch ${this.epoch} was decided for ${what}, not for this proposal` };
  }

  /** Ends the attempt; once decided here, tells every member of the old and the new ring (the commit). */
  private finish(outcome: Outcome, decidedHere: boolean): Send[] {
    this.phase = 'done';
    this.outcome = outcome;
    if (!decidedHere || !('ring' in outcome)) return [];
    const ring = outcome.ring;
    const everyone = new Set([...this.base.members.map((m) => m.name), ...ring.members.map((m) => m.name)]);
    return [...everyone].map((to) => ({ to, msg: { t: 'decided', ring } }));
  }
}
