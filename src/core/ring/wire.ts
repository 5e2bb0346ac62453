// A ring as it travels (agreement messages, heartbeat catch-up) and as it is stored (the ring log):
// its epoch, replication factor, members and change in flight, without the placements. Every
// placement is the equal-range placement of a member list (state.ts), so decoding recomputes both;
// sent as they are, two placements of 64-character names at RF 5 would be some 160 KB, past any
// datagram. Decoding checks everything and accepts only a ring the functions of steps.ts can reach:
// the members' states must be exactly those the change gives them.
import { nodeNameBytesMax, nodesMax } from '../limits.js';
import { compareBallots, type AcceptorState, type Accepted, type AgreementMessage, type Ballot } from './agreement.js';
import {
  equalPlacement, memberStates, membersProblem, ok, refused, stepNames, type Member, type MemberSpec, type MemberState, type Result,
  type RingChange, type RingState, type StepName,
} from './state.js';
import { membersAfter } from './steps.js';

export type MemberWire = [name: string, host: string, port: number, state: MemberState];

export interface RingWire {
  epoch: number;
  rf: number;
  members: MemberWire[];
  change: { change: RingChange; step: StepName; aborting: boolean; fromEpoch: number } | null;
}

export function encodeRing(ring: RingState): RingWire {
  const c = ring.change;
  return {
    epoch: ring.epoch,
    rf: ring.replicationFactor,
    members: ring.members.map((m) => [m.name, m.host, m.port, m.state]),
    change: c === null ? null : { change: c.change, step: c.step, aborting: c.aborting, fromEpoch: c.fromEpoch },
  };
}

class Invalid extends Error {}
function fail(reason: string): never { throw new Invalid(reason); }

/** A ring from untrusted input, or why it is not one. */
export function decodeRing(x: unknown): Result<RingState> {
  try {
    return ok(decode(x));
  } catch (e) {
    if (e instanceof Invalid) return refused(`ring: ${e.message}`);
    throw e;
  }
}

function decode(x: unknown): RingState {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail('expected an object');
  const o = x as Record<string, unknown>;
  const epoch = uint(o.epoch, 'epoch', Number.MAX_SAFE_INTEGER);
  const rf = uint(o.rf, 'rf', nodesMax);
  if (!Array.isArray(o.members) || o.members.length > nodesMax + 1) fail(`members: expected a list of at most ${nodesMax + 1}`);
  const members = o.members.map((m: unknown, i: number): Member => {
    if (!Array.isArray(m) || m.length !== 4) fail(`members[${i}]: expected [name, host, port, state]`);
    const [name, host, port, state] = m as unknown[];
    if (typeof name !== 'string' || typeof host !== 'string') fail(`members[${i}]: name and host must be strings`);
    if (!memberStates.includes(state as MemberState)) fail(`members[${i}].state: expected one of ${memberStates.join(', ')}, got ${JSON.stringify(state)}`);
    return { name, host, port: uint(port, `members[${i}].port`, 65_535), state: state as MemberState };
  });
  const stable = members.filter((m) => m.state !== 'joining');
  const problem = membersProblem(stable, rf);
  if (problem !== null) fail(problem);
  const stableRing: RingState = {
    epoch, replicationFactor: rf, change: null,
    members: stable.map((m) => ({ ...m, state: 'normal' })), placement: equalPlacement(stable.map((m) => m.name), rf),
  };
  if (o.change === null) {
    const odd = members.find((m) => m.state !== 'normal');
    if (odd !== undefined) fail(`${odd.name} is ${odd.state} with no change in flight`);
    return stableRing;
  }
  const c = record(o.change, 'change');
  const change = decodeChange(c.change);
  if (!stepNames.includes(c.step as StepName)) fail(`change.step: expected one of ${stepNames.join(', ')}, got ${JSON.stringify(c.step)}`);
  const step = c.step as StepName;
  if (typeof c.aborting !== 'boolean') fail('change.aborting: expected true or false');
  if (c.aborting && step !== 'write-both-read-old') fail(`change: an abort runs through write-both-read-old only, not ${step}`);
  const fromEpoch = uint(c.fromEpoch, 'change.fromEpoch', epoch - 1);
  const after = membersAfter(stableRing, change);
  if (!after.ok) fail(after.error);
  const want = after.value.during;
  if (want.length !== members.length || want.some((m, i) => !sameMember(m, members[i]!))) {
    fail(`members do not match the change in flight (${want.map((m) => `${m.name} ${m.state}`).join(', ')})`);
  }
  return {
    epoch, replicationFactor: rf, members, placement: stableRing.placement,
    change: { change, step, aborting: c.aborting, fromEpoch, next: { members: after.value.next, placement: equalPlacement(after.value.next.map((m) => m.name), rf) } },
  };
}

function decodeChange(x: unknown): RingChange {
  const c = record(x, 'change.change');
  const name = (field: string): string => (typeof c[field] === 'string' ? c[field] : fail(`change.change.${field}: expected a string`));
  const member = (): MemberSpec => {
    const m = record(c.member, 'change.change.member');
    if (typeof m.name !== 'string' || typeof m.host !== 'string') fail('change.change.member: name and host must be strings');
    return { name: m.name, host: m.host, port: uint(m.port, 'change.change.member.port', 65_535) };
  };
  switch (c.kind) {
    case 'join': return { kind: 'join', member: member() };
    case 'leave': return { kind: 'leave', name: name('name') };
    case 'replace': return { kind: 'replace', dead: name('dead'), member: member() };
    case 'remove': return { kind: 'remove', dead: name('dead') };
    default: return fail(`change.change.kind: expected join, leave, replace or remove, got ${JSON.stringify(c.kind)}`);
  }
}

function sameMember(a: Member, b: Member): boolean {
  return a.name === b.name && a.host === b.host && a.port === b.port && a.state === b.state;
}

function record(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(`${what}: expected an object`);
  return x as Record<string, unknown>;
}

function uint(v: unknown, what: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${what}: expected an integer in 0..${max}, got ${JSON.stringify(v)}`);
  return v;
}

// ---- the acceptor's durable state (the ring log record, log-record.ts) ---------------------------

export type BallotWire = [round: number, proposer: string];

/** What a replica keeps of the ring: the decided ring it holds, and its promise and vote for the next epoch. */
export interface AcceptorWire {
  ring: RingWire;
  promised: BallotWire | null;
  accepted: { ballot: BallotWire; ring: RingWire } | null;
}

export function encodeAcceptor(state: AcceptorState): AcceptorWire {
  return {
    ring: encodeRing(state.ring),
    promised: state.promised === null ? null : [state.promised[0], state.promised[1]],
    accepted: state.accepted === null ? null : { ballot: [state.accepted.ballot[0], state.accepted.ballot[1]], ring: encodeRing(state.accepted.ring) },
  };
}

/** An acceptor's state from untrusted input (a log record), or why it is not one. */
export function decodeAcceptor(x: unknown): Result<AcceptorState> {
  try {
    const o = record(x, 'acceptor');
    const ring = decodeRing(o.ring);
    if (!ring.ok) fail(ring.error);
    const promised = o.promised === null ? null : ballot(o.promised, 'promised');
    let accepted: Accepted | null = null;
    if (o.accepted !== null) {
      const a = record(o.accepted, 'accepted');
      const next = decodeRing(a.ring);
      if (!next.ok) fail(`accepted ${next.error}`);
      if (next.value.epoch !== ring.value.epoch + 1) fail(`accepted ring: epoch ${next.value.epoch} does not follow the held epoch ${ring.value.epoch}`);
      accepted = { ballot: ballot(a.ballot, 'accepted.ballot'), ring: next.value };
      if (promised === null || compareBallots(accepted.ballot, promised) > 0) fail('accepted: a vote above the promise');
    }
    return ok({ ring: ring.value, promised, accepted });
  } catch (e) {
    if (e instanceof Invalid) return refused(`acceptor: ${e.message}`);
    throw e;
  }
}

function ballot(x: unknown, what: string): Ballot {
  if (!Array.isArray(x) || x.length !== 2) fail(`${what}: expected [round, proposer]`);
  const [round, proposer] = x as unknown[];
  if (typeof proposer !== 'string' || proposer.length === 0 || proposer.length > nodeNameBytesMax) fail(`${what}: proposer: expected a member name`);
  return [uint(round, `${what} round`, Number.MAX_SAFE_INTEGER), proposer];
}

// ---- the agreement's messages (messages.ts carries them as `ring`) --------------------------------

/** An agreement message as it travels: rings in their wire form, ballots as pairs. */
export type AgreementWire =
  | { k: 'prepare'; epoch: number; ballot: BallotWire }
  | { k: 'promise'; epoch: number; ballot: BallotWire; accepted: { ballot: BallotWire; ring: RingWire } | null }
  | { k: 'accept'; epoch: number; ballot: BallotWire; ring: RingWire }
  | { k: 'accepted'; epoch: number; ballot: BallotWire }
  | { k: 'nack'; epoch: number; ballot: BallotWire; promised: BallotWire }
  | { k: 'refused'; epoch: number; ballot: BallotWire; reason: string }
  | { k: 'decided'; ring: RingWire }
  | { k: 'behind'; epoch: number; have: number };

/** The longest reason a `refused` answer carries. */
const refusedReasonCharsMax = 512;

const ballotWire = (b: Ballot): BallotWire => [b[0], b[1]];

export function encodeAgreement(m: AgreementMessage): AgreementWire {
  switch (m.t) {
    case 'prepare': return { k: 'prepare', epoch: m.epoch, ballot: ballotWire(m.ballot) };
    case 'promise': return { k: 'promise', epoch: m.epoch, ballot: ballotWire(m.ballot), accepted: m.accepted === null ? null : { ballot: ballotWire(m.accepted.ballot), ring: encodeRing(m.accepted.ring) } };
    case 'accept': return { k: 'accept', epoch: m.epoch, ballot: ballotWire(m.ballot), ring: encodeRing(m.ring) };
    case 'accepted': return { k: 'accepted', epoch: m.epoch, ballot: ballotWire(m.ballot) };
    case 'nack': return { k: 'nack', epoch: m.epoch, ballot: ballotWire(m.ballot), promised: ballotWire(m.promised) };
    case 'refused': return { k: 'refused', epoch: m.epoch, ballot: ballotWire(m.ballot), reason: m.reason.slice(0, refusedReasonCharsMax) };
    case 'decided': return { k: 'decided', ring: encodeRing(m.ring) };
    case 'behind': return { k: 'behind', epoch: m.epoch, have: m.have };
  }
}

/** An agreement message from untrusted input, or why it is not one; every ring in it is checked whole (decodeRing). */
export function decodeAgreement(x: unknown): Result<AgreementMessage> {
  try {
    const o = record(x, 'agreement');
    const epoch = (): number => uint(o.epoch, 'epoch', Number.MAX_SAFE_INTEGER);
    const ringOf = (y: unknown, what: string): RingState => {
      const r = decodeRing(y);
      if (!r.ok) fail(`${what}: ${r.error}`);
      return r.value;
    };
    switch (o.k) {
      case 'prepare': return ok({ t: 'prepare', epoch: epoch(), ballot: ballot(o.ballot, 'ballot') });
      case 'promise': {
        let accepted: Accepted | null = null;
        if (o.accepted !== null) {
          const a = record(o.accepted, 'accepted');
          accepted = { ballot: ballot(a.ballot, 'accepted.ballot'), ring: ringOf(a.ring, 'accepted') };
        }
        return ok({ t: 'promise', epoch: epoch(), ballot: ballot(o.ballot, 'ballot'), accepted });
      }
      case 'accept': return ok({ t: 'accept', epoch: epoch(), ballot: ballot(o.ballot, 'ballot'), ring: ringOf(o.ring, 'accept') });
      case 'accepted': return ok({ t: 'accepted', epoch: epoch(), ballot: ballot(o.ballot, 'ballot') });
      case 'nack': return ok({ t: 'nack', epoch: epoch(), ballot: ballot(o.ballot, 'ballot'), promised: ballot(o.promised, 'promised') });
      case 'refused': {
        if (typeof o.reason !== 'string' || o.reason.length > refusedReasonCharsMax) fail(`reason: expected a string of at most ${refusedReasonCharsMax} characters`);
        return ok({ t: 'refused', epoch: epoch(), ballot: ballot(o.ballot, 'ballot'), reason: o.reason });
      }
      case 'decided': return ok({ t: 'decided', ring: ringOf(o.ring, 'decided') });
      case 'behind': return ok({ t: 'behind', epoch: epoch(), have: uint(o.have, 'have', Number.MAX_SAFE_INTEGER) });
      default: return fail(`k: unknown agreement message ${JSON.stringify(o.k)}`);
    }
  } catch (e) {
    if (e instanceof Invalid) return refused(`agreement: ${e.message}`);
    throw e;
  }
}
