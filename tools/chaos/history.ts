// The recorded history of a chaos run: one entry per operation a client invoked, with when it was
// invoked and completed (ms since the run started, monotonic) and how it ended. The checkers read
// nothing else, so a history written as JSON lines can be checked again later.
import type { Key } from '../../src/core/types.js';
import type { Stamp } from '../../src/core/types.js';

/**
 * read: a coordinated get at `level`; local: one replica's own copy (after healing only);
 * write: a put of a value unique to this run; delete: a write of "absent" (value null), for when
 * the client gains one. Checkers treat write and delete alike through `writesValue`.
 */
export type OpKind = 'read' | 'write' | 'delete' | 'local';

/**
 * ok: the cluster answered with success. fail: it answered that nothing was done (Unavailable,
 * Overloaded, InvalidRequest). indeterminate: no answer, or a Timeout: the write may have been
 * applied on some replicas and may still win.
 */
export type Outcome = 'ok' | 'fail' | 'indeterminate';

export interface Op {
  /** Position in the history (invoke order). */
  index: number;
  /** Who issued it: a client lane ("c3"), or "final" for the reads after healing. */
  client: string;
  key: Key;
  kind: OpKind;
  /** Consistency level; "LOCAL" for kind local. */
  level: string;
  /** The coordinator asked (the replica itself for local). */
  node: string;
  /** write: the value written (unique in the run); delete: null; read/local: the value read, null when absent or not ok. */
  value: string | null;
  /** The version read (read/local) or written (write), when the cluster said. */
  stamp: Stamp | null;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** Error kind when not ok (Unavailable, Timeout, NoResponse, …). */
  error: string | null;
  /** "run" while the nemesis is active, "final" for the reads after healing. */
  phase: 'run' | 'final';
}

/** How a client error kind is recorded: only an answer that says nothing happened is a fail. */
export function outcomeOf(errorKind: string): Outcome {
  switch (errorKind) {
    case 'Unavailable':
    case 'Overloaded':
    case 'InvalidRequest':
    case 'BadInput':
      return 'fail';
    default:
      // NoResponse, Timeout, anything unexpected: the request may have run.
      return 'indeterminate';
  }
}

export function writesValue(op: Op): boolean {
  return op.kind === 'write' || op.kind === 'delete';
}

/** Stamps order versions: wall ms, then counter, then node index (last write wins). */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export function toJsonLines(ops: readonly Op[]): string {
  return ops.map((o) => JSON.stringify(o)).join('\n') + (ops.length > 0 ? '\n' : '');
}

export function fromJsonLines(text: string): Op[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try {
      return JSON.parse(l) as Op;
    } catch (e) {
      throw new Error(`history line ${i + 1}: not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

/** Ops grouped by key, each group in invoke order. */
export function byKey(ops: readonly Op[]): Map<Key, Op[]> {
  const out = new Map<Key, Op[]>();
  for (const o of ops) {
    const list = out.get(o.key);
    if (list === undefined) out.set(o.key, [o]);
    else list.push(o);
  }
  for (const list of out.values()) list.sort((a, b) => a.invokeMs - b.invokeMs || a.index - b.index);
  return out;
}

export function describeOp(o: Op): string {
  const what = o.kind === 'write' ? `write ${JSON.stringify(o.value)}` : o.kind === 'delete' ? 'delete'
    : `${o.kind} -> ${o.outcome === 'ok' ? JSON.stringify(o.value) : '?'}`;
  const end = o.outcome === 'ok' ? 'ok' : `${o.outcome} (${o.error ?? '?'})`;
  return `#${o.index} ${o.client} ${what} key ${o.key} at ${o.level} via ${o.node}, ${o.invokeMs.toFixed(1)}..${o.completeMs.toFixed(1)} ms, ${end}`;
}
