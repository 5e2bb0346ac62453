// Consistency levels as numbers of acks, for a replication factor.
import type { Level } from './types.js';

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
