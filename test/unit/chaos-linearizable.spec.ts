// The memoized linearizability search against a brute force over every order and every choice of
// indeterminate writes, on small random histories of one key: the two must always agree.
import { expect } from 'chai';
import fc from 'fast-check';
import { checkKeyLinearizable } from '../../tools/chaos/check/linearizable.js';
import type { Op } from '../../tools/chaos/history.js';

interface Small { kind: 'read' | 'write'; at: number; length: number; outcome: 'ok' | 'indeterminate' | 'fail'; read: number }

function toOps(small: Small[]): Op[] {
  return small.map((s, i) => ({
    index: i, client: `c${i}`, key: 1, kind: s.kind, level: 'QUORUM', node: 'replica-1',
    // Reads name a write by position (or absent); writes write their own position.
    value: s.kind === 'write' ? `w${i}` : s.read < 0 || s.read >= small.length ? null : `w${s.read}`,
    stamp: null, invokeMs: s.at, completeMs: s.at + s.length, outcome: s.kind === 'read' && s.outcome !== 'ok' ? 'ok' : s.outcome,
    error: null, phase: 'run',
  }));
}

/** Every subset of the indeterminate writes, every order of what takes part, register semantics. */
function bruteForce(ops: Op[], bounded: boolean): boolean {
  const required = ops.filter((o) => o.outcome === 'ok');
  const optional = ops.filter((o) => o.kind === 'write' && o.outcome === 'indeterminate');
  const end = (o: Op) => (o.outcome === 'ok' || bounded ? o.completeMs : Infinity);
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const chosen = [...required, ...optional.filter((_, i) => mask & (1 << i))];
    if (permutes(chosen, [], end)) return true;
  }
  return false;
}

function permutes(left: Op[], placed: Op[], end: (o: Op) => number): boolean {
  if (left.length === 0) {
    let state: string | null = null;
    for (const o of placed) {
      if (o.kind === 'write') state = o.value;
      else if (o.value !== state) return false;
    }
    return true;
  }
  for (let i = 0; i < left.length; i++) {
    const next = left[i]!;
    // Real time: nothing already placed may have begun after `next` could last take effect.
    if (placed.some((p) => end(next) < p.invokeMs)) continue;
    if (permutes([...left.slice(0, i), ...left.slice(i + 1)], [...placed, next], end)) return true;
  }
  return false;
}

const small = fc.array(fc.record({
  kind: fc.constantFrom<'read' | 'write'>('read', 'write'),
  at: fc.integer({ min: 0, max: 12 }),
  length: fc.integer({ min: 0, max: 6 }),
  outcome: fc.constantFrom<'ok' | 'indeterminate' | 'fail'>('ok', 'ok', 'indeterminate', 'fail'),
  read: fc.integer({ min: -1, max: 6 }),
}), { minLength: 1, maxLength: 6 });

describe('checker: linearizability search agrees with brute force', () => {
  for (const bounded of [false, true]) {
    it(`on random histories of up to 6 operations (indeterminate writes ${bounded ? 'bounded by their deadline' : 'unbounded'})`, () => {
      fc.assert(fc.property(small, (s) => {
        const ops = toOps(s);
        const verdict = checkKeyLinearizable(ops, { boundedIndeterminate: bounded, statesMax: 1_000_000 }).verdict;
        expect(verdict).to.equal(bruteForce(ops, bounded) ? 'linearizable' : 'not linearizable');
      }), { numRuns: 3_000 });
    });
  }
});
