// Latencies of one run in HDR histograms (microseconds, 3 significant digits), per operation, for
// the measured window and for every second of the run, plus errors by kind (their .name).
import * as hdr from 'hdr-histogram-js';
import type { OpKind } from './workload.js';

/** Latencies are recorded in whole microseconds; anything past this still fits (the histogram resizes). */
const latencyUsTrackedMax = 60_000_000;

export interface LatencyUs { p50: number; p95: number; p99: number; p999: number; max: number; mean: number }

export interface OpStats {
  op: OpKind;
  /** Successful operations completed in the measured window. */
  count: number;
  opsPerSec: number;
  latencyUs: LatencyUs;
  errorCount: number;
  /** Failed operations in the measured window, by error .name. */
  errors: Record<string, number>;
}

export interface SecondStats {
  /** Seconds since the run started (warm-up included). */
  second: number;
  warmup: boolean;
  ops: Record<OpKind, number>;
  /** p99 of that second, per operation; null when none completed. */
  p99Us: Record<OpKind, number | null>;
  errors: number;
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: latencyUsTrackedMax,
    numberOfSignificantValueDigits: 3, useWebAssembly: false,
  });
}

export function latencyOf(h: hdr.Histogram): LatencyUs {
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    p50: h.getValueAtPercentile(50), p95: h.getValueAtPercentile(95), p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9), max: h.maxValue, mean: Math.round(h.mean),
  };
}

interface Second {
  ops: Record<OpKind, number>;
  /** Dropped once the second is two behind the newest (its p99 kept), so a long run holds few histograms. */
  hist: Record<OpKind, hdr.Histogram | null>;
  p99Us: Record<OpKind, number | null>;
  errors: number;
}

export class Recorder {
  private readonly measured: Record<OpKind, hdr.Histogram> = { read: newHistogram(), write: newHistogram() };
  private readonly errors: Record<OpKind, Map<string, number>> = { read: new Map(), write: new Map() };
  private readonly seconds: Second[] = [];
  /** Completed operations (ok or failed) since the start, for the live rate. */
  completed = 0;
  failed = 0;
  measuredCount = 0;

  /** Times are performance.now() milliseconds; the window is [measureFromMs, measureToMs). */
  constructor(private readonly startMs: number, private readonly measureFromMs: number, private measureToMs: number) {}

  /** For --ops runs: the window closes at the last counted completion. */
  closeWindowAt(ms: number): void {
    this.measureToMs = ms;
  }

  get windowMs(): number {
    return this.measureToMs - this.measureFromMs;
  }

  inWindow(endMs: number): boolean {
    return endMs >= this.measureFromMs && endMs < this.measureToMs;
  }

  ok(op: OpKind, startMs: number, endMs: number): void {
    this.completed++;
    const us = Math.max(1, Math.round((endMs - startMs) * 1000));
    const s = this.second(endMs);
    s.ops[op]++;
    if (s.p99Us[op] === null) (s.hist[op] ??= newHistogram()).recordValue(us);
    if (this.inWindow(endMs)) {
      this.measured[op].recordValue(us);
      this.measuredCount++;
    }
  }

  error(op: OpKind, e: unknown, endMs: number): void {
    this.completed++;
    this.failed++;
    this.second(endMs).errors++;
    if (!this.inWindow(endMs)) return;
    // Some libraries (etcd3) leave .name at 'Error': their class name says more.
    const kind = e instanceof Error ? (e.name !== 'Error' ? e.name : e.constructor.name) : typeof e;
    const m = this.errors[op];
    m.set(kind, (m.get(kind) ?? 0) + 1);
  }

  stats(ops: readonly OpKind[]): OpStats[] {
    const windowS = this.windowMs / 1000;
    return ops.map((op) => {
      const h = this.measured[op];
      const errors = Object.fromEntries([...this.errors[op]].sort((a, b) => b[1] - a[1]));
      const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
      return { op, count: h.totalCount, opsPerSec: windowS > 0 ? h.totalCount / windowS : 0, latencyUs: latencyOf(h), errorCount, errors };
    });
  }

  /** Whole seconds only: the partial last second (the drain after the stop) would read as a drop. */
  timeline(warmupS: number, secondsMax: number): SecondStats[] {
    for (const s of this.seconds) finish(s);
    return this.seconds.slice(0, Math.max(1, secondsMax)).map((s, i) => ({ second: i, warmup: i < warmupS, ops: { ...s.ops }, errors: s.errors, p99Us: { ...s.p99Us } }));
  }

  private second(endMs: number): Second {
    const i = Math.max(0, Math.floor((endMs - this.startMs) / 1000));
    while (this.seconds.length <= i) {
      const old = this.seconds[this.seconds.length - 2];
      if (old !== undefined) finish(old);
      this.seconds.push({ ops: { read: 0, write: 0 }, hist: { read: null, write: null }, p99Us: { read: null, write: null }, errors: 0 });
    }
    return this.seconds[i]!;
  }
}

function finish(s: Second): void {
  for (const op of ['read', 'write'] as const) {
    const h = s.hist[op];
    if (h === null) continue;
    s.p99Us[op] = h.getValueAtPercentile(99);
    h.destroy();
    s.hist[op] = null;
  }
}
