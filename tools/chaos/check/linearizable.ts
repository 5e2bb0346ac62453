// Per-key linearizability of a register, searched as Wing & Gong do with Lowe's memoization: find
// an order of the operations that respects real time (an operation that completed before another
// began comes first) in which every read returns the last write before it. Each acknowledged
// operation must appear once; an indeterminate write may appear (any time after its invocation, or
// until its deadline when bounded) or not at all. Configurations already explored, as (operations
// placed, register value), are remembered so no configuration is searched twice. Past statesMax a
// key is reported "unknown" instead of searching on.
import type { Key } from '../../../src/core/types.js';
import { byKey, describeOp, writesValue, type Op } from '../history.js';
import { notApplicable, result, type CheckResult } from './result.js';
import { overlaps } from './stale.js';
import type { TimingOptions } from './versions.js';

export interface LinearizabilityOptions extends TimingOptions {
  /** Configurations explored per key before giving up with "unknown". */
  statesMax: number;
  /**
   * Why the cluster does not promise linearizable keys, when it does not (e.g. no blocking read
   * repair: a read may see a write in flight and the next read not yet). The figure is still reported.
   */
  notPromised?: string;
}

export type Verdict = 'linearizable' | 'not linearizable' | 'unknown';

export interface KeyVerdict {
  key: Key;
  verdict: Verdict;
  /** Operations that took part (acknowledged ones and indeterminate writes). */
  ops: number;
  states: number;
  /** For a key found not linearizable: where the deepest attempt got stuck. */
  why?: string;
}

interface Entry {
  op: Op;
  invokeMs: number;
  /** Latest moment it may take effect. */
  endMs: number;
  read: boolean;
  /** Must it appear (acknowledged)? */
  required: boolean;
  /** Id of the value written or read (0: absent). */
  value: number;
}

export function checkKeyLinearizable(keyOps: readonly Op[], o: LinearizabilityOptions): KeyVerdict {
  const key = keyOps[0]?.key ?? -1;
  const valueIds = new Map<string | null, number>([[null, 0]]);
  const idOf = (v: string | null) => valueIds.get(v) ?? valueIds.set(v, valueIds.size).get(v)!;
  const entries: Entry[] = [];
  for (const op of keyOps) {
    if (writesValue(op)) {
      if (op.outcome === 'fail') continue;
      const ok = op.outcome === 'ok';
      entries.push({ op, invokeMs: op.invokeMs, endMs: ok || o.boundedIndeterminate ? op.completeMs : Infinity, read: false, required: ok, value: idOf(op.value) });
    } else if (op.kind === 'read' && op.outcome === 'ok') {
      entries.push({ op, invokeMs: op.invokeMs, endMs: op.completeMs, read: true, required: true, value: idOf(op.value) });
    }
  }
  entries.sort((a, b) => a.invokeMs - b.invokeMs || a.op.index - b.op.index);
  const n = entries.length;
  // Reads not yet placed, per value: an optional write whose value no unplaced read wants is useless.
  const readsWanting = new Int32Array(valueIds.size);
  for (const e of entries) if (e.read) readsWanting[e.value]!++;
  const done = new Uint8Array(n);
  let requiredLeft = entries.filter((e) => e.required).length;
  let state = 0;
  let maxInvokePlaced = -Infinity;

  // An entry that no longer matters: placed, or an optional write nobody will read, or one whose
  // deadline passed before something already placed began (it can no longer take effect).
  const settled = (i: number) => {
    const e = entries[i]!;
    return done[i] === 1 || (!e.required && (readsWanting[e.value] === 0 || e.endMs < maxInvokePlaced));
  };

  // first: entries before it are all settled; end: entries from it on began after some unplaced
  // acknowledged entry ended, so none of them is placed yet (that minimum only grows).
  interface Frame { first: number; end: number; candidates: number[]; next: number; via: number; prevState: number; prevMaxInvoke: number }

  const frameAt = (fromFirst: number, via: number, prevState: number, prevMaxInvoke: number): Frame => {
    let first = fromFirst;
    while (first < n && settled(first)) first++;
    // An entry may go next only if it began before every unplaced acknowledged entry ended.
    let minEnd = Infinity;
    for (let i = first; i < n && entries[i]!.invokeMs <= minEnd; i++) {
      if (done[i] === 0 && entries[i]!.required) minEnd = Math.min(minEnd, entries[i]!.endMs);
    }
    const matchingReads: number[] = [];
    const others: number[] = [];
    let end = first;
    for (; end < n && entries[end]!.invokeMs <= minEnd; end++) {
      const i = end;
      if (settled(i)) continue;
      const e = entries[i]!;
      if (e.read) {
        if (e.value === state) matchingReads.push(i);
      } else others.push(i);
    }
    // Reads that fit the current value first: they change nothing and usually lead straight on.
    return { first, end, candidates: [...matchingReads, ...others], next: 0, via, prevState, prevMaxInvoke };
  };

  const place = (i: number) => {
    const e = entries[i]!;
    done[i] = 1;
    if (e.read) readsWanting[e.value]!--;
    else state = e.value;
    if (e.required) requiredLeft--;
    maxInvokePlaced = Math.max(maxInvokePlaced, e.invokeMs);
  };
  const unplace = (i: number, prevState: number, prevMaxInvoke: number) => {
    const e = entries[i]!;
    done[i] = 0;
    if (e.read) readsWanting[e.value]!++;
    if (e.required) requiredLeft++;
    state = prevState;
    maxInvokePlaced = prevMaxInvoke;
  };
  const memoKey = (f: Frame) => {
    const placed: number[] = [];
    for (let i = f.first; i < f.end; i++) if (done[i] === 1) placed.push(i - f.first);
    return `${state}|${f.first}|${maxInvokePlaced}|${placed.join(',')}`;
  };

  const seen = new Set<string>();
  let states = 0;
  let deepest = { placed: -1, blocking: '' };
  const stack: Frame[] = [frameAt(0, -1, 0, -Infinity)];
  const requiredTotal = requiredLeft;
  while (stack.length > 0) {
    if (requiredLeft === 0) return { key, verdict: 'linearizable', ops: n, states };
    const top = stack.at(-1)!;
    if (top.next >= top.candidates.length) {
      if (requiredTotal - requiredLeft > deepest.placed) deepest = { placed: requiredTotal - requiredLeft, blocking: blockingOp(entries, done, top.first) };
      stack.pop();
      if (top.via >= 0) unplace(top.via, top.prevState, top.prevMaxInvoke);
      continue;
    }
    const i = top.candidates[top.next++]!;
    const e = entries[i]!;
    if (e.read && e.value !== state) continue;
    const prevState = state;
    const prevMaxInvoke = maxInvokePlaced;
    place(i);
    const child = frameAt(top.first, i, prevState, prevMaxInvoke);
    const k = memoKey(child);
    if (seen.has(k)) {
      unplace(i, prevState, prevMaxInvoke);
      continue;
    }
    seen.add(k);
    if (++states > o.statesMax) return { key, verdict: 'unknown', ops: n, states };
    stack.push(child);
  }
  return {
    key, verdict: 'not linearizable', ops: n, states,
    why: `at most ${deepest.placed} of ${requiredTotal} acknowledged operations can be ordered; stuck at ${deepest.blocking}`,
  };
}

/** The unplaced acknowledged entry that ends first: the one no order could fit in. */
function blockingOp(entries: readonly Entry[], done: Uint8Array, first: number): string {
  let best: Entry | undefined;
  for (let i = first; i < entries.length; i++) {
    const e = entries[i]!;
    if (done[i] === 0 && e.required && (best === undefined || e.endMs < best.endMs)) best = e;
    if (best !== undefined && e.invokeMs > best.endMs) break;
  }
  return best === undefined ? '(nothing)' : describeOp(best.op);
}

export interface LinearizabilityResult extends CheckResult { keys: KeyVerdict[] }

/** Applies only when every read level overlaps every write level (W + R > RF) in the run. */
export function checkLinearizable(ops: readonly Op[], rf: number, o: LinearizabilityOptions): LinearizabilityResult {
  const name = 'linearizable per key';
  const readLevels = new Set(ops.filter((x) => x.kind === 'read' && x.phase === 'run').map((x) => x.level));
  const writeLevels = new Set(ops.filter(writesValue).map((x) => x.level));
  for (const r of readLevels) for (const w of writeLevels) {
    if (!overlaps(r, w, rf)) return { ...notApplicable(name, `reads at ${r} and writes at ${w} need not overlap`), keys: [] };
  }
  const keys = [...byKey(ops.filter((x) => x.kind !== 'local')).values()].map((k) => checkKeyLinearizable(k, o));
  const count = (v: Verdict) => keys.filter((k) => k.verdict === v).length;
  const problems = keys.filter((k) => k.verdict === 'not linearizable').map((k) => `key ${k.key}: not linearizable: ${k.why}`);
  const unknown = count('unknown');
  const figure = `${count('linearizable')}/${keys.length} keys linearizable${unknown > 0 ? `, ${unknown} unknown (over ${o.statesMax.toLocaleString('en-US')} states)` : ''}`;
  if (o.notPromised !== undefined) return { ...result(name, `${figure} (not promised: ${o.notPromised})`, problems), pass: true, applicable: false, keys };
  return { ...result(name, figure, problems), keys };
}
