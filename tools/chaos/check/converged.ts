// Every replica converged after healing: each replica of each key holds the same version (value and
// stamp), and a read at ALL returns it.
import type { Op } from '../history.js';
import type { FinalKey } from './final-state.js';
import { result, type CheckResult } from './result.js';

function version(op: Op): string {
  return `${JSON.stringify(op.value)} (stamp ${op.stamp === null ? 'none' : op.stamp.join('.')})`;
}

export function checkConverged(final: readonly FinalKey[]): CheckResult {
  const problems: string[] = [];
  let converged = 0;
  for (const k of final) {
    const missing = k.copies.filter((c) => c.op === undefined || c.op.outcome !== 'ok');
    if (missing.length > 0) {
      problems.push(`key ${k.key}: ${missing.map((c) => `${c.node} not read (${c.op?.error ?? 'never asked'})`).join(', ')}`);
      continue;
    }
    const versions = new Set(k.copies.map((c) => version(c.op!)));
    if (versions.size > 1) {
      problems.push(`key ${k.key}: replicas differ: ${k.copies.map((c) => `${c.node} ${version(c.op!)}`).join(', ')}`);
      continue;
    }
    if (k.all !== undefined && k.all.outcome === 'ok' && k.all.value !== k.copies[0]!.op!.value) {
      problems.push(`key ${k.key}: read at ${k.all.level} gave ${JSON.stringify(k.all.value)} but every replica holds ${version(k.copies[0]!.op!)}`);
      continue;
    }
    converged++;
  }
  return result('every replica converged', `${converged}/${final.length} keys`, problems);
}
