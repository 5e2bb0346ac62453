// When the change in flight may take its next step, and what it waits on (for the driver that
// proposes the next epoch, and for `kvc ring status`). Pure: given what members have reported.
//
// The barrier: epoch e+1 is proposed only once every member has persisted epoch e, so coordinators
// in use span at most two adjacent epochs, which is what steps.ts's overlap argument needs. A DOWN
// member blocks it and is named (Cassandra's consistent range movement, made visible); a member
// being removed or replaced is dead by definition and is not waited for. On top of the barrier,
// write-both-read-new waits for every new replica to have pulled all its slots, and the stable new
// ring for every live old replica to have dropped what it no longer holds.
import { copiesOf, type Copy } from './plan.js';
import { formatRanges, ranges, type MemberState, type RingState } from './state.js';
import { describeChange } from './steps.js';

export interface ChangeProgress {
  /** The newest epoch each member has persisted, as its heartbeats report. */
  readonly memberEpochs: ReadonlyMap<string, number>;
  /** Per new replica, the slots it has finished pulling from its sources (kept across restarts). */
  readonly pulled: ReadonlyMap<string, ReadonlySet<number>>;
  /** Old replicas that have dropped the copies they no longer hold. */
  readonly dropped: ReadonlySet<string>;
  readonly down: ReadonlySet<string>;
}

export interface Waiting { readonly name: string; readonly down: boolean; readonly reason: string }

export type Readiness =
  | { readonly ready: true }
  | { readonly ready: false; readonly waitingOn: readonly Waiting[] };

/** The copies the change in flight streams (plan.ts's, from the ring's own member states). */
export function copiesInFlight(ring: RingState): Copy[] {
  if (ring.change === null) return [];
  const roles = new Map<string, MemberState>(ring.members.map((m) => [m.name, m.state]));
  return copiesOf(ring.placement, ring.change.next.placement, roles);
}

/** May the next epoch of the change in flight (or of its abort) be proposed? If not, who is waited on. */
export function readiness(ring: RingState, progress: ChangeProgress): Readiness {
  const c = ring.change;
  if (c === null) return { ready: false, waitingOn: [] };
  const waiting: Waiting[] = [];
  const wait = (name: string, reason: string) => waiting.push({ name, down: progress.down.has(name), reason });
  for (const m of ring.members) {
    if (m.state === 'removing') continue;
    const at = progress.memberEpochs.get(m.name);
    if (at === undefined || at < ring.epoch) wait(m.name, `to hold epoch ${ring.epoch} (${at === undefined ? 'not heard from' : `at epoch ${at}`})`);
  }
  if (!c.aborting && c.step === 'streaming') {
    for (const copy of copiesInFlight(ring)) {
      const done = progress.pulled.get(copy.to) ?? new Set<number>();
      const left = ranges((s) => copy.slots.some((r) => r.first <= s && s <= r.last) && !done.has(s));
      if (left.length > 0) {
        const count = left.reduce((n, r) => n + r.last - r.first + 1, 0);
        wait(copy.to, `to pull slots ${formatRanges(left)} from ${copy.from.join(' + ')} (${copy.slotCount - count} of ${copy.slotCount} done)`);
      }
    }
  }
  if (!c.aborting && c.step === 'cleanup') {
    const drops = new Set(ring.members.filter((m) => m.state !== 'removing' && !progress.down.has(m.name)).map((m) => m.name)
      .filter((name) => ring.placement.some((old, s) => old.includes(name) && !c.next.placement[s]!.includes(name))));
    for (const name of drops) if (!progress.dropped.has(name)) wait(name, 'to drop the copies it no longer holds');
  }
  return waiting.length === 0 ? { ready: true } : { ready: false, waitingOn: waiting };
}

/** One line for status: "join replica-5, epoch 2 streaming: waiting on replica-4 (DOWN) to hold epoch 2 …". */
export function readinessText(ring: RingState, r: Readiness): string {
  if (ring.change === null) return `epoch ${ring.epoch}: no change in flight`;
  const head = `${describeChange(ring.change.change)}${ring.change.aborting ? ' (aborting)' : ''}, epoch ${ring.epoch} ${ring.change.step}`;
  if (r.ready) return `${head}: ready for the next step`;
  return `${head}: waiting on ${r.waitingOn.map((w) => `${w.name}${w.down ? ' (DOWN)' : ''} ${w.reason}`).join('; ')}`;
}
