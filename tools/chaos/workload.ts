// The clients of a chaos run: each one KvClient bound to one coordinator, one operation at a time
// (so its operations never overlap each other), half reads and half writes of values unique to the
// run, on a small key set so operations on one key overlap often. Every operation is recorded.
import type { Key } from '../../src/core/types.js';
import { performance } from 'node:perf_hooks';
import { KvError, type KvClient } from '../../src/client/client.js';
import { seededRandom } from '../../src/core/prng.js';
import type { Level } from '../../src/core/types.js';
import { outcomeOf, type Op, type OpKind } from './history.js';

/** K keys spread evenly over 0..255, so every replica owns some. */
export function spreadKeys(count: number): number[] {
  return Array.from({ length: count }, (_, j) => Math.floor(((j + 0.5) * 256) / count));
}

export class HistoryRecorder {
  readonly ops: Op[] = [];
  constructor(private readonly t0: number) {}

  now(): number {
    return performance.now() - this.t0;
  }

  /** Runs one operation and records it, whatever it ends with. */
  async record(client: string, kind: OpKind, key: Key, level: string, node: string, value: string | null, phase: Op['phase'], call: () => Promise<{ value?: string | null; stamp: Op['stamp'] }>): Promise<Op> {
    const op: Op = {
      index: this.ops.length, client, key, kind, level, node, value, stamp: null,
      invokeMs: this.now(), completeMs: 0, outcome: 'indeterminate', error: null, phase,
    };
    this.ops.push(op);
    try {
      const r = await call();
      op.outcome = 'ok';
      op.stamp = r.stamp;
      if (kind === 'read' || kind === 'local') op.value = r.value ?? null;
    } catch (e) {
      const errorKind = e instanceof KvError ? e.kind : 'NoResponse';
      op.error = errorKind;
      op.outcome = outcomeOf(errorKind);
      if (!(e instanceof KvError)) op.error = `unexpected: ${e instanceof Error ? e.message : String(e)}`;
    }
    op.completeMs = this.now();
    return op;
  }
}

const failPauseMs = 10;

export interface ClientPlan {
  seed: number;
  keys: readonly Key[];
  readLevel: Level;
  writeLevel: Level;
  /** Share of operations that are reads. */
  readShare: number;
}

/** One client's loop until `stop` is aborted. */
export async function runClient(lane: number, client: KvClient, plan: ClientPlan, rec: HistoryRecorder, stop: AbortSignal): Promise<void> {
  const name = `c${lane + 1}`;
  const random = seededRandom(plan.seed * 7919 + lane);
  let seq = 0;
  while (!stop.aborted) {
    const key = plan.keys[Math.floor(random() * plan.keys.length)]!;
    let op: Op;
    if (random() < plan.readShare) {
      op = await rec.record(name, 'read', key, plan.readLevel, client.coordinator, null, 'run', () => client.get(key, plan.readLevel));
    } else {
      const value = `${name}-${++seq}`;
      op = await rec.record(name, 'write', key, plan.writeLevel, client.coordinator, value, 'run', () => client.put(key, value, plan.writeLevel));
    }
    // A refusal, a port that refuses (a stopped coordinator) or a restarted one's Timeout for a write
    // sent before it started come back at once: pause a little so they are not a busy loop.
    if (op.outcome !== 'ok') await new Promise((r) => setTimeout(r, failPauseMs));
  }
}
