// Acknowledged writes are never lost: after healing, the value of each key (read at ALL, and the
// newest copy on its replicas) is the last acknowledged write or one that may have run after or
// alongside it. A value every acknowledged later write should have replaced means a write was lost.
import { byKey, describeOp, writesValue, type Op } from '../history.js';
import { newestCopy, type FinalKey } from './final-state.js';
import { result, type CheckResult } from './result.js';
import { describeSource, sourcesOf, supersedingWrite, type TimingOptions } from './versions.js';

export function checkLost(ops: readonly Op[], final: readonly FinalKey[], t: TimingOptions): CheckResult {
  const problems: string[] = [];
  const keyOps = byKey(ops);
  let acked = 0;
  for (const k of final) {
    const writes = (keyOps.get(k.key) ?? []).filter(writesValue);
    acked += writes.filter((w) => w.outcome === 'ok').length;
    const observed: { what: string; op: Op }[] = [];
    if (k.all?.outcome === 'ok') observed.push({ what: `read at ${k.all.level}`, op: k.all });
    const newest = newestCopy(k);
    if (newest !== undefined) observed.push({ what: `newest copy (on ${newest.node})`, op: newest });
    if (observed.length === 0) {
      if (writes.some((w) => w.outcome === 'ok')) problems.push(`key ${k.key}: could not be read after healing (${k.all ? `${k.all.error}` : 'no read'}), so its acknowledged writes are unaccounted for`);
      continue;
    }
    for (const { what, op } of observed) {
      const sources = sourcesOf(writes, op.value);
      if (sources.length === 0) continue; // invented: that checker's finding
      const newer = sources.map((s) => ({ s, w: supersedingWrite(s, writes, Infinity, t) }));
      if (newer.every((n) => n.w !== undefined)) {
        const n = newer.at(-1)!;
        problems.push(`key ${k.key}: ${what} is ${JSON.stringify(op.value)} from ${describeSource(n.s)}: acknowledged ${describeOp(n.w!)} is lost`);
      }
    }
  }
  return result('acknowledged writes never lost', `${final.length} keys, ${acked} acknowledged writes, ${problems.length} lost`, problems);
}
