// The ring as data: an epoch, the members in ring order, and which members hold each of the 256
// slots. Epoch 0 is the ring nodes.toml describes; every later epoch is one agreed step of a change
// (see steps.ts). Pure values, no IO: the same ring is computed, shown, planned against and agreed on.
import { nodeNameBytesMax, nodesMax, slotCount } from '../limits.js';

/** The ring's unit of placement and movement, the key space's slots (keyspace.ts maps keys onto them). */
export { slotCount };

/**
 * A member's part in the change in flight. normal: in the ring before and after. joining: in the
 * new ring only (a new member, or the one replacing a dead member): takes writes, serves no reads
 * until its slots are streamed. leaving: in the old ring only and alive: the source of what it
 * hands over. removing: in the old ring only and dead (removed or replaced): sends nothing.
 */
export const memberStates = ['normal', 'joining', 'leaving', 'removing'] as const;
export type MemberState = (typeof memberStates)[number];

export interface MemberSpec { readonly name: string; readonly host: string; readonly port: number }
export interface Member extends MemberSpec { readonly state: MemberState }

/** Per slot (0..255), the names of its replicas: the owner first, then the next RF-1 clockwise. */
export type Placement = readonly (readonly string[])[];

/** A one-node change of the ring, as an operator asks for it. */
export type RingChange =
  | { readonly kind: 'join'; readonly member: MemberSpec }
  | { readonly kind: 'leave'; readonly name: string }
  | { readonly kind: 'replace'; readonly dead: string; readonly member: MemberSpec }
  | { readonly kind: 'remove'; readonly dead: string };

export const stepNames = ['write-both-read-old', 'streaming', 'write-both-read-new', 'cleanup'] as const;
export type StepName = (typeof stepNames)[number];

/** The change in flight: where it is, and the ring it leads to. */
export interface ChangeInFlight {
  readonly change: RingChange;
  readonly step: StepName;
  /** The members of the ring after the change, in ring order, and their placement. */
  readonly next: { readonly members: readonly MemberSpec[]; readonly placement: Placement };
  /** Going back to the old ring (steps.ts abort): the steps run in reverse. */
  readonly aborting: boolean;
  /** The epoch of the stable ring the change started from. */
  readonly fromEpoch: number;
}

export interface RingState {
  readonly epoch: number;
  readonly replicationFactor: number;
  /**
   * The members of the stable (old) ring in ring order, then those joining. Their order is the
   * placement's: the placement is always equalPlacement of the stable members.
   */
  readonly members: readonly Member[];
  /** The stable ring's placement: during a change, the old one (the new one is change.next). */
  readonly placement: Placement;
  readonly change: ChangeInFlight | null;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };
export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const refused = <T = never>(error: string): Result<T> => ({ ok: false, error });

/** Epoch 0: the ring of nodes.toml, every member normal, the slots in equal ranges in file order. */
export function firstRing(nodes: readonly MemberSpec[], replicationFactor: number): RingState {
  const problem = membersProblem(nodes, replicationFactor);
  if (problem !== null) throw new RangeError(`ring: ${problem}`);
  return {
    epoch: 0,
    replicationFactor,
    members: nodes.map((n) => ({ name: n.name, host: n.host, port: n.port, state: 'normal' })),
    placement: equalPlacement(nodes.map((n) => n.name), replicationFactor),
    change: null,
  };
}

/**
 * The byte-ordered ring of today (src/core/partitioner.ts): N ranges as equal as integer division
 * allows, the first (256 mod N) one slot longer, in member order; a slot's owner, then the next RF-1.
 */
export function equalPlacement(names: readonly string[], replicationFactor: number): Placement {
  const n = names.length;
  const base = Math.floor(slotCount / n);
  const extra = slotCount % n;
  const placement: string[][] = [];
  for (let owner = 0; owner < n; owner++) {
    const size = base + (owner < extra ? 1 : 0);
    const replicas = Array.from({ length: replicationFactor }, (_, j) => names[(owner + j) % n]!);
    for (let i = 0; i < size; i++) placement.push(replicas);
  }
  return placement;
}

export interface SlotRange { readonly first: number; readonly last: number }

/** The slots a member holds a copy of, as ranges, and those it is the owner (first replica) of. */
export function holdings(placement: Placement, name: string): { held: SlotRange[]; owned: SlotRange[]; slotsHeld: number } {
  const held = ranges((s) => placement[s]!.includes(name));
  const owned = ranges((s) => placement[s]![0] === name);
  return { held, owned, slotsHeld: held.reduce((n, r) => n + r.last - r.first + 1, 0) };
}

/** Consecutive slots for which `member` holds, as ranges. */
export function ranges(member: (slot: number) => boolean): SlotRange[] {
  const out: SlotRange[] = [];
  for (let s = 0; s < slotCount; s++) {
    if (!member(s)) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.last === s - 1) out[out.length - 1] = { first: last.first, last: s };
    else out.push({ first: s, last: s });
  }
  return out;
}

export function formatRanges(rs: readonly SlotRange[]): string {
  return rs.length === 0 ? 'none' : rs.map((r) => (r.first === r.last ? `${r.first}` : `${r.first}..${r.last}`)).join(', ');
}

const namePattern = /^[A-Za-z0-9_.-]+$/;

/** Why a member can not be in a ring, or null. */
export function memberProblem(m: MemberSpec): string | null {
  if (!namePattern.test(m.name) || new TextEncoder().encode(m.name).length > nodeNameBytesMax) {
    return `name ${JSON.stringify(m.name)}: expected 1..${nodeNameBytesMax} characters from A-Z a-z 0-9 _ . -`;
  }
  if (m.host.length === 0 || m.host.length > 253) return `${m.name}: host ${JSON.stringify(m.host)}: expected an IPv4 address or a hostname`;
  if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65_535) return `${m.name}: port ${m.port}: expected an integer in 1..65535`;
  return null;
}

/** Why these members can not form a ring at this RF (names and addresses unique, 1..nodesMax, RF ≤ N), or null. */
export function membersProblem(nodes: readonly MemberSpec[], replicationFactor: number): string | null {
  if (nodes.length < 1 || nodes.length > nodesMax) return `${nodes.length} members: expected 1..${nodesMax}`;
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > nodes.length) {
    return `replication factor ${replicationFactor} needs at least ${replicationFactor} members, the ring would have ${nodes.length}`;
  }
  const names = new Set<string>();
  const addresses = new Map<string, string>();
  for (const m of nodes) {
    const problem = memberProblem(m);
    if (problem !== null) return problem;
    if (names.has(m.name)) return `${m.name} is a member already`;
    names.add(m.name);
    const address = `${m.host}:${m.port}`;
    const other = addresses.get(address);
    if (other !== undefined) return `${m.name}: address ${address} is ${other}'s`;
    addresses.set(address, m.name);
  }
  return null;
}

export function memberNamed(ring: RingState, name: string): Member | undefined {
  return ring.members.find((m) => m.name === name);
}
