// Every write is applied once: the cluster stamps a put once, however often the client sends it,
// so a value (unique per write) is only ever seen with one stamp. A second stamp means the
// request ran twice (e.g. retransmitted to a coordinator that restarted and forgot it), and the
// second run, stamped later, can overwrite writes acknowledged in between.
import { byKey, describeOp, type Op } from '../history.js';
import { result, type CheckResult } from './result.js';

export function checkAppliedOnce(ops: readonly Op[]): CheckResult {
  const problems: string[] = [];
  let writes = 0;
  for (const keyOps of byKey(ops).values()) {
    const seen = new Map<string, Map<string, Op>>();
    for (const o of keyOps) {
      if (o.outcome !== 'ok' || o.value === null || o.stamp === null) continue;
      if (o.kind === 'write') writes++;
      const stamps = seen.get(o.value) ?? seen.set(o.value, new Map()).get(o.value)!;
      const id = o.stamp.join('.');
      if (!stamps.has(id)) stamps.set(id, o);
    }
    for (const [value, stamps] of seen) {
      if (stamps.size < 2) continue;
      const writer = keyOps.find((w) => w.kind === 'write' && w.value === value);
      problems.push(`${writer ? describeOp(writer) : JSON.stringify(value)}: stamped ${stamps.size} times: ` +
        [...stamps].map(([id, o]) => `${id} (first seen by #${o.index} at ${o.completeMs.toFixed(1)} ms)`).join(', '));
    }
  }
  return result('writes applied once', `${writes} acknowledged writes, ${problems.length} stamped more than once`, problems);
}
