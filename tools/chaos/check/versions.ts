// Which write a value read came from, and whether a later acknowledged write should have replaced
// it. Values written are unique per run, so a value names its write; "absent" (null) names the
// initial state and any delete. Real time alone decides "later": a write that was invoked after
// another completed must win over it (the cluster stamps from one machine's clock here).
import { writesValue, type Op } from '../history.js';

/** The initial state of every key: absent, written before the run began. */
export const initial = null;
export type Source = Op | typeof initial;

export interface TimingOptions {
  /**
   * An indeterminate write may take effect until its completion time (the client's deadline) when
   * true; forever after its invocation when false (no promise from the cluster about given-up writes).
   */
  boundedIndeterminate: boolean;
}

/** Writes (ok or indeterminate) that could have produced `value`; a failed write produced nothing. */
export function sourcesOf(writes: readonly Op[], value: string | null): Source[] {
  const out: Source[] = value === null ? [initial] : [];
  for (const w of writes) if (writesValue(w) && w.outcome !== 'fail' && w.value === value) out.push(w);
  return out;
}

/** The latest moment a write could have taken effect. */
export function latestEffectMs(source: Source, t: TimingOptions): number {
  if (source === initial) return -Infinity;
  if (source.outcome === 'ok' || t.boundedIndeterminate) return source.completeMs;
  return Infinity;
}

/**
 * An acknowledged write, accepted by `counts`, invoked after `source` could last have taken effect
 * and acknowledged before `beforeMs`: proof that a reader starting at beforeMs must not see `source`.
 */
export function supersedingWrite(source: Source, writes: readonly Op[], beforeMs: number, t: TimingOptions, counts: (w: Op) => boolean = () => true): Op | undefined {
  const after = latestEffectMs(source, t);
  return writes.find((w) => writesValue(w) && w !== source && w.outcome === 'ok' && w.invokeMs > after && w.completeMs < beforeMs && counts(w));
}

export function describeSource(s: Source): string {
  return s === initial ? 'the initial absent state' : `#${s.index} (${s.client}, ${s.outcome}, ${s.invokeMs.toFixed(1)}..${s.completeMs.toFixed(1)} ms)`;
}
