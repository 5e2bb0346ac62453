// `kvc state`: every replica's answer to `state`, merged into one view of the cluster. Pure: the
// answers (or why a replica gave none) go in, the view comes out; kvc top and `kvc state` draw it.
import type { StateReport } from '../core/state.js';

/** One replica's answer, or why there was none (stopped, partitioned from kvc, another cookie). */
export interface ReplicaAnswer { name: string; state: StateReport | null; error: string | null }

/** What `observer` knows of `subject`. up: null when the observer did not answer. */
export interface View {
  observer: string; subject: string; up: boolean | null;
  heartbeatAgeMs: number | null; rttMs: number | null; clockOffsetMs: number | null;
  /** Hints the observer holds for the subject; anti-entropy rounds with it and when the last one ended. */
  hintsHeld: number; antiEntropyRounds: number; lastRepairMs: number | null;
  /** Its config differs, or its clock is beyond max_clock_skew_ms: no replica traffic between them. */
  refused: boolean;
}

export interface RangeView {
  first: number; last: number; replicas: string[];
  /** Replicas of the range seen DOWN by any replica that answered, or that kvc could not reach. */
  down: string[];
  /** Fewer than a quorum of its replicas are up: QUORUM reads and writes of these keys fail. */
  quorumLost: boolean;
  noLiveReplica: boolean;
}

export interface ClusterView {
  atMs: number;
  replicas: ReplicaAnswer[];
  /** observer × subject, every pair, in nodes.toml order. */
  views: View[];
  /** Subject -> the replicas that see it DOWN (only subjects someone sees DOWN). */
  downBy: Record<string, string[]>;
  /** Replicas kvc could not reach. */
  unreachable: string[];
  ranges: RangeView[];
}

export function mergeStates(answers: readonly ReplicaAnswer[], replicationFactor: number, atMs: number): ClusterView {
  const names = answers.map((a) => a.name);
  const views: View[] = [];
  for (const a of answers) {
    for (const subject of names) {
      const peer = a.state?.status.peers.find((p) => p.name === subject);
      const link = a.state?.links.find((l) => l.name === subject);
      views.push({
        observer: a.name, subject, up: peer === undefined ? null : subject === a.name ? true : peer.up,
        heartbeatAgeMs: link?.heartbeatAgeMs ?? null, rttMs: link?.rttMs ?? null, clockOffsetMs: peer?.clockOffsetMs ?? null,
        hintsHeld: peer?.hintsPending ?? 0, antiEntropyRounds: peer?.antiEntropy.rounds ?? 0, lastRepairMs: peer?.antiEntropy.lastRoundMs ?? null,
        refused: peer !== undefined && (peer.configMismatch || peer.clockRefused),
      });
    }
  }
  const downBy: Record<string, string[]> = {};
  for (const v of views) if (v.up === false) (downBy[v.subject] ??= []).push(v.observer);
  const unreachable = answers.filter((a) => a.state === null).map((a) => a.name);
  const ring = answers.find((a) => a.state !== null)?.state?.status.ring ?? [];
  const quorum = Math.floor(replicationFactor / 2) + 1;
  const ranges = ring.map((r) => {
    const down = r.replicas.filter((n) => downBy[n] !== undefined || unreachable.includes(n));
    const alive = r.replicas.length - down.length;
    return { first: r.first, last: r.last, replicas: r.replicas, down, quorumLost: alive < quorum, noLiveReplica: alive === 0 };
  });
  return { atMs, replicas: [...answers], views, downBy, unreachable, ranges };
}
