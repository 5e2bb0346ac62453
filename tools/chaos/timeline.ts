// Per-second figures of a history (throughput by outcome, latency of successful operations) and
// throughput inside the bands of each fault kind against the quiet time between them.
import type { Op, Outcome } from './history.js';
import type { FaultRecord } from './nemesis.js';

export interface SecondRow {
  second: number;
  ops: Record<Outcome, number>;
  /** Latency of the operations that succeeded that second (ms); null when none did. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export function perSecond(ops: readonly Op[], seconds: number): SecondRow[] {
  const rows: SecondRow[] = Array.from({ length: Math.max(1, Math.ceil(seconds)) }, (_, second) => ({
    second, ops: { ok: 0, fail: 0, indeterminate: 0 }, p50Ms: null, p99Ms: null, maxMs: null,
  }));
  const latencies: number[][] = rows.map(() => []);
  for (const o of ops) {
    if (o.phase !== 'run') continue;
    const s = Math.min(rows.length - 1, Math.max(0, Math.floor(o.completeMs / 1000)));
    rows[s]!.ops[o.outcome]++;
    if (o.outcome === 'ok') latencies[s]!.push(o.completeMs - o.invokeMs);
  }
  rows.forEach((r, i) => {
    const l = latencies[i]!.sort((a, b) => a - b);
    if (l.length === 0) return;
    r.p50Ms = quantile(l, 0.5);
    r.p99Ms = quantile(l, 0.99);
    r.maxMs = l.at(-1)!;
  });
  return rows;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export interface BandThroughput { kind: string; seconds: number; ops: number; okPerSec: number }

/** Successful operations per second completed inside each kind's bands, and outside all of them. */
export function throughputByFault(ops: readonly Op[], faults: readonly FaultRecord[], runMs: number): BandThroughput[] {
  const kinds = [...new Set(faults.map((f) => f.kind))];
  const inBand = (t: number, f: FaultRecord) => t >= f.startMs && t < f.endMs;
  const run = ops.filter((o) => o.phase === 'run');
  const out: BandThroughput[] = [];
  const bandMs = faults.reduce((s, f) => s + (f.endMs - f.startMs), 0);
  const quietOps = run.filter((o) => !faults.some((f) => inBand(o.completeMs, f)));
  out.push(row('quiet', runMs - bandMs, quietOps));
  for (const k of kinds) {
    const bands = faults.filter((f) => f.kind === k);
    const ms = bands.reduce((s, f) => s + (f.endMs - f.startMs), 0);
    out.push(row(k, ms, run.filter((o) => bands.some((f) => inBand(o.completeMs, f)))));
  }
  return out;
}

function row(kind: string, ms: number, ops: Op[]): BandThroughput {
  const ok = ops.filter((o) => o.outcome === 'ok').length;
  return { kind, seconds: ms / 1000, ops: ops.length, okPerSec: ms > 0 ? (ok * 1000) / ms : 0 };
}
