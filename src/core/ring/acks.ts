// When a write or a read at a level is satisfied while slots move.
//
// The rule: a write is acknowledged once the level is met within every group of its write set:
// within the old replicas O and within the new ones N while both are written. For a slot where one
// replica C hands over to D (O = {A, B, C}, N = {A, B, D}) this is exactly the grouping CASSANDRA-833
// found exact and CASSANDRA-21200 proposes again, {A, B, (C+D)}: C and D count as one replica, and
// only once both have acked. At QUORUM, {A, B} suffices, as outside a move; at ONE, an ack of C alone
// (lost when the move completes) or D alone (lost when it aborts) does not.
//
// Cassandra's own rule, blockFor + 1 per pending replica (any L+1 acks of O ∪ N), is also safe for a
// one-replica move but asks for more: at QUORUM it needs 3 of {A, B, C, D}, so one slow joiner makes
// writes time out. We take the exact rule. It also holds, unchanged, for a slot where two replicas
// move at once (a leave in the middle of the ring order shifts the ranges after it: O = {n3, n4, n0},
// N = {n4, n1, n2}), where a pairing into units would ask more than needed.
//
// Reads count only the read replicas of their step: a replica still being streamed to never answers one.
import { requiredAcks } from '../quorum.js';
import type { Level } from '../types.js';
import type { WriteSet } from './steps.js';

/**
 * Is a write to this write set acknowledged by these replicas at this level? Replicas are named
 * (the ring's own form) or numbered (a node's peer indices: placement.ts); the check allocates nothing.
 */
export function writeSatisfied<R>(level: Level, replicationFactor: number, write: { readonly groups: readonly (readonly R[])[] }, acked: { has(r: R): boolean }): boolean {
  const need = requiredAcks(level, replicationFactor);
  if (!need.ok) return false;
  for (const group of write.groups) if (countIn(group, acked) < need.acks) return false;
  return true;
}

/** Is a read from these read replicas satisfied by these answers at this level? */
export function readSatisfied<R>(level: Level, replicationFactor: number, read: readonly R[], answered: { has(r: R): boolean }): boolean {
  const need = requiredAcks(level, replicationFactor);
  return need.ok && countIn(read, answered) >= need.acks;
}

function countIn<R>(replicas: readonly R[], set: { has(r: R): boolean }): number {
  let n = 0;
  for (const r of replicas) if (set.has(r)) n++;
  return n;
}

/**
 * The write quorum in words: `{A, B, (C+D)}` for each replica that moves, or `{A, B, C}` outside a
 * move, with the level: "QUORUM: 2 of {A, B, (C+D)}; C and D count once both have acked".
 */
export function writeQuorumText(level: Level, replicationFactor: number, write: WriteSet): string {
  const need = requiredAcks(level, replicationFactor);
  if (!need.ok) return need.reason;
  const [old, next] = write.groups;
  if (old === undefined) return `${level}: no replicas`;
  if (next === undefined) return `${level}: ${need.acks} of {${old.join(', ')}}`;
  const lost = old.filter((r) => !next.includes(r));
  const gained = next.filter((r) => !old.includes(r));
  if (lost.length === 1) {
    const unit = `(${lost[0]}+${gained[0]})`;
    return `${level}: ${need.acks} of {${old.map((r) => (r === lost[0] ? unit : r)).join(', ')}}; ${lost[0]} and ${gained[0]} count once both have acked`;
  }
  return `${level}: ${need.acks} of {${old.join(', ')}} and ${need.acks} of {${next.join(', ')}}`;
}
