// The closed loop, as YCSB runs it: `concurrency` workers, each with one request in flight at a
// time, spread round-robin over the target's lanes (coordinators). A warm-up is run and not
// counted; then the measured window lasts `durationS` seconds, or until `ops` operations completed.
import cliProgress from 'cli-progress';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { shutdownSignal } from './cleanup.js';
import { ProcessWatch, type MachineStats, type ProcessStats, type WatchedProcess } from './proc.js';
import { Recorder, type OpStats, type SecondStats } from './recorder.js';
import { OpGenerator, ValueMaker, opKinds, type OpKind, type WorkloadSpec } from './workload.js';
import type { Key } from '../../src/core/types.js';

/** A system under test, reached through `lanes` entry points (coordinators, members). */
export interface Target {
  /** Short name in tables: ringkv, limit, etcd. */
  readonly name: string;
  /** One name per lane, for the header line. */
  readonly lanes: readonly string[];
  /** The processes whose CPU and memory are reported. */
  processes(): Promise<WatchedProcess[]>;
  read(lane: number, key: Key): Promise<unknown>;
  write(lane: number, key: Key, value: string): Promise<unknown>;
  /** Anything worth reporting besides latencies (client counters, drops). */
  notes?(): Record<string, unknown>;
}

export interface RunPlan {
  workload: WorkloadSpec;
  concurrency: number;
  warmupS: number;
  /** Measured seconds; ignored when ops is set. */
  durationS: number;
  /** Measured operations instead of a duration; the run still stops after opsTimeCapS. */
  ops: number | null;
  opsTimeCapS: number;
  progress: boolean;
  /** Keys to draw from (default 0..255). */
  keys?: readonly Key[];
  /** Called when the measured window opens and when it closes (--profile-alloc samples just that). */
  onWindow?: (edge: 'start' | 'end') => void;
  /** Called with every successful write (for scenarios that check what was written). */
  onWrite?: (key: Key, value: string, result: unknown) => void;
}

export interface RunResult {
  target: string;
  lanes: readonly string[];
  concurrency: number;
  warmupS: number;
  windowS: number;
  ops: OpStats[];
  total: { count: number; opsPerSec: number; errorCount: number };
  processes: ProcessStats[];
  /** Whole-machine CPU over the window: how busy it was, and how much of that was not this run (noise). */
  machine: MachineStats;
  /** VmRSS of each process once a second from the start of the run (warm-up included). */
  rssMb: Record<string, (number | null)[]>;
  /** The measured window on the monotonic clock, to cut a replica's cpu profile to it. */
  windowMonoUs: { start: number; end: number };
  timeline: SecondStats[];
  notes: Record<string, unknown>;
}

const progressTickMs = 250;
/** Pause of a worker after a failed operation. */
const errorPauseMs = 1;

export async function runClosedLoop(target: Target, plan: RunPlan, label = target.name): Promise<RunResult> {
  if (!Number.isInteger(plan.concurrency) || plan.concurrency < 1) throw new Error(`concurrency: expected a positive integer, got ${plan.concurrency}`);
  const gen = new OpGenerator(plan.workload, plan.keys);
  const values = new ValueMaker(plan.workload.valueBytes);
  const laneCount = target.lanes.length;
  const watch = new ProcessWatch(await target.processes());
  watch.startSampling();

  const startMs = performance.now();
  const measureFromMs = startMs + plan.warmupS * 1000;
  const runForS = plan.ops === null ? plan.warmupS + plan.durationS : plan.warmupS + plan.opsTimeCapS;
  const rec = new Recorder(startMs, measureFromMs, startMs + runForS * 1000);
  let stopping = false;
  let stoppedAtMs = 0;
  let watching = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    stoppedAtMs = performance.now();
    if (watching) plan.onWindow?.('end');
  };
  const openWindow = () => { watching = true; watch.start(); plan.onWindow?.('start'); };
  const stopTimer = setTimeout(stop, runForS * 1000);
  shutdownSignal.addEventListener('abort', stop, { once: true });
  const watchTimer = setTimeout(openWindow, plan.warmupS * 1000);
  if (plan.warmupS === 0) { clearTimeout(watchTimer); openWindow(); }

  const bar = plan.progress ? progressBar(label, plan, runForS) : null;
  const rate = new RateMeter();
  const ticker = setInterval(() => {
    const now = performance.now();
    const measuring = now >= measureFromMs;
    bar?.update(plan.ops === null ? Math.min(runForS, Math.floor((now - startMs) / 1000)) : rec.measuredCount, {
      phase: measuring ? 'measure' : 'warm-up', rate: Math.round(rate.perSec(now, rec.completed)).toLocaleString('en-US'),
      errors: rec.failed, done: rec.measuredCount.toLocaleString('en-US'),
    });
  }, progressTickMs);

  const worker = async (lane: number): Promise<void> => {
    while (!stopping) {
      const op: OpKind = gen.op();
      const key = gen.key();
      const t0 = performance.now();
      try {
        if (op === 'read') {
          await target.read(lane, key);
        } else {
          const value = values.next();
          const result = await target.write(lane, key, value);
          plan.onWrite?.(key, value, result);
        }
        const t1 = performance.now();
        rec.ok(op, t0, t1);
        if (plan.ops !== null && rec.measuredCount >= plan.ops && !stopping) {
          stop();
          rec.closeWindowAt(t1);
        }
      } catch (e) {
        rec.error(op, e, performance.now());
        // A target that fails at once (down, circuit open) must not turn this loop into a busy spin.
        await sleep(errorPauseMs);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: plan.concurrency }, (_, i) => worker(i % laneCount)));
  } finally {
    clearTimeout(stopTimer);
    clearTimeout(watchTimer);
    clearInterval(ticker);
    shutdownSignal.removeEventListener('abort', stop);
    bar?.stop();
  }
  if (shutdownSignal.aborted) throw new Error('interrupted');
  if (!watching) watch.start();
  const processes = watch.stop();
  const ops = rec.stats(opKinds).filter((s) => s.count > 0 || s.errorCount > 0);
  const windowS = rec.windowMs / 1000;
  const count = ops.reduce((a, s) => a + s.count, 0);
  return {
    target: target.name, lanes: target.lanes, concurrency: plan.concurrency, warmupS: plan.warmupS, windowS, ops,
    total: { count, opsPerSec: windowS > 0 ? count / windowS : 0, errorCount: ops.reduce((a, s) => a + s.errorCount, 0) },
    processes, machine: watch.machine, rssMb: watch.rssMb, windowMonoUs: watch.windowMonoUs, timeline: rec.timeline(plan.warmupS, plan.ops === null && !shutdownSignal.aborted ? Math.round(runForS) : Math.floor((stoppedAtMs - startMs) / 1000)), notes: target.notes?.() ?? {},
  };
}

/** Completions per second over the last second or so, from samples taken by the progress ticker. */
class RateMeter {
  private readonly samples: { ms: number; n: number }[] = [];

  perSec(nowMs: number, completed: number): number {
    this.samples.push({ ms: nowMs, n: completed });
    while (this.samples.length > 2 && nowMs - this.samples[0]!.ms > 1_000) this.samples.shift();
    const first = this.samples[0]!;
    return nowMs > first.ms ? ((completed - first.n) * 1000) / (nowMs - first.ms) : 0;
  }
}

function progressBar(label: string, plan: RunPlan, totalS: number): cliProgress.SingleBar {
  const done = plan.ops === null ? `{value}/{total} s` : `{done}/${plan.ops.toLocaleString('en-US')} ops`;
  const bar = new cliProgress.SingleBar({
    format: `${label.padEnd(8)} {phase} |{bar}| ${done} | {rate} ops/s | {errors} errors`,
    stream: process.stderr, hideCursor: true, barsize: 24, etaBuffer: 8,
    noTTYOutput: true, notTTYSchedule: 2_000,
  }, cliProgress.Presets.shades_classic);
  bar.start(plan.ops ?? totalS, 0, { phase: plan.warmupS > 0 ? 'warm-up' : 'measure', rate: '0', errors: 0, done: '0' });
  return bar;
}
