// After healing: let the cluster converge, then record the final state. Read repair needs reads: in
// read-repair and both modes every key is read at ALL (again, while replicas still differ).
// Hinted handoff needs time: wait until no replica holds hints. Then each replica's own copy of
// each key is polled until all agree or the convergence wait ends, and each key is read at ALL.
// A background anti-entropy would need only the wait (convergenceWaitMs).
import { keySpaceOf } from '../../src/core/keyspace.js';
import type { Key } from '../../src/core/types.js';
import type { KvClient } from '../../src/client/client.js';
import { Ring } from '../../src/core/partitioner.js';
import type { ClusterConfig, RepairMode } from '../../src/core/types.js';
import type { Op } from './history.js';
import type { HistoryRecorder } from './workload.js';

const pollMs = 200;

export function replicaSets(config: ClusterConfig): (key: Key) => string[] {
  const ring = new Ring(config.nodes.length, config.replicationFactor, keySpaceOf(config));
  return (key) => ring.replicasFor(key).map((i) => config.nodes[i]!.name);
}

export interface FinalPlan {
  keys: readonly Key[];
  repairMode: RepairMode;
  convergenceWaitMs: number;
}

export interface FinalOutcome {
  /** ms from the start of the final phase until every replica of every key agreed; null: never within the wait. */
  convergedAfterMs: number | null;
  hintsPendingAtEnd: number | null;
}

export async function settleAndRead(client: KvClient, rec: HistoryRecorder, plan: FinalPlan, log: (line: string) => void): Promise<FinalOutcome> {
  const replicasOf = replicaSets(client.config);
  const started = rec.now();
  const deadline = started + plan.convergenceWaitMs;
  const names = client.config.nodes.map((n) => n.name);
  const readAll = (key: Key) => rec.record('final', 'read', key, 'ALL', client.coordinator, null, 'final', () => client.get(key, 'ALL'));
  const readRepairs = plan.repairMode !== 'hinted-handoff';

  if (readRepairs) for (const key of plan.keys) await readAll(key);

  let hintsPendingAtEnd: number | null = null;
  if (plan.repairMode !== 'read-repair') {
    for (;;) {
      hintsPendingAtEnd = await hintsPending(client, names);
      if (hintsPendingAtEnd === 0 || rec.now() >= deadline) break;
      await sleep(pollMs);
    }
    if (hintsPendingAtEnd !== 0) log(`hints still pending after the convergence wait: ${hintsPendingAtEnd ?? 'unknown (a replica did not answer status)'}`);
  }

  let convergedAfterMs: number | null = null;
  for (;;) {
    const behind: Key[] = [];
    for (const key of plan.keys) {
      const copies = await Promise.all(replicasOf(key).map((node) =>
        rec.record('final', 'local', key, 'LOCAL', node, null, 'final', () => client.local(key, node))));
      if (!agree(copies)) behind.push(key);
    }
    if (behind.length === 0) {
      convergedAfterMs = rec.now() - started;
      break;
    }
    if (rec.now() >= deadline) {
      log(`not converged within ${plan.convergenceWaitMs} ms: keys ${behind.join(', ')}`);
      break;
    }
    if (readRepairs) for (const key of behind) await readAll(key);
    await sleep(pollMs);
  }
  for (const key of plan.keys) await readAll(key);
  return { convergedAfterMs, hintsPendingAtEnd };
}

function agree(copies: Op[]): boolean {
  if (copies.some((c) => c.outcome !== 'ok')) return false;
  const first = copies[0]!;
  return copies.every((c) => c.value === first.value && JSON.stringify(c.stamp) === JSON.stringify(first.stamp));
}

/** Hints held for any peer, summed over the replicas; null when one does not answer. */
async function hintsPending(client: KvClient, names: string[]): Promise<number | null> {
  try {
    const reports = await Promise.all(names.map((n) => client.status(n)));
    return reports.reduce((sum, r) => sum + r.peers.reduce((s, p) => s + p.hintsPending, 0), 0);
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
