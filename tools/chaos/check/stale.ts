// Reads with W + R > RF are never stale: a read that began after a write was acknowledged must not
// return a value that write replaced (one whose write had completed before that write began).
// Only pairs of levels that overlap count: a read at ONE after a write at ONE promises nothing.
import { requiredAcks } from '../../../src/core/quorum.js';
import { levels, type Level } from '../../../src/core/types.js';
import { byKey, describeOp, writesValue, type Op } from '../history.js';
import { result, notApplicable, type CheckResult } from './result.js';
import { describeSource, sourcesOf, supersedingWrite, type TimingOptions } from './versions.js';

export function acksOf(level: string, rf: number): number | null {
  if (!(levels as readonly string[]).includes(level)) return null;
  const r = requiredAcks(level as Level, rf);
  return r.ok ? r.acks : null;
}

/** Do a read at readLevel and a write at writeLevel share at least one replica? */
export function overlaps(readLevel: string, writeLevel: string, rf: number): boolean {
  const r = acksOf(readLevel, rf);
  const w = acksOf(writeLevel, rf);
  return r !== null && w !== null && r + w > rf;
}

export function checkStale(ops: readonly Op[], rf: number, t: TimingOptions): CheckResult {
  const name = 'W+R>RF reads never stale';
  const problems: string[] = [];
  let checked = 0;
  for (const keyOps of byKey(ops).values()) {
    const writes = keyOps.filter(writesValue);
    for (const r of keyOps) {
      if (r.kind !== 'read' || r.outcome !== 'ok') continue;
      const counts = (w: Op) => overlaps(r.level, w.level, rf);
      if (!writes.some(counts)) continue;
      checked++;
      const sources = sourcesOf(writes, r.value);
      if (sources.length === 0) continue; // an invented value: that checker's finding
      const newer = sources.map((s) => ({ s, w: supersedingWrite(s, writes, r.invokeMs, t, counts) }));
      if (newer.every((n) => n.w !== undefined)) {
        const n = newer.at(-1)!;
        problems.push(`${describeOp(r)}: stale: its value came from ${describeSource(n.s)}, replaced by ${describeOp(n.w!)} before the read began`);
      }
    }
  }
  if (checked === 0 && !ops.some((r) => r.kind === 'read' && ops.some((w) => writesValue(w) && overlaps(r.level, w.level, rf)))) {
    return notApplicable(name, 'no read and write levels with W+R>RF');
  }
  return result(name, `${checked} reads checked, ${problems.length} stale`, problems);
}
