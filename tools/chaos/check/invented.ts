// No invented values: every value a read returned was written by a write (to that key) that was
// invoked before the read completed and was not refused. Absent (null) needs no writer.
import { byKey, describeOp, writesValue, type Op } from '../history.js';
import { result, type CheckResult } from './result.js';

export function checkInvented(ops: readonly Op[]): CheckResult {
  const problems: string[] = [];
  let checked = 0;
  for (const keyOps of byKey(ops).values()) {
    const writers = new Map<string, Op[]>();
    for (const w of keyOps) if (writesValue(w) && w.value !== null) (writers.get(w.value) ?? writers.set(w.value, []).get(w.value)!).push(w);
    for (const r of keyOps) {
      if ((r.kind !== 'read' && r.kind !== 'local') || r.outcome !== 'ok' || r.value === null) continue;
      checked++;
      const ws = writers.get(r.value) ?? [];
      const possible = ws.filter((w) => w.outcome !== 'fail' && w.invokeMs <= r.completeMs);
      if (possible.length > 0) continue;
      if (ws.length === 0) problems.push(`${describeOp(r)}: that value was never written to key ${r.key}`);
      else if (ws.some((w) => w.outcome === 'fail')) problems.push(`${describeOp(r)}: written only by ${ws.map(describeOp).join('; ')}, which the cluster refused`);
      else problems.push(`${describeOp(r)}: read before its write ${ws.map(describeOp).join('; ')} was invoked`);
    }
  }
  return result('no invented values', `${checked} values read, ${problems.length} invented`, problems);
}
