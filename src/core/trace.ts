// Request tracing (Cassandra's TRACING ON): a traced get, put, del or repair collects typed events,
// every message its coordinator sent and why, every replica's own steps (carried back on its
// reply), every ack with its latency on the coordinator's clock, and the decision, and the answer
// carries them back, so a trace is complete when the answer arrives. Events are values of a closed
// set of kinds: the table kvc prints and the JSON a test asserts are made from the same values.
// An untraced request holds `null` and costs one null check per step.
import {
  nodeNameBytesMax, nodesMax, sampledTracesKeptMax, slowRequestLinesPerSecondMax, slowRequestsKeptMax, traceBytesMax, traceEventBytesMax, traceEventsMax, traceNoteBytesMax, traceReplicaEventsMax,
} from './limits.js';
import { bad, checked, keyField, obj, oneOf, text, uint } from './field-checks.js';
// Only inside functions: messages.ts validates traces with this file's parsers.
import { utf8Bytes } from './messages.js';
import type { Random } from './prng.js';
import type { Address, Key, Level, NodeIndex, Stamp } from './types.js';

export const traceKinds = [
  // coordinator
  'replicas', 'stamped', 'sent', 'resent', 'hint', 'ack', 'read-reply', 'stale', 'repair-ack', 'no-reply', 'waiting',
  'repair-round',
  // replica
  'received', 'applied', 'not-newer', 'durable', 'read-local', 'replied',
  // decisions: a trace ends with one
  'answered', 'timeout', 'unavailable', 'refused', 'repaired',
  // past traceEventsMax
  'truncated',
] as const;
export type TraceKind = (typeof traceKinds)[number];
/** Why a message was sent, or a hint stored. */
export const traceWhys = ['write', 'read', 'read-repair', 'down', 'no-ack', 'anti-entropy'] as const;
export type TraceWhy = (typeof traceWhys)[number];
export const tracedOps = ['get', 'put', 'del', 'repair'] as const;
export type TracedOp = (typeof tracedOps)[number];

/**
 * One step. `atUs` is the source's wall clock in µs; `elapsedUs` the µs since the source began its
 * part of this request (Cassandra's source_elapsed). Latencies are on the coordinator's clock.
 */
export interface TraceEvent {
  kind: TraceKind;
  src: NodeIndex;
  atUs: number;
  elapsedUs: number;
  /** The other party: sent to, ack from, hint for, stale replica. */
  peer?: NodeIndex;
  why?: TraceWhy;
  /** A latency in µs (ack, read-reply, repair-ack, durable), an attempt (resent), acks (answered, timeout), keys sent (repair-round). */
  n?: number;
  /** Acks required (answered, timeout), keys received (repair-round). */
  m?: number;
  /** A version's stamp (stamped, applied, read-reply, read-local, stale: the newest); null: none held. */
  stamp?: Stamp | null;
  /** The older stamp a stale replica held (null: nothing). */
  old?: Stamp | null;
  /** Replicas: of the key (replicas), down (replicas), acked (timeout), still outstanding (waiting). */
  nodes?: NodeIndex[];
  down?: NodeIndex[];
  /** Short text: a refusal's message, a repair round's error. */
  note?: string;
}

/** What the answer carries: the session and every event, in the order the coordinator learnt of them. */
export interface TraceReport {
  session: string;
  coordinator: NodeIndex;
  op: TracedOp;
  key: Key | null;
  level: Level | null;
  client: Address;
  /** The coordinator's wall clock in µs when the request arrived. */
  startedAtUs: number;
  /** From arrival to answer, on the coordinator's clock. */
  durationUs: number;
  events: TraceEvent[];
  /** Events left out past traceEventsMax (the last event kept is `truncated`, then the decision). */
  dropped: number;
  /** Why it was traced: the client asked, or trace_probability sampled it. */
  sampled: boolean;
}

type Fields = Omit<TraceEvent, 'kind' | 'src' | 'atUs' | 'elapsedUs'>;

/** µs of a clock given in ms (with a fraction), as integers end to end. */
export function toUs(clockMs: number): number {
  return Math.round(clockMs * 1000);
}

/** A time-ordered session id in UUID form (version 7 layout: ms first), from the coordinator's clock, index and a counter: no randomness needed. */
export function sessionId(wallMs: number, node: NodeIndex, seq: number): string {
  const hex = (n: number, width: number) => Math.floor(n).toString(16).padStart(width, '0').slice(-width);
  const ms = hex(wallMs, 12);
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${hex(node, 3)}-8${hex(Math.floor(seq / 2 ** 32), 3)}-${hex(seq % 2 ** 32, 12)}`;
}

/**
 * An upper bound of an event's CBOR size: a map header, then per field its name and value (a
 * number at most 9 bytes, a node index 2, a text its bytes plus 3). Cheap, and only run traced.
 */
export function eventBytes(e: TraceEvent): number {
  let n = 1;
  for (const [field, v] of Object.entries(e)) {
    n += field.length + 1;
    if (typeof v === 'number') n += 9;
    else if (typeof v === 'string') n += utf8Bytes(v) + 3;
    else if (v === null) n += 1;
    else if (field === 'stamp' || field === 'old') n += 1 + 3 * 9;
    else if (Array.isArray(v)) n += 3 + 2 * v.length;
  }
  return n;
}

/** A coordinator's trace of one request. */
export class Trace {
  private readonly events: TraceEvent[] = [];
  private dropped = 0;
  /** An upper bound of the events' encoded size (eventBytes). */
  private bytes = 0;
  private truncated: TraceEvent | null = null;
  /** When each peer was last sent this request's message, for its ack's latency. */
  private readonly sentUs = new Map<NodeIndex, number>();

  constructor(
    readonly session: string, private readonly self: NodeIndex, readonly startedAtUs: number,
    private readonly what: { op: TracedOp; key: Key | null; level: Level | null; client: Address; sampled: boolean },
  ) {}

  add(kind: TraceKind, nowUs: number, fields: Fields = {}): void {
    this.push({ kind, src: this.self, atUs: nowUs, elapsedUs: Math.max(0, nowUs - this.startedAtUs), ...fields });
  }

  /** A message to a peer: the event, and its time for the latency of the answer. */
  sent(peer: NodeIndex, why: TraceWhy, nowUs: number): void {
    this.sentUs.set(peer, nowUs);
    this.add('sent', nowUs, { peer, why });
  }

  /** µs since the last message to this peer, on this clock. */
  latencyUs(peer: NodeIndex, nowUs: number): number {
    return Math.max(0, nowUs - (this.sentUs.get(peer) ?? this.startedAtUs));
  }

  /** A replica's own steps, as its reply carried them, placed before the coordinator's event for that reply. */
  replicaSteps(events: readonly TraceEvent[] | undefined): void {
    if (events === undefined) return;
    for (const e of events.slice(0, traceReplicaEventsMax)) this.push(e);
  }

  /** The answer's copy: ends with `decision`, which is always kept, past the limit too. */
  report(decision: TraceKind, nowUs: number, fields: Fields = {}): TraceReport {
    const last: TraceEvent = { kind: decision, src: this.self, atUs: nowUs, elapsedUs: Math.max(0, nowUs - this.startedAtUs), ...fields };
    return {
      session: this.session, coordinator: this.self, ...this.what, startedAtUs: this.startedAtUs, durationUs: last.elapsedUs,
      events: [...this.events, last], dropped: this.dropped,
    };
  }

  private push(e: TraceEvent): void {
    // Room is kept for `truncated` and for the decision, in count and in bytes.
    const size = eventBytes(e);
    if (this.truncated === null && this.events.length < traceEventsMax - 2 && this.bytes + size <= traceBytesMax - 2 * traceEventBytesMax) {
      this.events.push(e);
      this.bytes += size;
      return;
    }
    this.dropped++;
    const note = `${this.dropped} more events left out (limits traceEventsMax ${traceEventsMax}, traceBytesMax ${traceBytesMax})`;
    if (this.truncated === null) this.events.push(this.truncated = { kind: 'truncated', src: this.self, atUs: e.atUs, elapsedUs: e.elapsedUs, note });
    else this.truncated.note = note;
  }
}

/** A replica's steps for a traced replica request, sent back on its reply (at most traceReplicaEventsMax). */
export class ReplicaTrace {
  readonly events: TraceEvent[] = [];
  private readonly startUs: number;

  constructor(private readonly self: NodeIndex, nowUs: number, from: NodeIndex, why: TraceWhy) {
    this.startUs = nowUs;
    this.add('received', nowUs, { peer: from, why });
  }

  add(kind: TraceKind, nowUs: number, fields: Fields = {}): void {
    if (this.events.length >= traceReplicaEventsMax) return; // a replica records a fixed handful of steps; the bound is for the wire
    this.events.push({ kind, src: this.self, atUs: nowUs, elapsedUs: Math.max(0, nowUs - this.startUs), ...fields });
  }
}

/** A request that took at least slow_request_ms, as `state` lists it; `trace` when it was traced. */
export interface SlowRequest {
  op: TracedOp; key: Key | null; level: Level | null; atMs: number; durationMs: number; outcome: string; session: string | null;
  trace: TraceReport | null;
}

/** A node's tracing: sampling, session ids, the slow-request log and the recent slow requests. */
export class Tracing {
  private seq = 0;
  private readonly slow: SlowRequest[] = [];
  private readonly sampled: TraceReport[] = [];
  private linesThisSecond = 0;
  private second = -1;
  private unlogged = 0;

  constructor(
    private readonly self: NodeIndex,
    /** trace_probability: the share of requests traced although their client did not ask (0: none). */
    readonly probability: number,
    /** slow_request_ms: requests at least this slow are logged and kept (0: off). */
    readonly slowRequestMs: number,
    private readonly random: Random,
    private readonly log: (text: string) => void,
  ) {}

  /** A trace for this request if its client asked, or by sampling; else null (the untraced path draws no random number when the probability is 0). */
  start(asked: boolean, clockMs: number, what: { op: TracedOp; key: Key | null; level: Level | null; client: Address }): Trace | null {
    const sampled = !asked && this.probability > 0 && this.random() < this.probability;
    if (!asked && !sampled) return null;
    return new Trace(sessionId(clockMs, this.self, ++this.seq), this.self, toUs(clockMs), { ...what, sampled });
  }

  /** Keeps a sampled trace; logs and keeps a finished request when it took at least slow_request_ms. */
  finished(r: Omit<SlowRequest, 'session'>): void {
    if (r.trace?.sampled === true) {
      this.sampled.push(r.trace);
      if (this.sampled.length > sampledTracesKeptMax) this.sampled.shift();
    }
    if (this.slowRequestMs === 0 || r.durationMs < this.slowRequestMs) return;
    const session = r.trace?.session ?? null;
    this.slow.push({ ...r, session });
    if (this.slow.length > slowRequestsKeptMax) this.slow.shift();
    const second = Math.floor(r.atMs / 1000);
    if (second !== this.second) { this.second = second; this.linesThisSecond = 0; }
    if (this.linesThisSecond >= slowRequestLinesPerSecondMax) { this.unlogged++; return; }
    this.linesThisSecond++;
    const more = this.unlogged > 0 ? ` (${this.unlogged} more slow requests not logged before this one)` : '';
    this.unlogged = 0;
    this.log(`slow request: ${describeRequest(r.op, r.key, r.level)} took ${r.durationMs} ms (slow_request_ms ${this.slowRequestMs}): ${r.outcome}` +
      `${session === null ? '' : `; trace ${session}`}${more}`);
  }

  /** The recent slow requests, newest last. */
  recentSlow(): readonly SlowRequest[] {
    return this.slow;
  }

  /** The recent traces trace_probability sampled, newest last. */
  recentSampled(): readonly TraceReport[] {
    return this.sampled;
  }
}

/** Text cut to traceNoteBytesMax bytes of UTF-8, so a note always fits its bound. */
export function clip(text: string): string {
  if (utf8Bytes(text) <= traceNoteBytesMax) return text;
  let out = text.slice(0, traceNoteBytesMax - 1);
  while (utf8Bytes(`${out}…`) > traceNoteBytesMax) out = out.slice(0, -1);
  return `${out}…`;
}

export function describeRequest(op: TracedOp, key: Key | null, level: Level | null): string {
  return `${op}${key === null ? '' : ` key ${key}`}${level === null ? '' : ` at ${level}`}`;
}

// ---- text ---------------------------------------------------------------------------------------

function ms(us: number | undefined): string {
  return `${((us ?? 0) / 1000).toFixed(3)} ms`;
}
function st(s: Stamp | null | undefined): string {
  return s === null || s === undefined ? 'nothing' : `${s[0]}.${s[1]}@${s[2]}`;
}

/** The activity column: one line of English per event. */
export function activityText(e: TraceEvent, nameOf: (n: NodeIndex) => string): string {
  const peer = e.peer === undefined ? '?' : e.peer === e.src ? `${nameOf(e.peer)} (itself)` : nameOf(e.peer);
  const names = (ns: NodeIndex[] | undefined) => (ns === undefined || ns.length === 0 ? 'none' : ns.map(nameOf).join(', '));
  switch (e.kind) {
    case 'replicas': return `replicas: ${names(e.nodes)}${e.down !== undefined && e.down.length > 0 ? ` (${names(e.down)} DOWN)` : ', all UP'}`;
    case 'stamped': return `stamped ${st(e.stamp)}`;
    case 'sent': return `${e.why === 'read' ? 'read' : e.why === 'read-repair' ? 'read repair' : 'write'} sent to ${peer}`;
    case 'resent': return `sent to ${peer} again (attempt ${e.n ?? '?'}, no answer yet)`;
    case 'hint': return `hint stored for ${peer} (${e.why === 'down' ? 'it is DOWN' : 'no ack by the deadline'})`;
    case 'ack': return `ack from ${peer} after ${ms(e.n)} (${e.m ?? '?'} acked)`;
    case 'read-reply': return `reply from ${peer} after ${ms(e.n)}: ${e.stamp === null || e.stamp === undefined ? 'not found' : `stamp ${st(e.stamp)}`}`;
    case 'stale': return `${peer} is stale: holds ${st(e.old)}, newest ${st(e.stamp)}`;
    case 'repair-ack': return `read repair acked by ${peer} after ${ms(e.n)}`;
    case 'no-reply': return `no reply from ${peer} by the deadline`;
    case 'waiting': return `still waiting for ${names(e.nodes)} when answered`;
    case 'repair-round': return `anti-entropy with ${peer}: ${e.note !== undefined ? e.note : `sent ${e.n ?? 0}, received ${e.m ?? 0}`}`;
    case 'received': return `${e.why === 'read' ? 'read' : e.why === 'read-repair' ? 'read repair' : 'write'} received from ${peer}`;
    case 'applied': return `newer than what it held (${st(e.old)}): log append of ${st(e.stamp)}`;
    case 'not-newer': return `not newer than held or on its way to disk: no log append`;
    case 'durable': return `durable after ${ms(e.n)} (log fsync, group commit)`;
    case 'read-local': return `read local copy: ${e.stamp === null || e.stamp === undefined ? 'not found' : `stamp ${st(e.stamp)}`}`;
    case 'replied': return `reply sent to ${peer}`;
    case 'answered': return `answered at ${e.why === 'read' ? 'reply' : 'ack'} ${e.n ?? '?'} (${e.m ?? '?'} needed)`;
    case 'timeout': return `Timeout: ${e.n ?? 0} of ${e.m ?? '?'} ${e.why === 'read' ? 'replies' : 'acks'} by the deadline (from ${names(e.nodes)})`;
    case 'unavailable': return `Unavailable: ${e.note ?? ''}`;
    case 'refused': return `refused: ${e.note ?? ''}`;
    case 'repaired': return `repair done: ${e.note ?? ''}`;
    case 'truncated': return `… ${e.note ?? ''}`;
  }
}

// ---- validation (what a reply carries is checked like every field of a message) ------------------

function node(x: unknown, what: string): NodeIndex { return uint(x, what, nodesMax - 1); }
function stampOrNull(x: unknown, what: string): Stamp | null {
  if (x === null) return null;
  if (!Array.isArray(x) || x.length !== 3) bad(`${what}: expected a stamp or null`);
  return [uint(x[0], what), uint(x[1], what), node(x[2], what)];
}
function nodes(x: unknown, what: string): NodeIndex[] {
  if (!Array.isArray(x) || x.length > nodesMax) bad(`${what}: expected at most ${nodesMax} nodes`);
  return x.map((n) => node(n, what));
}
function event(x: unknown): TraceEvent {
  const o = obj(x, 'trace event');
  const e: TraceEvent = { kind: oneOf(o.kind, traceKinds, 'trace.kind'), src: node(o.src, 'trace.src'), atUs: uint(o.atUs, 'trace.atUs'), elapsedUs: uint(o.elapsedUs, 'trace.elapsedUs') };
  if (o.peer !== undefined) e.peer = node(o.peer, 'trace.peer');
  if (o.why !== undefined) e.why = oneOf(o.why, traceWhys, 'trace.why');
  if (o.n !== undefined) e.n = uint(o.n, 'trace.n');
  if (o.m !== undefined) e.m = uint(o.m, 'trace.m');
  if (o.stamp !== undefined) e.stamp = stampOrNull(o.stamp, 'trace.stamp');
  if (o.old !== undefined) e.old = stampOrNull(o.old, 'trace.old');
  if (o.nodes !== undefined) e.nodes = nodes(o.nodes, 'trace.nodes');
  if (o.down !== undefined) e.down = nodes(o.down, 'trace.down');
  if (o.note !== undefined) e.note = text(o.note, 'trace.note', traceNoteBytesMax);
  return e;
}

function events(x: unknown, max: number): TraceEvent[] {
  if (!Array.isArray(x) || x.length > max) bad(`trace: expected at most ${max} events`);
  return x.map(event);
}

/** A replica's steps on its reply, checked; a reason on failure. */
export function parseReplicaSteps(x: unknown): TraceEvent[] | string {
  return checked(() => events(x, traceReplicaEventsMax));
}

/** The trace on an answer, checked; a reason on failure. */
export function parseTraceReport(x: unknown): TraceReport | string {
  return checked(() => {
    const o = obj(x, 'trace');
    return {
      session: text(o.session, 'trace.session', 64), coordinator: node(o.coordinator, 'trace.coordinator'), op: oneOf(o.op, tracedOps, 'trace.op'),
      key: o.key === null ? null : keyField(o.key, 'trace.key'),
      level: o.level === null ? null : oneOf(o.level, ['ONE', 'TWO', 'THREE', 'QUORUM', 'ALL'] as const, 'trace.level'),
      client: text(o.client, 'trace.client', nodeNameBytesMax), startedAtUs: uint(o.startedAtUs, 'trace.startedAtUs'),
      durationUs: uint(o.durationUs, 'trace.durationUs'), events: events(o.events, traceEventsMax), dropped: uint(o.dropped, 'trace.dropped'),
      sampled: o.sampled === true,
    };
  });
}
