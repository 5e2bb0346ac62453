// `kvc state`, `kvc top` and `kvc dashboard` all draw one thing: every replica's answer to `state`,
// merged into one view of the cluster. `fetchClusterView` asks every replica at once (one that does
// not answer is part of the view, with the reason); `mergeStates` is pure (the answers in, the view
// out), so every view is tested from the simulator's real answers.
import type { PeerReport } from '../core/messages.js';
import type { StateReport } from '../core/state.js';
import type { KvClient } from '../client/client.js';

/** One replica's answer, or why there was none (stopped, partitioned from kvc, another keyring). */
export interface ReplicaAnswer { name: string; state: StateReport | null; error: string | null }

/** What `observer` knows of `subject`. up: null when the observer did not answer. */
export interface View {
  observer: string; subject: string; up: boolean | null;
  heartbeatAgeMs: number | null; rttMs: number | null; clockOffsetMs: number | null;
  /** Hints the observer holds for the subject, and those that expired before delivery (the subject needs a repair). */
  hintsHeld: number; hintsExpired: number;
  /** Anti-entropy rounds with the subject, when the last one ended, and the keys each way. */
  antiEntropyRounds: number; lastRepairMs: number | null; antiEntropyKeysSent: number; antiEntropyKeysReceived: number;
  /** Its config differs, or its clock is beyond max_clock_skew_ms: no replica traffic between them. */
  refused: boolean;
}

export interface RangeView {
  first: number; last: number; replicas: string[];
  /** Replicas of the range that are DOWN in the cluster's view (ClusterView.down). */
  down: string[];
  /** Fewer than a quorum of its replicas are up: QUORUM reads and writes of these keys fail. */
  quorumLost: boolean;
  noLiveReplica: boolean;
}

export interface ClusterView {
  atMs: number;
  replicationFactor: number;
  replicas: ReplicaAnswer[];
  /** observer × subject, every pair, in nodes.toml order. */
  views: View[];
  /** Subject -> the replicas that see it DOWN (only subjects someone sees DOWN). */
  downBy: Record<string, string[]>;
  /** Replicas kvc could not reach. */
  unreachable: string[];
  /**
   * Replicas DOWN in the cluster's view: more of the answering replicas see them DOWN than UP, or
   * nobody answered about them and kvc could not reach them either. A replica only kvc cannot reach
   * (its peers see it UP) is not DOWN: the problem is between kvc and it, and an alarm says so.
   */
  down: string[];
  ranges: RangeView[];
  /** What needs looking at, worst first: ranges without a quorum, replicas DOWN or unreachable, partitions, disks, clocks, config. */
  alarms: string[];
}

function viewOf(a: ReplicaAnswer, subject: string): View {
  const peer = a.state?.status.peers.find((p) => p.name === subject);
  const link = a.state?.links.find((l) => l.name === subject);
  return {
    observer: a.name, subject, up: peer === undefined ? null : subject === a.name ? true : peer.up,
    heartbeatAgeMs: link?.heartbeatAgeMs ?? null, rttMs: link?.rttMs ?? null, clockOffsetMs: peer?.clockOffsetMs ?? null,
    hintsHeld: peer?.hintsPending ?? 0, hintsExpired: peer?.hintsExpired ?? 0,
    antiEntropyRounds: peer?.antiEntropy.rounds ?? 0, lastRepairMs: peer?.antiEntropy.lastRoundMs ?? null,
    antiEntropyKeysSent: peer?.antiEntropy.keysSent ?? 0, antiEntropyKeysReceived: peer?.antiEntropy.keysReceived ?? 0,
    refused: peer !== undefined && (peer.configMismatch || peer.clockRefused),
  };
}

export function mergeStates(answers: readonly ReplicaAnswer[], replicationFactor: number, atMs: number): ClusterView {
  const names = answers.map((a) => a.name);
  const views: View[] = answers.flatMap((a) => names.map((subject) => viewOf(a, subject)));
  const downBy: Record<string, string[]> = {};
  for (const v of views) if (v.up === false) (downBy[v.subject] ??= []).push(v.observer);
  const unreachable = answers.filter((a) => a.state === null).map((a) => a.name);
  const down = names.filter((subject) => {
    const seen = views.filter((v) => v.subject === subject && v.observer !== subject && v.up !== null);
    const downs = seen.filter((v) => v.up === false).length;
    return seen.length === 0 ? unreachable.includes(subject) : downs > seen.length - downs;
  });
  const ring = answers.find((a) => a.state !== null)?.state?.status.ring ?? [];
  const quorum = Math.floor(replicationFactor / 2) + 1;
  const ranges = ring.map((r) => {
    const rangeDown = r.replicas.filter((n) => down.includes(n));
    const alive = r.replicas.length - rangeDown.length;
    return { first: r.first, last: r.last, replicas: [...r.replicas], down: rangeDown, quorumLost: alive < quorum, noLiveReplica: alive === 0 };
  });
  return { atMs, replicationFactor, replicas: [...answers], views, downBy, unreachable, down, ranges, alarms: alarmsOf(answers, views, downBy, down, ranges) };
}

function peerAlarms(name: string, p: PeerReport): string[] {
  const out: string[] = [];
  if (p.configMismatch) out.push(`${name}: ${p.name} has another config`);
  if (p.forged || p.refusesOurCookie) out.push(`${name}: ${p.name} seals with a key ${name} does not hold, or refuses ${name}'s`);
  if (p.clockRefused) out.push(`${name}: ${p.name}'s clock is beyond max_clock_skew_ms`);
  if (p.hintsExpired > 0) out.push(`${name}: ${p.hintsExpired} hints for ${p.name} expired (repair ${p.name})`);
  return out;
}

function alarmsOf(answers: readonly ReplicaAnswer[], views: readonly View[], downBy: Record<string, string[]>, down: readonly string[], ranges: readonly RangeView[]): string[] {
  const out: string[] = [];
  for (const r of ranges) {
    if (r.noLiveReplica) out.push(`range ${r.first}..${r.last}: no replica live (${r.replicas.join(', ')} DOWN)`);
    else if (r.quorumLost) out.push(`range ${r.first}..${r.last}: no quorum (${r.down.join(', ')} DOWN)`);
  }
  for (const name of down) out.push(`${name} DOWN${downBy[name] === undefined ? '' : ` (seen by ${downBy[name]!.join(', ')})`}`);
  for (const a of answers) {
    if (a.state === null) {
      out.push(down.includes(a.name) ? `${a.name} unreachable: ${a.error ?? ''}` : `${a.name} unreachable from here, but UP in its peers' view: ${a.error ?? ''}`);
      continue;
    }
    const s = a.state.status;
    const alone = views.filter((v) => v.observer === a.name && v.up === false && !down.includes(v.subject)).map((v) => v.subject);
    if (alone.length > 0) out.push(`${a.name} alone sees ${alone.join(', ')} DOWN (a partition?)`);
    if (!s.logWritable) out.push(`${a.name}: DISK FULL, acking no writes`);
    if (s.clockWarning !== null) out.push(`${a.name}: clock: ${s.clockWarning}`);
    for (const p of s.peers) if (p.name !== a.name) out.push(...peerAlarms(a.name, p));
  }
  return out;
}

/** Every replica's `state`, asked at once, merged. */
export async function fetchClusterView(client: KvClient): Promise<ClusterView> {
  const answers = await Promise.all(client.config.nodes.map(async (n): Promise<ReplicaAnswer> => {
    try {
      return { name: n.name, state: await client.state(n.name), error: null };
    } catch (e) {
      return { name: n.name, state: null, error: e instanceof Error ? e.message : String(e) };
    }
  }));
  return mergeStates(answers, client.config.replicationFactor, Date.now());
}
