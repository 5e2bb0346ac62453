// What the benchmark asks for, as YCSB names it: an operation mix, a key distribution over 0..255
// and a value size. Everything is drawn from one seeded PRNG, so two runs issue the same sequence.
import { keyCount, keyMin } from '../../src/core/limits.js';
import { seededRandom, type Random } from '../../src/core/prng.js';
import type { Key } from '../../src/core/types.js';

export const workloadNames = ['A', 'B', 'C', 'W'] as const;
export type WorkloadName = (typeof workloadNames)[number];

/** Share of reads in each mix; the rest are writes (YCSB's "update": overwrite an existing key). */
export const readShareByWorkload: Record<WorkloadName, number> = { A: 0.5, B: 0.95, C: 1, W: 0 };
export const workloadText: Record<WorkloadName, string> = {
  A: '50% read / 50% write', B: '95% read / 5% write', C: 'read only', W: 'write only',
};

export const distributions = ['uniform', 'zipfian'] as const;
export type Distribution = (typeof distributions)[number];

/** YCSB's default skew. */
export const zipfianThetaDefault = 0.99;

export type OpKind = 'read' | 'write';
export const opKinds: readonly OpKind[] = ['read', 'write'];

export interface WorkloadSpec {
  name: WorkloadName;
  distribution: Distribution;
  valueBytes: number;
  seed: number;
}

/** Draws the next operation and key; cheap enough to sit in the hot loop of the one client process. */
export class OpGenerator {
  private readonly random: Random;
  private readonly readShare: number;
  private readonly nextKey: () => Key;

  constructor(spec: WorkloadSpec, keys: readonly Key[] = allKeys()) {
    if (keys.length === 0) throw new Error('workload: no keys to choose from');
    this.random = seededRandom(spec.seed);
    this.readShare = readShareByWorkload[spec.name];
    this.nextKey = spec.distribution === 'uniform' ? uniform(keys, this.random) : scrambledZipfian(keys, this.random, zipfianThetaDefault, spec.seed);
  }

  op(): OpKind {
    return this.readShare === 1 || (this.readShare > 0 && this.random() < this.readShare) ? 'read' : 'write';
  }

  key(): Key {
    return this.nextKey();
  }
}

/** Values of exactly `bytes` ASCII bytes, each starting with a distinct counter so no two writes carry the same value. */
export class ValueMaker {
  private counter = 0;
  private readonly filler: string;

  constructor(readonly bytes: number, private readonly prefix = '') {
    if (!Number.isInteger(bytes) || bytes < 1) throw new Error(`value size: expected a positive integer, got ${bytes}`);
    this.filler = 'x'.repeat(bytes);
  }

  next(): string {
    const head = `${this.prefix}${(this.counter++).toString(36)}:`;
    return head.length >= this.bytes ? head.slice(0, this.bytes) : head + this.filler.slice(head.length);
  }
}

export function allKeys(): Key[] {
  return Array.from({ length: keyCount }, (_, i) => i + keyMin);
}

function uniform(keys: readonly Key[], random: Random): () => Key {
  const n = keys.length;
  return () => keys[Math.floor(random() * n)]!;
}

/**
 * YCSB's ScrambledZipfian over a small key space: rank r has weight 1/r^theta; ranks are mapped to
 * keys by a seeded permutation, so the hot keys spread over the ring instead of all landing in the
 * first replica's range. The CDF is precomputed (256 entries) and searched by bisection.
 */
function scrambledZipfian(keys: readonly Key[], random: Random, theta: number, seed: number): () => Key {
  const n = keys.length;
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / Math.pow(r + 1, theta);
    cdf[r] = sum;
  }
  for (let r = 0; r < n; r++) cdf[r] = cdf[r]! / sum;
  const shuffle = seededRandom(seed ^ 0x5eed);
  const byRank = [...keys];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [byRank[i], byRank[j]] = [byRank[j]!, byRank[i]!];
  }
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return byRank[lo]!;
  };
}
