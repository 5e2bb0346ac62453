// What a replica counts for operators: client requests by kind, its latency as coordinator, the
// errors it answered, its durable log writes (latency and records per write: the disk every ack
// waits for), the time it takes to handle one datagram (its own work per hop), and gauges read from
// the node's status (hints, peers, log). The runtime feeds it the client requests it receives, the
// replies it sends, the log writes it makes and the datagrams it handles; pm2 (tx2) and Prometheus
// read it.
import * as hdr from 'hdr-histogram-js';
import { clientRequestsInFlightMax } from '../core/limits.js';
import type { ClientReply, ClientRequest, StatusReport } from '../core/messages.js';
import type { Figures } from '../core/state.js';
import type { Address } from '../core/types.js';

export const requestKinds = ['get', 'put', 'del', 'local', 'status', 'repair', 'state'] as const;
export type RequestKind = (typeof requestKinds)[number];
/** The coordinator's own error answers, counted by kind. */
export const errorKinds = ['Unavailable', 'Timeout', 'Overloaded', 'InvalidRequest', 'Forbidden', 'ClockSkew'] as const;
export type ErrorKindCounted = (typeof errorKinds)[number];

/** Rates and the p99 cover this much of the recent past. */
export const metricsWindowMs = 10_000;
/** Requests whose reply is awaited, for latency; past it the oldest is forgotten (its latency not counted). */
export const latencyTrackedMax = 2 * clientRequestsInFlightMax;
/** Latencies are recorded in microseconds, up to this (a minute: no coordinator deadline is longer). */
const latencyUsMax = 60_000_000;

export interface MetricsSnapshot {
  /** Client requests received since start, by kind (retransmissions not counted). */
  requests: Record<RequestKind, number>;
  /** Requests per second by kind over the last metricsWindowMs. */
  requestsPerSecond: Record<RequestKind, number>;
  /** Error answers since start, by kind. */
  errors: Record<ErrorKindCounted, number>;
  /** 99th percentile ms from receiving a get, put or del to answering it, over the last one or two windows; null before any. */
  coordinatorP99Ms: number | null;
  /** Hints this replica holds for its peers (itself excluded). */
  hintsPending: number;
  /** Replicas this one sees up, itself included. */
  peersUp: number;
  peers: number;
  logBytes: number;
  keysStored: number;
  /** A restarted replica's wait-out: ms until every write sent is served (pm2's 'ready'); 0 from then on (core/restart-wait.ts). */
  writesServedInMs: number;
  /** Keys anti-entropy sent to peers or received from them since start, all peers together. */
  antiEntropyKeysRepaired: number;
  /** Durable log writes since start (each one write of a group of records, durable on return), and the records they held. */
  logWrites: number;
  logRecordsWritten: number;
  /** Median and 99th percentile ms of one durable log write, over the last one or two windows; null before any. */
  logWriteP50Ms: number | null;
  logWriteP99Ms: number | null;
  /** Median and 99th percentile ms of handling one datagram (decode, the node's step, its effects queued), over the last one or two windows; null before any. */
  datagramP50Ms: number | null;
  datagramP99Ms: number | null;
}

/** The figures a `state` answer carries (core/state.ts): rates, errors, latency quantiles. */
export function stateFigures(s: MetricsSnapshot): Figures {
  return {
    requestsPerSecond: { ...s.requestsPerSecond }, errors: { ...s.errors },
    coordinatorP99Ms: s.coordinatorP99Ms, logWriteP50Ms: s.logWriteP50Ms, logWriteP99Ms: s.logWriteP99Ms,
  };
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: latencyUsMax, numberOfSignificantValueDigits: 2 });
}

/** Durations over the current window and the one before it, in microseconds: quantiles follow the recent past. */
class RecentDurations {
  private current = newHistogram();
  private previous = newHistogram();
  private readonly merged = newHistogram();

  record(durationMs: number): void {
    this.current.recordValue(Math.min(Math.max(1, Math.round(durationMs * 1000)), latencyUsMax));
  }

  /** A new window begins: the oldest is forgotten. */
  rotate(): void {
    [this.previous, this.current] = [this.current, this.previous];
    this.current.reset();
  }

  /** The quantile (0..100) in ms over both windows; null when they hold nothing. */
  quantileMs(percentile: number): number | null {
    this.merged.reset();
    this.merged.add(this.previous);
    this.merged.add(this.current);
    return this.merged.totalCount === 0 ? null : this.merged.getValueAtPercentile(percentile) / 1000;
  }
}

export class ReplicaMetrics {
  private readonly requests = zeroes(requestKinds);
  private readonly errors = zeroes(errorKinds);
  /** Request totals at the start of each of the last windows (oldest first), for rates. */
  private readonly marks: { atMs: number; requests: Record<RequestKind, number> }[] = [];
  /** `${from} ${id}` -> when the request came and its kind; Map order is arrival order. */
  private readonly awaiting = new Map<string, { atMs: number; kind: RequestKind }>();
  /** From receiving a get, put or del to answering it. */
  private readonly coordinatorLatency = new RecentDurations();
  private readonly logWriteTimes = new RecentDurations();
  private readonly datagramTimes = new RecentDurations();
  private logWrites = 0;
  private logRecordsWritten = 0;
  private windowStartMs: number;
  private status: StatusReport | null = null;

  constructor(nowMs: number) {
    this.windowStartMs = nowMs;
    this.marks.push({ atMs: nowMs, requests: { ...this.requests } });
  }

  /** A client request as received; a retransmission (same sender and id) is not counted again. */
  requestIn(from: Address, msg: ClientRequest, nowMs: number): void {
    if (msg.t === 'client.set' || msg.t === 'keyring' || msg.t === 'time') return; // admins' changes, a clock probe: not request kinds of the figures
    const id = `${from} ${msg.id}`;
    if (this.awaiting.has(id)) return;
    this.requests[msg.t]++;
    this.awaiting.set(id, { atMs: nowMs, kind: msg.t });
    if (this.awaiting.size > latencyTrackedMax) this.awaiting.delete(this.awaiting.keys().next().value!);
  }

  /** A reply on its way to a client. */
  replyOut(to: Address, msg: ClientReply, nowMs: number): void {
    this.rotate(nowMs);
    if (msg.t === 'fail') this.errors[msg.error]++;
    const id = `${to} ${msg.id}`;
    const asked = this.awaiting.get(id);
    if (asked === undefined) return; // a reply to a retransmission, answered before
    this.awaiting.delete(id);
    if (asked.kind === 'get' || asked.kind === 'put' || asked.kind === 'del') {
      this.coordinatorLatency.record(nowMs - asked.atMs);
    }
  }

  /** One durable write of `records` log records that took durationMs (the wait for the disk included). */
  logWrite(durationMs: number, records: number, nowMs: number): void {
    this.rotate(nowMs);
    this.logWrites++;
    this.logRecordsWritten += records;
    this.logWriteTimes.record(durationMs);
  }

  /** One datagram handled in durationMs, from its arrival in the socket callback to its effects queued. */
  datagramHandled(durationMs: number): void {
    this.datagramTimes.record(durationMs);
  }

  /** The node's own status, for the gauges; the caller refreshes it as often as it reports. */
  fromStatus(status: StatusReport): void {
    this.status = status;
  }

  snapshot(nowMs: number): MetricsSnapshot {
    this.rotate(nowMs);
    const oldest = this.marks[0]!;
    const seconds = Math.max((nowMs - oldest.atMs) / 1000, 1);
    const requestsPerSecond = zeroes(requestKinds);
    for (const k of requestKinds) requestsPerSecond[k] = Math.round(((this.requests[k] - oldest.requests[k]) / seconds) * 10) / 10;
    const s = this.status;
    const others = s === null ? [] : s.peers.filter((p) => p.name !== s.node);
    return {
      requests: { ...this.requests },
      requestsPerSecond,
      errors: { ...this.errors },
      coordinatorP99Ms: this.coordinatorLatency.quantileMs(99),
      hintsPending: others.reduce((n, p) => n + p.hintsPending, 0),
      peersUp: s === null ? 0 : s.peers.filter((p) => p.up || p.name === s.node).length,
      peers: s === null ? 0 : s.peers.length,
      logBytes: s?.logBytes ?? 0,
      keysStored: s?.keysStored ?? 0,
      writesServedInMs: s?.writesServedInMs ?? 0,
      antiEntropyKeysRepaired: others.reduce((n, p) => n + p.antiEntropy.keysSent + p.antiEntropy.keysReceived, 0),
      logWrites: this.logWrites,
      logRecordsWritten: this.logRecordsWritten,
      logWriteP50Ms: this.logWriteTimes.quantileMs(50),
      logWriteP99Ms: this.logWriteTimes.quantileMs(99),
      datagramP50Ms: this.datagramTimes.quantileMs(50),
      datagramP99Ms: this.datagramTimes.quantileMs(99),
    };
  }

  /** Starts a new window when the current one is over; rates span the last two marks. */
  private rotate(nowMs: number): void {
    if (nowMs - this.windowStartMs < metricsWindowMs) return;
    this.coordinatorLatency.rotate();
    this.logWriteTimes.rotate();
    this.datagramTimes.rotate();
    this.windowStartMs = nowMs;
    this.marks.push({ atMs: nowMs, requests: { ...this.requests } });
    if (this.marks.length > 2) this.marks.shift();
  }
}
