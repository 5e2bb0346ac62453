// Consistency levels as numbers of acks, for a replication factor.
import { levels, type Level } from './types.js';

export type RequiredAcks = { ok: true; acks: number } | { ok: false; reason: string };

/** Acks a level needs at this RF; a level that needs more replicas than RF is an invalid request. */
export function requiredAcks(level: Level, replicationFactor: number): RequiredAcks {
  const acks = levelAcks(level, replicationFactor);
  if (acks > replicationFactor) {
    return { ok: false, reason: `level ${level} needs ${acks} replicas but the replication factor is ${replicationFactor}` };
  }
  return { ok: true, acks };
}

function levelAcks(level: Level, rf: number): number {
  switch (level) {
    case 'ONE': return 1;
    case 'TWO': return 2;
    case 'THREE': return 3;
    case 'QUORUM': return Math.floor(rf / 2) + 1;
    case 'ALL': return rf;
  }
}

/** A consistency level as typed or given, any case; whether the cluster's RF allows it is requiredAcks's call. */
export function parseLevel(x: unknown): Level | { error: string } {
  const text = typeof x === 'string' ? x.trim().toUpperCase() : undefined;
  if (text !== undefined && (levels as readonly string[]).includes(text)) return text as Level;
  const got = typeof x === 'string' ? JSON.stringify(x.length > 20 ? x.slice(0, 20) + '…' : x) : x === undefined ? 'nothing' : typeof x;
  return { error: `level: expected one of ${levels.join(', ')}, got ${got}` };
}
