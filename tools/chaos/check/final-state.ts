// The state after healing, from the history's final phase: the last coordinated read of each key
// (at ALL) and the last local read of each key on each of its replicas.
import type { Key } from '../../../src/core/types.js';
import { compareStamps, type Op } from '../history.js';

export interface FinalKey {
  key: Key;
  /** The last final coordinated read, if any. */
  all: Op | undefined;
  /** The last local read on each replica the key should be on (undefined: never asked). */
  copies: { node: string; op: Op | undefined }[];
}

export function finalState(ops: readonly Op[], keys: readonly Key[], replicasOf: (key: Key) => readonly string[]): FinalKey[] {
  const lastRead = new Map<Key, Op>();
  const lastLocal = new Map<string, Op>();
  for (const o of ops) {
    if (o.phase !== 'final') continue;
    if (o.kind === 'read') {
      const prev = lastRead.get(o.key);
      if (prev === undefined || o.invokeMs >= prev.invokeMs) lastRead.set(o.key, o);
    } else if (o.kind === 'local') {
      const id = `${o.key}@${o.node}`;
      const prev = lastLocal.get(id);
      if (prev === undefined || o.invokeMs >= prev.invokeMs) lastLocal.set(id, o);
    }
  }
  return keys.map((key) => ({
    key, all: lastRead.get(key), copies: replicasOf(key).map((node) => ({ node, op: lastLocal.get(`${key}@${node}`) })),
  }));
}

/** The newest copy (by stamp) among the replicas that answered; absent counts as oldest. */
export function newestCopy(k: FinalKey): Op | undefined {
  let best: Op | undefined;
  for (const { op } of k.copies) {
    if (op === undefined || op.outcome !== 'ok') continue;
    if (best === undefined || (op.stamp !== null && (best.stamp === null || compareStamps(op.stamp, best.stamp) > 0))) best = op;
  }
  return best;
}
