// One picture of the whole cluster for `kvc top` and `kvc dashboard`: every replica of nodes.toml
// asked for its status at once (a short deadline; one that does not answer is shown as unreachable,
// with the error), merged with derived views: the ring with ranges short of replicas, who sees whom
// DOWN, hints and anti-entropy per pair, and request rates from the replicas' reply counters.
//
// `mergeSnapshot` is pure (answers, the previous snapshot and the time in; the snapshot out), so both
// views are tested from hand-made answers. Fields marked "from the state request" are optional: a
// replica that reports rates, latency quantiles or slow traces of its own fills them, and the views
// show them when present.
import type { StatusReport } from '../core/messages.js';
import { requiredAcks } from '../core/quorum.js';
import type { ClusterConfig } from '../core/types.js';
import { KvClient, type ClientOptions } from '../client/client.js';

/** Deadline of each status request of a poll: a live replica answers at once. */
export const pollTimeoutMsDefault = 800;

export interface LatencyQuantiles { p50Ms: number; p99Ms: number }
export interface SlowTrace { id: string; summary: string; elapsedMs: number; atMs: number }

export interface ReplicaView {
  name: string;
  host: string;
  port: number;
  /** Its own report, or null when it did not answer this poll. */
  status: StatusReport | null;
  /** Why it did not answer (null when it did). */
  error: string | null;
  /** The round trip of this poll's status request, ms (null when it did not answer). */
  pollMs: number | null;
  /** Client replies per second since the previous poll, by kind ('get', 'put', 'fail:Timeout', …); null until two polls have answered. */
  rates: Record<string, number> | null;
  /** From the state request: coordinator latency quantiles. */
  latency?: LatencyQuantiles;
  /** From the state request: recent slow traces. */
  slowTraces?: SlowTrace[];
}

/** UP or DOWN as one replica sees another; '?' when the observer did not answer or does not list it. */
export type Seen = 'UP' | 'DOWN' | '?';

export interface RangeView {
  first: number;
  last: number;
  replicas: string[];
  /** Replicas of the range DOWN in the majority's view (see isDown). */
  down: string[];
  /** ok: every replica live; short: fewer than RF, a quorum left; no-quorum: fewer than a quorum; unavailable: none. */
  health: 'ok' | 'short' | 'no-quorum' | 'unavailable';
}

export interface PairView {
  holder: string;
  peer: string;
  hintsPending: number;
  hintsExpired: number;
  aeRounds: number;
  aeLastRoundMs: number | null;
  aeKeysSent: number;
  aeKeysReceived: number;
}

export interface ClusterSnapshot {
  atMs: number;
  replicationFactor: number;
  downAfterMs: number;
  antiEntropyIntervalMs: number;
  replicas: ReplicaView[];
  /** seen[observer][subject], for every pair of distinct replicas. */
  seen: Record<string, Record<string, Seen>>;
  /** Replicas DOWN in the view of most replicas that answered (or unreachable with no one answering for them). */
  down: string[];
  /** The ring as the first replica that answered reports it (empty when none did). */
  ring: RangeView[];
  /** Every (holder, peer) pair a holder reported. */
  pairs: PairView[];
  /** What needs looking at, worst first: ranges without a quorum, replicas down or unreachable, disagreement, disk, clocks. */
  alarms: string[];
}

/** One replica's answer to a poll. */
export type PollAnswer = { name: string; status: StatusReport; pollMs: number } | { name: string; error: string };

function isDown(subject: string, seen: ClusterSnapshot['seen'], reachable: Set<string>): boolean {
  let up = 0;
  let down = 0;
  for (const [observer, row] of Object.entries(seen)) {
    if (observer === subject || !reachable.has(observer)) continue;
    if (row[subject] === 'UP') up++;
    else if (row[subject] === 'DOWN') down++;
  }
  return up + down === 0 ? !reachable.has(subject) : down > up;
}

/** Sum of counters per kind between two reports, per second; null without a previous report. */
function ratesOf(now: StatusReport, before: StatusReport | null, seconds: number): Record<string, number> | null {
  if (before === null || now.clientReplies === undefined || before.clientReplies === undefined || seconds <= 0) return null;
  const out: Record<string, number> = {};
  for (const [kind, n] of Object.entries(now.clientReplies)) {
    const d = n - (before.clientReplies[kind] ?? 0);
    if (d < 0) return null; // the replica restarted: its counters began again
    out[kind] = d / seconds;
  }
  return out;
}

/** Pure: the snapshot of one poll, given the previous one (for rates). */
export function mergeSnapshot(config: ClusterConfig, answers: readonly PollAnswer[], previous: ClusterSnapshot | null, atMs: number): ClusterSnapshot {
  const byName = new Map(answers.map((a) => [a.name, a]));
  const replicas: ReplicaView[] = config.nodes.map((n) => {
    const a = byName.get(n.name);
    const before = previous?.replicas.find((r) => r.name === n.name)?.status ?? null;
    if (a === undefined) return { name: n.name, host: n.host, port: n.port, status: null, error: 'not polled', pollMs: null, rates: null };
    if ('error' in a) return { name: n.name, host: n.host, port: n.port, status: null, error: a.error, pollMs: null, rates: null };
    return {
      name: n.name, host: n.host, port: n.port, status: a.status, error: null, pollMs: a.pollMs,
      rates: ratesOf(a.status, before, previous === null ? 0 : (atMs - previous.atMs) / 1000),
    };
  });
  const names = config.nodes.map((n) => n.name);
  const reachable = new Set(replicas.filter((r) => r.status !== null).map((r) => r.name));
  const seen: ClusterSnapshot['seen'] = {};
  for (const r of replicas) {
    const row: Record<string, Seen> = {};
    for (const subject of names) {
      if (subject === r.name) continue;
      const p = r.status?.peers.find((q) => q.name === subject);
      row[subject] = p === undefined ? '?' : p.up ? 'UP' : 'DOWN';
    }
    seen[r.name] = row;
  }
  const down = names.filter((n) => isDown(n, seen, reachable));
  const quorum = requiredAcks('QUORUM', config.replicationFactor);
  const need = quorum.ok ? quorum.acks : config.replicationFactor;
  const first = replicas.find((r) => r.status !== null)?.status ?? null;
  const ring: RangeView[] = (first?.ring ?? []).map((r) => {
    const rangeDown = r.replicas.filter((n) => down.includes(n));
    const live = r.replicas.length - rangeDown.length;
    const health = live === r.replicas.length ? 'ok' : live === 0 ? 'unavailable' : live < need ? 'no-quorum' : 'short';
    return { first: r.first, last: r.last, replicas: [...r.replicas], down: rangeDown, health };
  });
  const pairs: PairView[] = replicas.flatMap((r) => (r.status?.peers ?? []).filter((p) => p.name !== r.name).map((p) => ({
    holder: r.name, peer: p.name, hintsPending: p.hintsPending, hintsExpired: p.hintsExpired,
    aeRounds: p.antiEntropy.rounds, aeLastRoundMs: p.antiEntropy.lastRoundMs, aeKeysSent: p.antiEntropy.keysSent, aeKeysReceived: p.antiEntropy.keysReceived,
  })));
  return {
    atMs, replicationFactor: config.replicationFactor, downAfterMs: config.downAfterMs, antiEntropyIntervalMs: config.antiEntropyIntervalMs,
    replicas, seen, down, ring, pairs, alarms: alarmsOf(replicas, seen, down, ring),
  };
}

function alarmsOf(replicas: readonly ReplicaView[], seen: ClusterSnapshot['seen'], down: readonly string[], ring: readonly RangeView[]): string[] {
  const out: string[] = [];
  for (const r of ring) {
    if (r.health === 'unavailable') out.push(`range ${r.first}..${r.last}: no replica live (${r.replicas.join(', ')} DOWN)`);
    else if (r.health === 'no-quorum') out.push(`range ${r.first}..${r.last}: no quorum (${r.down.join(', ')} DOWN)`);
  }
  for (const name of down) {
    const observers = Object.entries(seen).filter(([o, row]) => o !== name && row[name] === 'DOWN').map(([o]) => o);
    out.push(`${name} DOWN${observers.length > 0 ? ` (seen by ${observers.join(', ')})` : ''}`);
  }
  for (const r of replicas) {
    if (r.status === null) {
      if (!down.includes(r.name)) out.push(`${r.name} unreachable from here, but UP in its peers' view: ${r.error ?? ''}`);
      else out.push(`${r.name} unreachable: ${r.error ?? ''}`);
      continue;
    }
    const s = r.status;
    const disagree = Object.entries(seen[r.name] ?? {}).filter(([subject, v]) => v === 'DOWN' && !down.includes(subject)).map(([subject]) => subject);
    if (disagree.length > 0) out.push(`${r.name} alone sees ${disagree.join(', ')} DOWN (a partition?)`);
    if (!s.logWritable) out.push(`${r.name}: DISK FULL, acking no writes`);
    if (s.clockWarning !== null) out.push(`${r.name}: clock: ${s.clockWarning}`);
    for (const p of s.peers) {
      if (p.configMismatch) out.push(`${r.name}: ${p.name} has another config`);
      if (p.forged || p.refusesOurCookie) out.push(`${r.name}: ${p.name} has another cookie`);
      if (p.clockRefused) out.push(`${r.name}: ${p.name}'s clock is beyond max_clock_skew_ms`);
      if (p.hintsExpired > 0) out.push(`${r.name}: ${p.hintsExpired} hints for ${p.name} expired (repair ${p.name})`);
    }
  }
  return out;
}

/** Polls every replica of nodes.toml; keeps the previous snapshot for rates. */
export class SnapshotPoller {
  private last: ClusterSnapshot | null = null;

  private constructor(private readonly client: KvClient) {}

  static async open(opts: ClientOptions & { pollTimeoutMs?: number }): Promise<SnapshotPoller> {
    const { pollTimeoutMs, ...clientOpts } = opts;
    return new SnapshotPoller(await KvClient.open({ ...clientOpts, timeoutMs: pollTimeoutMs ?? pollTimeoutMsDefault }));
  }

  get config(): ClusterConfig {
    return this.client.config;
  }

  async poll(): Promise<ClusterSnapshot> {
    const answers = await Promise.all(this.client.config.nodes.map(async (n): Promise<PollAnswer> => {
      const started = performance.now();
      try {
        const status = await this.client.status(n.name);
        return { name: n.name, status, pollMs: Math.round((performance.now() - started) * 100) / 100 };
      } catch (e) {
        return { name: n.name, error: e instanceof Error ? e.message : String(e) };
      }
    }));
    this.last = mergeSnapshot(this.client.config, answers, this.last, Date.now());
    return this.last;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
