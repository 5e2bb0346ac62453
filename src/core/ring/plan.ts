// What a ring change would do, before anything moves (Riak's `cluster plan`): the slots each member
// holds before and after, the copies to stream from where to where, what would make a commit refuse,
// and the epoch the plan is based on. Pure: the same ring, change and liveness give the same plan.
//
// Sources are strict (CASSANDRA-2434, Cassandra 2.1's consistent range movement): a new replica of a
// slot pulls it from the replica that loses the slot, never from any live one, so a write acked at a
// level by the old replicas is on the new ones at the same count. Where the replica that loses the
// slot is dead (remove, replace), the new one pulls from every surviving old replica, and merges by
// stamp: every write with a copy on a survivor is found (every QUORUM write, for one dead member);
// a write acked at ONE whose only copy was on the dead member is not.
import {
  equalPlacement, formatRanges, holdings, ok, ranges, slotCount, stepNames, type MemberState, type Placement, type Result, type RingChange,
  type RingState, type SlotRange, type StepName,
} from './state.js';
import { describeChange, membersAfter, stepRules } from './steps.js';

export interface Holding { readonly slotsHeld: number; readonly owned: readonly SlotRange[]; readonly held: readonly SlotRange[] }

export interface MemberPlan {
  readonly name: string;
  /** Its part in the change: normal, joining, leaving or removing. */
  readonly role: MemberState;
  readonly down: boolean;
  /** null: not a member before (a joiner). */
  readonly before: Holding | null;
  /** null: not a member after (it leaves), or no ring can be made (see warnings). */
  readonly after: Holding | null;
}

/** Slots one member pulls from these sources (one source: the strict one; several: every survivor). */
export interface Copy { readonly to: string; readonly from: readonly string[]; readonly slots: readonly SlotRange[]; readonly slotCount: number }

export interface Warning { readonly message: string; readonly blocksCommit: boolean }

export interface Plan {
  readonly basedOnEpoch: number;
  readonly change: RingChange;
  readonly description: string;
  readonly replicationFactor: number;
  readonly members: readonly MemberPlan[];
  readonly copies: readonly Copy[];
  /** Slot copies streamed in all (one per slot and new replica). */
  readonly copiesTotal: number;
  /** Slot copies old replicas drop at cleanup. */
  readonly dropsTotal: number;
  readonly warnings: readonly Warning[];
  /** The epochs the change takes, from basedOnEpoch + 1, and what each waits for. */
  readonly steps: readonly { readonly epoch: number; readonly step: StepName | 'stable'; readonly waitsFor: string }[];
}

/** The plan of a change against this ring; `down`: members the replica asked sees DOWN. Refused for a change that can not be made. */
export function plan(ring: RingState, change: RingChange, down: ReadonlySet<string>): Result<Plan> {
  const stable = ring.members.filter((m) => m.state !== 'joining');
  const warnings: Warning[] = [];
  const block = (message: string) => warnings.push({ message, blocksCommit: true });
  const description = describeChange(change);
  if (ring.change !== null) block(`another change is in flight (${describeChange(ring.change.change)} at step ${ring.change.step}): one change at a time`);

  const shrinks = change.kind === 'leave' || change.kind === 'remove';
  const leavingName = change.kind === 'leave' ? change.name : change.kind === 'join' ? null : change.dead;
  let next: Placement | null = null;
  let roles: ReadonlyMap<string, MemberState>;
  if (shrinks && stable.length - 1 < ring.replicationFactor && stable.some((m) => m.name === leavingName)) {
    block(`replication factor ${ring.replicationFactor} is above the ${stable.length - 1} members the ring would have: every slot needs ${ring.replicationFactor} distinct replicas; join a member first`);
    roles = new Map(stable.map((m) => [m.name, m.name === leavingName ? (change.kind === 'leave' ? 'leaving' : 'removing') : 'normal']));
  } else {
    const after = membersAfter({ ...ring, members: stable.map((m) => ({ ...m, state: 'normal' })), change: null }, change);
    if (!after.ok) return after;
    next = equalPlacement(after.value.next.map((m) => m.name), ring.replicationFactor);
    roles = new Map(after.value.during.map((m) => [m.name, m.state]));
  }

  const members: MemberPlan[] = [...roles].map(([name, role]) => ({
    name, role, down: down.has(name),
    before: role === 'joining' ? null : holdings(ring.placement, name),
    after: next === null || role === 'leaving' || role === 'removing' ? null : holdings(next, name),
  }));
  const copies = next === null ? [] : copiesOf(ring.placement, next, roles);
  for (const m of members) livenessWarnings(m, copies, block);
  if (next !== null && ring.replicationFactor > 1 && (change.kind === 'remove' || change.kind === 'replace')) {
    warnings.push({
      message: `${change.dead}'s copies are pulled from every surviving replica of each slot: a write acknowledged at ONE whose only copy was on ${change.dead} is lost`,
      blocksCommit: false,
    });
  }
  for (const c of copies) if (c.from.length === 0) block(`${c.to} has no source for slots ${formatRanges(c.slots)}: their only replica was ${leavingName}; that data is lost`);

  const copiesTotal = copies.reduce((n, c) => n + c.slotCount, 0);
  const dropsTotal = next === null ? 0 : members.reduce((n, m) => n + dropped(m), 0);
  return ok({
    basedOnEpoch: ring.epoch, change, description, replicationFactor: ring.replicationFactor, members, copies, copiesTotal,
    dropsTotal, warnings,
    steps: [...stepNames.map((step, i) => ({ epoch: ring.epoch + 1 + i, step, waitsFor: stepRules[step].entry })),
      { epoch: ring.epoch + 1 + stepNames.length, step: 'stable' as const, waitsFor: 'every old replica has dropped the copies it no longer holds' }],
  });
}

/**
 * Per slot, the replicas lost and gained, paired in order: each gained one pulls from the one it
 * replaces (strict), or from every surviving old replica where that one is dead. Grouped by (to, from).
 */
export function copiesOf(before: Placement, after: Placement, roles: ReadonlyMap<string, MemberState>): Copy[] {
  const bySourceAndTarget = new Map<string, { to: string; from: string[]; slots: Set<number> }>();
  for (let slot = 0; slot < slotCount; slot++) {
    const o = before[slot]!;
    const n = after[slot]!;
    const lost = o.filter((r) => !n.includes(r));
    const gained = n.filter((r) => !o.includes(r));
    gained.forEach((to, i) => {
      const loser = lost[i]!;
      const from = roles.get(loser) === 'removing' ? o.filter((r) => roles.get(r) !== 'removing') : [loser];
      const key = JSON.stringify([to, from]);
      const entry = bySourceAndTarget.get(key) ?? { to, from, slots: new Set<number>() };
      entry.slots.add(slot);
      bySourceAndTarget.set(key, entry);
    });
  }
  return [...bySourceAndTarget.values()].map((e) => ({ to: e.to, from: e.from, slots: ranges((s) => e.slots.has(s)), slotCount: e.slots.size }));
}

/** What a DOWN member, or an UP one the change takes for dead, does to a commit. */
function livenessWarnings(m: MemberPlan, copies: readonly Copy[], block: (message: string) => void): void {
  if (m.role === 'removing') {
    if (!m.down) block(`${m.name} is UP: remove and replace are for a dead member; use leave, which streams its copies from it`);
    return;
  }
  if (!m.down) return;
  if (m.role === 'leaving') {
    block(`${m.name} is DOWN: a leaving member is the source of its copies; if it is gone for good, use remove or replace`);
    return;
  }
  const sourceOf = copies.filter((c) => c.from.includes(m.name));
  const targetOf = copies.filter((c) => c.to === m.name);
  const parts = [
    ...(sourceOf.length > 0 ? [`the source of slots ${formatRanges(union(sourceOf))}`] : []),
    ...(targetOf.length > 0 ? [`to receive slots ${formatRanges(union(targetOf))}`] : []),
    'to hold each step\'s epoch before the next',
  ];
  block(`${m.name} is DOWN: needed ${parts.join(', ')}`);
}

function union(copies: readonly Copy[]): SlotRange[] {
  return ranges((s) => copies.some((c) => c.slots.some((r) => r.first <= s && s <= r.last)));
}

/** Slot copies a member holds before and not after: what it drops at cleanup. */
function dropped(m: MemberPlan): number {
  return (m.before?.slotsHeld ?? 0) - (m.after === null ? 0 : m.after.held.reduce((n, r) => n + sharedSlots(r, m.before?.held ?? []), 0));
}

function sharedSlots(r: SlotRange, others: readonly SlotRange[]): number {
  return others.reduce((n, o) => n + Math.max(0, Math.min(r.last, o.last) - Math.max(r.first, o.first) + 1), 0);
}
