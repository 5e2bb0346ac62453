// The nemesis's plan, made from the seed before anything runs: a quiet start, then fault bands
// separated by quiet gaps, the kinds taken in a shuffled round so each appears, every fault
// removed at the end of its band. Pure: the same seed and options give the same plan.
import { seededRandom, type Random } from '../../src/core/prng.js';

export const faultKinds = ['kill', 'stop', 'pause', 'partition', 'loss'] as const;
export type FaultKind = (typeof faultKinds)[number];

export type PartitionShape = 'isolate' | 'halves' | 'one-way';

export interface Band {
  kind: FaultKind;
  /** Seconds since the run started. */
  startS: number;
  endS: number;
  /** Replicas the fault is aimed at (kill/stop/pause; for a partition, the isolated side). */
  targets: string[];
  /** For a partition: each (from, to) replica pair whose datagrams are dropped. */
  cuts: [string, string][];
  /** For loss: percent of datagrams dropped. */
  lossPercent: number;
  /** One line for the report and the timeline. */
  label: string;
}

export interface Range { min: number; max: number }

export interface ScheduleOptions {
  seed: number;
  seconds: number;
  kinds: readonly FaultKind[];
  replicas: readonly string[];
  /** Quiet seconds at the start, before the first fault. */
  leadS: number;
  bandS: Range;
  quietS: Range;
  lossPercent: Range;
}

function between(random: Random, r: Range): number {
  return r.min + random() * (r.max - r.min);
}

function pick<T>(random: Random, list: readonly T[], count = 1): T[] {
  const pool = [...list];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

function round1(s: number): number {
  return Math.round(s * 10) / 10;
}

export function planFaults(o: ScheduleOptions): Band[] {
  const random = seededRandom(o.seed);
  const bands: Band[] = [];
  if (o.kinds.length === 0) return bands;
  let t = o.leadS;
  let round: FaultKind[] = [];
  for (;;) {
    const length = round1(between(random, o.bandS));
    if (t + length > o.seconds) break;
    if (round.length === 0) round = pick(random, o.kinds, o.kinds.length);
    const kind = round.shift()!;
    bands.push(makeBand(random, kind, round1(t), round1(t + length), o));
    t = t + length + between(random, o.quietS);
  }
  return bands;
}

function makeBand(random: Random, kind: FaultKind, startS: number, endS: number, o: ScheduleOptions): Band {
  const base = { kind, startS, endS, targets: [] as string[], cuts: [] as [string, string][], lossPercent: 0 };
  switch (kind) {
    case 'kill': {
      const targets = pick(random, o.replicas);
      return { ...base, targets, label: `kill -9 ${targets.join(', ')}` };
    }
    case 'stop': {
      // Two of RF = 3 down makes the keys they share Unavailable at QUORUM: a fault worth seeing.
      const targets = pick(random, o.replicas, random() < 0.5 ? 1 : 2);
      return { ...base, targets, label: `pm2 stop ${targets.join(', ')}` };
    }
    case 'pause': {
      const targets = pick(random, o.replicas);
      return { ...base, targets, label: `SIGSTOP ${targets.join(', ')}` };
    }
    case 'partition': {
      const shape = pick<PartitionShape>(random, ['isolate', 'halves', 'one-way'])[0]!;
      const side = shape === 'halves' ? pick(random, o.replicas, Math.floor(o.replicas.length / 2)) : pick(random, o.replicas);
      const rest = o.replicas.filter((r) => !side.includes(r));
      const cuts: [string, string][] = [];
      for (const a of side) for (const b of rest) {
        cuts.push([a, b]);
        if (shape !== 'one-way') cuts.push([b, a]);
      }
      const label = shape === 'one-way' ? `one-way partition: ${side.join(', ')} cannot reach ${rest.join(', ')}`
        : `partition ${side.join(', ')} | ${rest.join(', ')}`;
      return { ...base, targets: side, cuts, label };
    }
    case 'loss': {
      const lossPercent = Math.round(between(random, o.lossPercent));
      return { ...base, lossPercent, label: `${lossPercent}% packet loss` };
    }
  }
}

/** "a-b" or "a" (seconds, percent): a range; refuses anything else with a one-line error. */
export function parseRange(name: string, text: string, limit: Range): Range {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (m === null) throw new Error(`--${name}: expected N or MIN-MAX, got ${JSON.stringify(text)}`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (min > max || min < limit.min || max > limit.max) throw new Error(`--${name}: expected values in ${limit.min}..${limit.max} with MIN <= MAX, got ${text}`);
  return { min, max };
}
