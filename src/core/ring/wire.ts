// A ring as it travels (agreement messages, heartbeat catch-up) and as it is stored (the ring log):
// its epoch, replication factor, members and change in flight, without the placements. Every
// placement is the equal-range placement of a member list (state.ts), so decoding recomputes both;
// sent as they are, two placements of 64-character names at RF 5 would be some 160 KB, past any
// datagram. Decoding checks everything and accepts only a ring the functions of steps.ts can reach:
// the members' states must be exactly those the change gives them.
import { nodesMax } from '../limits.js';
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
