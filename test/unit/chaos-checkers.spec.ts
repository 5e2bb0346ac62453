// The chaos checkers against crafted histories: each must flag the bad history it exists for and
// accept the good ones next to it (concurrent writes, indeterminate writes, absent values).
import { expect } from 'chai';
import { checkConverged } from '../../tools/chaos/check/converged.js';
import { finalState } from '../../tools/chaos/check/final-state.js';
import { checkInvented } from '../../tools/chaos/check/invented.js';
import { checkKeyLinearizable, checkLinearizable } from '../../tools/chaos/check/linearizable.js';
import { checkLost } from '../../tools/chaos/check/lost.js';
import { checkAppliedOnce } from '../../tools/chaos/check/once.js';
import { checkStale } from '../../tools/chaos/check/stale.js';
import { fromJsonLines, outcomeOf, toJsonLines, type Op, type OpKind, type Outcome } from '../../tools/chaos/history.js';
import type { Stamp } from '../../src/core/types.js';

const rf = 3;
const unbounded = { boundedIndeterminate: false };
const lin = { boundedIndeterminate: false, statesMax: 100_000 };

/** A history builder: times in ms, one key unless given. */
class H {
  readonly ops: Op[] = [];
  private add(kind: OpKind, client: string, value: string | null, invokeMs: number, completeMs: number, outcome: Outcome, extra: Partial<Op> = {}): this {
    this.ops.push({
      index: this.ops.length, client, key: 1, kind, level: kind === 'local' ? 'LOCAL' : 'QUORUM', node: 'replica-1', value, stamp: null,
      invokeMs, completeMs, outcome, error: outcome === 'ok' ? null : outcome === 'fail' ? 'Unavailable' : 'NoResponse', phase: 'run', ...extra,
    });
    return this;
  }
  write(client: string, value: string, at: number, end: number, outcome: Outcome = 'ok', extra: Partial<Op> = {}): this {
    return this.add('write', client, value, at, end, outcome, extra);
  }
  del(client: string, at: number, end: number, outcome: Outcome = 'ok'): this {
    return this.add('delete', client, null, at, end, outcome);
  }
  read(client: string, value: string | null, at: number, end: number, extra: Partial<Op> = {}): this {
    return this.add('read', client, value, at, end, 'ok', extra);
  }
  failedRead(client: string, at: number, end: number): this {
    return this.add('read', client, null, at, end, 'indeterminate');
  }
  local(node: string, value: string | null, stamp: Stamp | null, at: number, extra: Partial<Op> = {}): this {
    return this.add('local', 'final', value, at, at + 1, 'ok', { node, stamp, phase: 'final', ...extra });
  }
  finalRead(value: string | null, at: number): this {
    return this.add('read', 'final', value, at, at + 1, 'ok', { level: 'ALL', phase: 'final' });
  }
}

const replicas = ['replica-1', 'replica-2', 'replica-3'];
const s = (ms: number): Stamp => [ms, 0, 0];

describe('chaos history', () => {
  it('records NoResponse and Timeout as indeterminate, refusals as fail', () => {
    expect(outcomeOf('NoResponse')).to.equal('indeterminate');
    expect(outcomeOf('Timeout')).to.equal('indeterminate');
    for (const k of ['Unavailable', 'Overloaded', 'InvalidRequest']) expect(outcomeOf(k)).to.equal('fail');
  });

  it('reads back what it wrote as JSON lines', () => {
    const h = new H().write('c1', 'a', 0, 1).read('c2', 'a', 2, 3);
    expect(fromJsonLines(toJsonLines(h.ops))).to.deep.equal(h.ops);
  });
});

describe('checker: no invented values', () => {
  it('accepts reads of written values and of absent', () => {
    const h = new H().read('c1', null, 0, 1).write('c1', 'a', 2, 3).read('c2', 'a', 2.5, 4).write('c1', 'b', 5, 9, 'indeterminate').read('c2', 'b', 6, 7);
    expect(checkInvented(h.ops).pass).to.equal(true);
  });

  it('flags a value never written, one read before its write began, and one whose write was refused', () => {
    const never = checkInvented(new H().write('c1', 'a', 0, 1).read('c2', 'zz', 2, 3).ops);
    expect(never.pass).to.equal(false);
    expect(never.problems[0]).to.match(/never written/);
    const early = checkInvented(new H().read('c2', 'a', 0, 1).write('c1', 'a', 2, 3).ops);
    expect(early.problems[0]).to.match(/before its write/);
    const refused = checkInvented(new H().write('c1', 'a', 0, 1, 'fail').read('c2', 'a', 2, 3).ops);
    expect(refused.problems[0]).to.match(/refused/);
  });

  it('flags an invented value in a replica\'s local copy too', () => {
    expect(checkInvented(new H().write('c1', 'a', 0, 1).local('replica-2', 'x', s(5), 10).ops).pass).to.equal(false);
  });
});

describe('checker: W+R>RF reads never stale', () => {
  it('flags a read that began after a newer write was acknowledged and returned the older value', () => {
    const h = new H().write('c1', 'a', 0, 1).write('c1', 'b', 2, 3).read('c2', 'a', 4, 5);
    const r = checkStale(h.ops, rf, unbounded);
    expect(r.pass).to.equal(false);
    expect(r.problems[0]).to.match(/stale/).and.match(/"b"/);
  });

  it('flags a read of absent after an acknowledged write', () => {
    expect(checkStale(new H().write('c1', 'a', 0, 1).read('c2', null, 2, 3).ops, rf, unbounded).pass).to.equal(false);
  });

  it('accepts old values from concurrent writes and from reads that overlapped the newer write', () => {
    // a and b overlap: either may win. The read of a overlaps b's ack.
    const h = new H().write('c1', 'a', 0, 5).write('c2', 'b', 1, 2).read('c3', 'a', 3, 4).read('c3', 'a', 6, 7).write('c1', 'c', 8, 10).read('c2', 'a', 9, 11);
    expect(checkStale(h.ops, rf, unbounded).pass).to.equal(true);
  });

  it('accepts an indeterminate write winning later unless bounded by its deadline', () => {
    const h = new H().write('c1', 'a', 0, 2, 'indeterminate').write('c2', 'b', 3, 4).read('c3', 'a', 5, 6);
    expect(checkStale(h.ops, rf, unbounded).pass).to.equal(true);
    expect(checkStale(h.ops, rf, { boundedIndeterminate: true }).pass).to.equal(false);
  });

  it('holds reads at ONE after writes at ONE to nothing (n/a), but ONE after ALL to the rule', () => {
    const one = new H().write('c1', 'a', 0, 1, 'ok', { level: 'ONE' }).write('c1', 'b', 2, 3, 'ok', { level: 'ONE' }).read('c2', 'a', 4, 5, { level: 'ONE' });
    const r = checkStale(one.ops, rf, unbounded);
    expect(r.pass).to.equal(true);
    expect(r.applicable).to.equal(false);
    const all = new H().write('c1', 'a', 0, 1, 'ok', { level: 'ALL' }).write('c1', 'b', 2, 3, 'ok', { level: 'ALL' }).read('c2', 'a', 4, 5, { level: 'ONE' });
    expect(checkStale(all.ops, rf, unbounded).pass).to.equal(false);
  });

  it('treats a delete as a write of absent', () => {
    expect(checkStale(new H().write('c1', 'a', 0, 1).del('c1', 2, 3).read('c2', 'a', 4, 5).ops, rf, unbounded).pass).to.equal(false);
    expect(checkStale(new H().write('c1', 'a', 0, 1).del('c1', 2, 3).read('c2', null, 4, 5).ops, rf, unbounded).pass).to.equal(true);
  });
});

describe('checker: acknowledged writes never lost', () => {
  const final = (h: H) => finalState(h.ops, [1], () => replicas);

  it('accepts a final state holding the last acknowledged write, or a concurrent or indeterminate one', () => {
    const last = new H().write('c1', 'a', 0, 1).write('c1', 'b', 2, 3).finalRead('b', 20)
      .local('replica-1', 'b', s(2), 21).local('replica-2', 'b', s(2), 21).local('replica-3', 'b', s(2), 21);
    expect(checkLost(last.ops, final(last), unbounded).pass).to.equal(true);
    const concurrent = new H().write('c1', 'a', 0, 5).write('c2', 'b', 1, 2).finalRead('a', 20).local('replica-1', 'a', s(4), 21);
    expect(checkLost(concurrent.ops, final(concurrent), unbounded).pass).to.equal(true);
    const given = new H().write('c1', 'a', 0, 1).write('c1', 'x', 2, 3, 'indeterminate').finalRead('x', 20).local('replica-1', 'x', s(2), 21);
    expect(checkLost(given.ops, final(given), unbounded).pass).to.equal(true);
  });

  it('flags a final value older than an acknowledged write, at ALL or on every replica', () => {
    const atAll = new H().write('c1', 'a', 0, 1).write('c1', 'b', 2, 3).finalRead('a', 20).local('replica-1', 'b', s(2), 21);
    const r = checkLost(atAll.ops, final(atAll), unbounded);
    expect(r.pass).to.equal(false);
    expect(r.problems[0]).to.match(/"b".*is lost/);
    const everywhere = new H().write('c1', 'a', 0, 1).write('c1', 'b', 2, 3)
      .local('replica-1', 'a', s(0), 21).local('replica-2', 'a', s(0), 21).local('replica-3', null, null, 21);
    expect(checkLost(everywhere.ops, final(everywhere), unbounded).pass).to.equal(false);
  });

  it('flags a key that cannot be read at all after healing', () => {
    const h = new H().write('c1', 'a', 0, 1).failedRead('final', 20, 21);
    h.ops.at(-1)!.phase = 'final';
    expect(checkLost(h.ops, final(h), unbounded).problems[0]).to.match(/could not be read/);
  });
});

describe('checker: every replica converged', () => {
  it('accepts identical copies and flags differing, missing or unasked ones', () => {
    const same = new H().write('c1', 'a', 0, 1).local('replica-1', 'a', s(1), 9).local('replica-2', 'a', s(1), 9).local('replica-3', 'a', s(1), 9);
    expect(checkConverged(finalState(same.ops, [1], () => replicas)).pass).to.equal(true);
    const differ = new H().write('c1', 'a', 0, 1).local('replica-1', 'a', s(1), 9).local('replica-2', null, null, 9).local('replica-3', 'a', s(1), 9);
    const r = checkConverged(finalState(differ.ops, [1], () => replicas));
    expect(r.pass).to.equal(false);
    expect(r.problems[0]).to.match(/differ/);
    const missing = new H().local('replica-1', null, null, 9).local('replica-2', null, null, 9);
    expect(checkConverged(finalState(missing.ops, [1], () => replicas)).problems[0]).to.match(/replica-3 not read/);
  });

  it('uses the last poll of each replica: a replica that caught up counts as converged', () => {
    const h = new H().local('replica-1', 'a', s(1), 9).local('replica-2', null, null, 9).local('replica-3', 'a', s(1), 9).local('replica-2', 'a', s(1), 12);
    expect(checkConverged(finalState(h.ops, [1], () => replicas)).pass).to.equal(true);
  });
});

describe('checker: writes applied once', () => {
  it('accepts a value seen with its one stamp, and flags one seen with two', () => {
    const once = new H().write('c1', 'a', 0, 1, 'ok', { stamp: s(1) }).read('c2', 'a', 2, 3, { stamp: s(1) }).local('replica-2', 'a', s(1), 9);
    expect(checkAppliedOnce(once.ops).pass).to.equal(true);
    const twice = new H().write('c1', 'a', 0, 10, 'ok', { stamp: s(8) }).read('c2', 'a', 2, 3, { stamp: s(1) }).read('c2', 'a', 11, 12, { stamp: s(8) });
    const r = checkAppliedOnce(twice.ops);
    expect(r.pass).to.equal(false);
    expect(r.problems[0]).to.match(/stamped 2 times/);
  });
});

describe('checker: linearizable per key', () => {
  it('accepts sequential and overlapping histories that have an order', () => {
    expect(checkKeyLinearizable(new H().read('c1', null, 0, 1).write('c1', 'a', 2, 3).read('c2', 'a', 4, 5).ops, lin).verdict).to.equal('linearizable');
    // Concurrent writes a and b, with reads that see b then a: a took effect after b.
    const overlap = new H().write('c1', 'a', 0, 10).write('c2', 'b', 1, 3).read('c3', 'b', 4, 5).read('c3', 'a', 11, 12);
    expect(checkKeyLinearizable(overlap.ops, lin).verdict).to.equal('linearizable');
  });

  it('flags a read that goes back in time (new then old)', () => {
    const h = new H().write('c1', 'a', 0, 1).write('c2', 'b', 2, 10).read('c3', 'b', 3, 4).read('c3', 'a', 5, 6);
    const v = checkKeyLinearizable(h.ops, lin);
    expect(v.verdict).to.equal('not linearizable');
    expect(v.why).to.match(/stuck at/);
  });

  it('lets an indeterminate write take effect late, or never, unless bounded', () => {
    const late = new H().write('c1', 'x', 0, 2, 'indeterminate').write('c2', 'b', 3, 4).read('c3', 'b', 5, 6).read('c3', 'x', 7, 8);
    expect(checkKeyLinearizable(late.ops, lin).verdict).to.equal('linearizable');
    expect(checkKeyLinearizable(late.ops, { ...lin, boundedIndeterminate: true }).verdict).to.equal('not linearizable');
    const never = new H().write('c1', 'a', 0, 1).write('c1', 'x', 2, 3, 'indeterminate').read('c2', 'a', 4, 5);
    expect(checkKeyLinearizable(never.ops, lin).verdict).to.equal('linearizable');
  });

  it('flags an indeterminate write seen, then unseen, then seen again', () => {
    const h = new H().write('c1', 'a', 0, 1).write('c2', 'x', 2, 3, 'indeterminate').read('c3', 'x', 4, 5).read('c3', 'a', 6, 7);
    expect(checkKeyLinearizable(h.ops, lin).verdict).to.equal('not linearizable');
  });

  it('ignores refused writes and reads that failed', () => {
    const h = new H().write('c1', 'a', 0, 1).write('c2', 'z', 2, 3, 'fail').failedRead('c3', 4, 5).read('c3', 'a', 6, 7);
    expect(checkKeyLinearizable(h.ops, lin).verdict).to.equal('linearizable');
  });

  it('reports unknown past the state bound instead of searching on', () => {
    // Many overlapping indeterminate writes, each read once, in an order no search can shortcut.
    const h = new H();
    for (let i = 0; i < 14; i++) h.write(`c${i}`, `v${i}`, i, 1000, 'indeterminate');
    for (let i = 0; i < 14; i++) h.read('r', `v${(i * 5) % 14}`, 1001 + 2 * i, 1002 + 2 * i);
    h.read('r', 'never-written', 2000, 2001);
    const v = checkKeyLinearizable(h.ops, { ...lin, statesMax: 50 });
    expect(v.verdict).to.equal('unknown');
  });

  it('searches a long concurrent history quickly thanks to memoization', () => {
    // Six clients, 3,000 operations, all overlapping their neighbours: linearizable by construction.
    const h = new H();
    let value = 'none';
    for (let t = 0; t < 500; t++) {
      for (let c = 0; c < 6; c++) {
        const at = t * 10 + c;
        if (c % 2 === 0) {
          value = `v${t}.${c}`;
          h.write(`c${c}`, value, at, at + 1.5);
        } else h.read(`c${c}`, value, at + 1.6, at + 2);
      }
    }
    const v = checkKeyLinearizable(h.ops, lin);
    expect(v.verdict).to.equal('linearizable');
  });

  it('reports a figure over keys, and n/a when the levels do not overlap', () => {
    const two = new H().write('c1', 'a', 0, 1).read('c2', 'a', 2, 3);
    two.ops.push({ ...two.ops[0]!, index: 2, key: 2, value: 'b' }, { ...two.ops[1]!, index: 3, key: 2, value: 'a' });
    const r = checkLinearizable(two.ops, rf, lin);
    expect(r.figure).to.match(/^1\/2 keys linearizable/);
    expect(r.pass).to.equal(false);
    const one = new H().write('c1', 'a', 0, 1, 'ok', { level: 'ONE' }).read('c2', 'a', 2, 3, { level: 'ONE' });
    expect(checkLinearizable(one.ops, rf, lin).applicable).to.equal(false);
  });

  it('still reports the figure, without failing, when the cluster does not promise it', () => {
    const back = new H().write('c1', 'a', 0, 1).write('c2', 'b', 2, 10).read('c3', 'b', 3, 4).read('c3', 'a', 5, 6);
    const r = checkLinearizable(back.ops, rf, { ...lin, notPromised: 'no read repair' });
    expect(r.pass).to.equal(true);
    expect(r.applicable).to.equal(false);
    expect(r.figure).to.match(/^0\/1 keys linearizable \(not promised: no read repair\)/);
    expect(r.problems).to.have.length(1);
  });
});
