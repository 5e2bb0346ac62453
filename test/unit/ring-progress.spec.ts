import { expect } from 'chai';
import fc from 'fast-check';
import { copiesInFlight, readiness, readinessText, type ChangeProgress } from '../../src/core/ring/progress.js';
import { firstRing, type MemberSpec, type RingChange, type RingState } from '../../src/core/ring/state.js';
import { advance, beginChange } from '../../src/core/ring/steps.js';

const specs = (n: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i }));
const newcomer: MemberSpec = { name: 'replica-5', host: '127.0.0.1', port: 7105 };

function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) expect.fail(r.error);
  return r.value;
}

/** Progress where every member holds `epoch`, nobody has pulled or dropped anything, nobody is DOWN. */
function allAt(ring: RingState, epoch: number, more: Partial<ChangeProgress> = {}): ChangeProgress {
  return { memberEpochs: new Map(ring.members.map((m) => [m.name, epoch])), pulled: new Map(), dropped: new Set(), down: new Set(), ...more };
}

/** Every slot each new replica pulls, except `missing` slots of the first copy. */
function pulledAllBut(ring: RingState, missing: number): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  copiesInFlight(ring).forEach((c, i) => {
    const set = out.get(c.to) ?? new Set<number>();
    let skipped = 0;
    for (const r of c.slots) for (let s = r.first; s <= r.last; s++) if (i > 0 || skipped++ >= missing) set.add(s);
    out.set(c.to, set);
  });
  return out;
}

describe('ring change progress (src/core/ring/progress.ts)', () => {
  const ring0 = firstRing(specs(4), 3);
  const join: RingChange = { kind: 'join', member: newcomer };

  it('the barrier: the next epoch waits for every member to hold this one, naming who is behind and who is DOWN', () => {
    const at1 = must(beginChange(ring0, join));
    const behind = readiness(at1, { ...allAt(at1, 1), memberEpochs: new Map([['replica-1', 1], ['replica-2', 1], ['replica-3', 1], ['replica-4', 0]]), down: new Set(['replica-4']) });
    expect(behind).to.deep.equal({ ready: false, waitingOn: [{ name: 'replica-4', down: true, reason: 'to hold epoch 1 (at epoch 0)' }, { name: 'replica-5', down: false, reason: 'to hold epoch 1 (not heard from)' }] });
    expect(readinessText(at1, behind)).to.equal('join replica-5 (127.0.0.1:7105), epoch 1 write-both-read-old: waiting on replica-4 (DOWN) to hold epoch 1 (at epoch 0); replica-5 to hold epoch 1 (not heard from)');
    expect(readiness(at1, allAt(at1, 1))).to.deep.equal({ ready: true });
  });

  it('a member being removed is dead by definition and is not waited for', () => {
    const removing = must(beginChange(ring0, { kind: 'remove', dead: 'replica-3' }));
    const epochs = new Map([['replica-1', 1], ['replica-2', 1], ['replica-4', 1]]);
    expect(readiness(removing, { ...allAt(removing, 1), memberEpochs: epochs })).to.deep.equal({ ready: true });
  });

  it('streaming is not done while any new replica lacks one slot of its plan; it is once all are pulled', () => {
    const changes = fc.constantFrom<RingChange>(join, { kind: 'leave', name: 'replica-1' }, { kind: 'replace', dead: 'replica-2', member: newcomer }, { kind: 'remove', dead: 'replica-4' });
    fc.assert(fc.property(changes, fc.integer({ min: 1, max: 5 }), (change, missing) => {
      const streaming = must(advance(must(beginChange(ring0, change))));
      expect(streaming.change!.step).to.equal('streaming');
      const notYet = readiness(streaming, allAt(streaming, streaming.epoch, { pulled: pulledAllBut(streaming, missing) }));
      expect(notYet.ready).to.equal(false);
      expect(readinessText(streaming, notYet)).to.match(/waiting on replica-\d to pull slots [0-9., ]+ from replica-\d/);
      expect(readiness(streaming, allAt(streaming, streaming.epoch, { pulled: pulledAllBut(streaming, 0) }))).to.deep.equal({ ready: true });
    }));
  });

  it('a change driven by its readiness alone goes through every step to the new ring, and cleanup waits for live old replicas only', () => {
    let ring = must(beginChange(ring0, join));
    const steps: string[] = [];
    for (let guard = 0; ring.change !== null && guard < 10; guard++) {
      steps.push(ring.change.step);
      const progress = allAt(ring, ring.epoch, { pulled: pulledAllBut(ring, 0), down: new Set(['replica-2']) });
      if (ring.change.step === 'cleanup') {
        const r = readiness(ring, progress);
        // replica-2 (DOWN after persisting the epoch) drops its copies when it comes back: not waited for.
        expect(r.ready ? [] : r.waitingOn.map((w) => w.name).sort()).to.deep.equal(['replica-1', 'replica-3', 'replica-4']);
        expect(readiness(ring, { ...progress, dropped: new Set(['replica-1', 'replica-3', 'replica-4']) })).to.deep.equal({ ready: true });
      } else {
        expect(readiness(ring, progress)).to.deep.equal({ ready: true });
      }
      ring = must(advance(ring));
    }
    expect(steps).to.deep.equal(['write-both-read-old', 'streaming', 'write-both-read-new', 'cleanup']);
    expect(ring.members.map((m) => m.name)).to.deep.equal(['replica-1', 'replica-2', 'replica-3', 'replica-4', 'replica-5']);
  });
});
