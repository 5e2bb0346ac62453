// Every message a socket can carry, as one discriminated union on `t`, and `validate`, which turns
// anything a decoder produced into a typed message or a reason. Nothing here throws on bad input.
import { configDigestCharsMax, keyMax, keyMin, messageIdMax, nodeNameBytesMax, nodesMax, valueBytesMaxCeiling } from './limits.js';
import { clientErrors, levels, type ClientError, type Key, type Level, type NodeIndex, type Stamp } from './types.js';

// ---- client <-> coordinator ----------------------------------------------------------------

/**
 * `seen`: the newest stamp this client has been answered with. The coordinator's clock moves past it
 * before stamping, so a client's later write beats its earlier one whichever coordinator serves it.
 */
export interface GetRequest { t: 'get'; id: number; key: Key; level: Level; seen?: Stamp }
export interface PutRequest { t: 'put'; id: number; key: Key; value: string; level: Level; seen?: Stamp }
/** A replica's own stored version of a key, without coordination. */
export interface LocalRequest { t: 'local'; id: number; key: Key }
export interface StatusRequest { t: 'status'; id: number }
export type ClientRequest = GetRequest | PutRequest | LocalRequest | StatusRequest;

export interface GetReply { t: 'get.ok'; id: number; key: Key; value: string | null; stamp: Stamp | null; coordinator: string }
export interface PutReply { t: 'put.ok'; id: number; key: Key; stamp: Stamp; coordinator: string }
export interface LocalReply { t: 'local.ok'; id: number; key: Key; value: string | null; stamp: Stamp | null; node: string }
export interface StatusReply { t: 'status.ok'; id: number; status: StatusReport }
export interface FailReply {
  t: 'fail'; id: number; error: ClientError; message: string;
  /** Timeout: acks received and acks required. */
  acks?: number; required?: number;
}
export type ClientReply = GetReply | PutReply | LocalReply | StatusReply | FailReply;

export interface RangeReport { first: Key; last: Key; replicas: string[] }
/** hintsExpired: hints for this target dropped past max_hint_window_ms since this node started (repair those keys). */
export interface PeerReport {
  name: string; up: boolean; hintsPending: number; hintsExpired: number;
  /** The peer's wall clock minus this node's, at its last heartbeat (null: none heard yet). */
  clockOffsetMs: number | null;
  /** Its last heartbeat or stamp was refused as further ahead than max_clock_skew_ms. */
  clockRefused: boolean;
  /** Its heartbeats carry another config digest: no replica traffic either way. */
  configMismatch: boolean;
  /** Datagrams from its address failed the HMAC check lately (it has another cookie). */
  forged: boolean;
  /** It told us lately (unauthenticated notice) that our datagrams fail its HMAC check. */
  refusesOurCookie: boolean;
}
export interface StatusReport {
  node: string;
  replicationFactor: number;
  repairMode: string;
  ring: RangeReport[];
  peers: PeerReport[];
  keysStored: number;
  logBytes: number;
  logRecords: number;
  droppedDatagrams: Record<string, number>;
  clientRequestsInFlight: number;
  /** Digest of what every replica's config must agree on (nodes in order, RF, value limit). */
  configDigest: string;
  /** Set when most peers' clocks are beyond max_clock_skew_ms of this one: this clock is probably wrong. */
  clockWarning: string | null;
  /** Versions the replay kept out of the store: stamped further ahead of the clock than max_clock_skew_ms. */
  quarantinedAtReplay: number;
}

// ---- replica <-> replica ----------------------------------------------------------------------
// Requests carry (from, gen, id): gen is the sender's generation, so ids reused after a restart
// are never mistaken for old ones. The reply carries the same id and is the ack.

export interface ReplicaWrite { t: 'rw'; from: NodeIndex; gen: number; id: number; key: Key; value: string; stamp: Stamp }
export interface ReplicaWriteAck { t: 'rw.ok'; from: NodeIndex; id: number }
export interface ReplicaRead { t: 'rr'; from: NodeIndex; gen: number; id: number; key: Key }
export interface ReplicaReadAck { t: 'rr.ok'; from: NodeIndex; id: number; value: string | null; stamp: Stamp | null }
/** A batch of hinted writes for the receiver, [key, value, stamp] each. */
export interface HintBatch { t: 'hints'; from: NodeIndex; gen: number; id: number; writes: [Key, string, Stamp][] }
export interface HintBatchAck { t: 'hints.ok'; from: NodeIndex; id: number }
/** One-way, never acked. */
/** `wall`: the sender's wall clock when sent; `digest`: its config digest (see config-digest.ts). */
export interface Heartbeat { t: 'hb'; from: NodeIndex; gen: number; counter: number; hlc: Stamp; wall: number; digest: string }

export type PeerRequest = ReplicaWrite | ReplicaRead | HintBatch;
export type PeerReply = ReplicaWriteAck | ReplicaReadAck | HintBatchAck;
export type PeerMessage = PeerRequest | PeerReply | Heartbeat;

export type Message = ClientRequest | ClientReply | PeerMessage;

export type Validated = { ok: true; msg: Message } | { ok: false; reason: string };

// ---- validation -------------------------------------------------------------------------------

/** UTF-8 length of a well-formed string, without allocating. */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

class Invalid extends Error {}
function fail(reason: string): never { throw new Invalid(reason); }

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}
function uint(o: Record<string, unknown>, field: string, max = messageIdMax): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${field}: expected an integer in 0..${max}, got ${describe(v)}`);
  return v;
}
function key(o: Record<string, unknown>): Key {
  const v = o.key;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < keyMin || v > keyMax) fail(`key: expected an integer in ${keyMin}..${keyMax}, got ${describe(v)}`);
  return v;
}
function text(o: Record<string, unknown>, field: string, bytesMax: number): string {
  const v = o[field];
  if (typeof v !== 'string') fail(`${field}: expected a string, got ${describe(v)}`);
  if (!v.isWellFormed()) fail(`${field}: not well-formed Unicode (lone surrogate)`);
  const n = utf8Bytes(v);
  if (n > bytesMax) fail(`${field}: ${n} bytes, over the limit of ${bytesMax}`);
  return v;
}
function value(x: unknown, bytesMax: number): string {
  return text({ value: x }, 'value', bytesMax);
}
function level(o: Record<string, unknown>): Level {
  const v = o.level;
  if (typeof v !== 'string' || !(levels as readonly string[]).includes(v)) fail(`level: expected one of ${levels.join(', ')}, got ${describe(v)}`);
  return v as Level;
}
function node(o: Record<string, unknown>, field = 'from'): number { return uint(o, field, nodesMax - 1); }
function stamp(x: unknown, field = 'stamp'): Stamp {
  if (!Array.isArray(x) || x.length !== 3) fail(`${field}: expected [wallMs, counter, node]`);
  const [w, c, n] = x as unknown[];
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > messageIdMax) fail(`${field}: bad wall clock ${describe(w)}`);
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > messageIdMax) fail(`${field}: bad counter ${describe(c)}`);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= nodesMax) fail(`${field}: bad node ${describe(n)}`);
  return [w, c, n];
}
function version(o: Record<string, unknown>, bytesMax: number): { value: string | null; stamp: Stamp | null } {
  if (o.value === null && o.stamp === null) return { value: null, stamp: null };
  if (o.value === undefined && o.stamp === undefined) fail('value, stamp: expected both, or both null');
  return { value: value(o.value, bytesMax), stamp: stamp(o.stamp) };
}
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

/** A signed integer (a clock offset). */
function int(o: Record<string, unknown>, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${field}: expected an integer, got ${describe(v)}`);
  return v;
}
/** A client request's optional newest-seen stamp. */
function withSeen<R extends GetRequest | PutRequest>(o: Record<string, unknown>, req: R): R {
  if (o.seen !== undefined) req.seen = stamp(o.seen, 'seen');
  return req;
}

function validateStatus(x: unknown): StatusReport {
  if (!isRecord(x)) fail('status: expected an object');
  const s = x;
  const list = (field: string): Record<string, unknown>[] => {
    const v = s[field];
    if (!Array.isArray(v) || v.length > nodesMax) fail(`status.${field}: expected a list of at most ${nodesMax}`);
    return v.map((e) => (isRecord(e) ? e : fail(`status.${field}: expected objects`)));
  };
  const dropped = s.droppedDatagrams;
  if (!isRecord(dropped)) fail('status.droppedDatagrams: expected an object');
  const droppedDatagrams: Record<string, number> = {};
  for (const reason of Object.keys(dropped).slice(0, 32)) droppedDatagrams[text({ reason }, 'reason', 64)] = uint(dropped, reason);
  return {
    node: text(s, 'node', nodeNameBytesMax),
    replicationFactor: uint(s, 'replicationFactor', nodesMax),
    repairMode: text(s, 'repairMode', 32),
    ring: list('ring').map((r) => ({
      first: key({ key: r.first }), last: key({ key: r.last }),
      replicas: (Array.isArray(r.replicas) ? r.replicas : fail('status.ring: expected replicas')).map((n: unknown) => text({ n }, 'n', nodeNameBytesMax)),
    })),
    peers: list('peers').map((p) => ({
      name: text(p, 'name', nodeNameBytesMax), up: p.up === true, hintsPending: uint(p, 'hintsPending'), hintsExpired: uint(p, 'hintsExpired'),
      clockOffsetMs: p.clockOffsetMs === null ? null : int(p, 'clockOffsetMs'),
      clockRefused: p.clockRefused === true, configMismatch: p.configMismatch === true, forged: p.forged === true, refusesOurCookie: p.refusesOurCookie === true,
    })),
    keysStored: uint(s, 'keysStored'),
    logBytes: uint(s, 'logBytes'),
    logRecords: uint(s, 'logRecords'),
    droppedDatagrams,
    clientRequestsInFlight: uint(s, 'clientRequestsInFlight'),
    configDigest: text(s, 'configDigest', configDigestCharsMax),
    clockWarning: s.clockWarning === null ? null : text(s, 'clockWarning', 1_024),
    quarantinedAtReplay: uint(s, 'quarantinedAtReplay'),
  };
}

function validateOrThrow(x: unknown, valueBytesMax: number): Message {
  if (!isRecord(x)) fail(`message: expected a map, got ${describe(x)}`);
  const o = x;
  switch (o.t) {
    case 'get': return withSeen(o, { t: 'get', id: uint(o, 'id'), key: key(o), level: level(o) });
    case 'put': return withSeen(o, { t: 'put', id: uint(o, 'id'), key: key(o), value: value(o.value, valueBytesMax), level: level(o) });
    case 'local': return { t: 'local', id: uint(o, 'id'), key: key(o) };
    case 'status': return { t: 'status', id: uint(o, 'id') };
    case 'get.ok': return { t: 'get.ok', id: uint(o, 'id'), key: key(o), ...version(o, valueBytesMax), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'put.ok': return { t: 'put.ok', id: uint(o, 'id'), key: key(o), stamp: stamp(o.stamp), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'local.ok': return { t: 'local.ok', id: uint(o, 'id'), key: key(o), ...version(o, valueBytesMax), node: text(o, 'node', nodeNameBytesMax) };
    case 'status.ok': return { t: 'status.ok', id: uint(o, 'id'), status: validateStatus(o.status) };
    case 'fail': {
      const error = o.error;
      if (typeof error !== 'string' || !(clientErrors as readonly string[]).includes(error)) fail(`error: expected one of ${clientErrors.join(', ')}, got ${describe(error)}`);
      const reply: FailReply = { t: 'fail', id: uint(o, 'id'), error: error as ClientError, message: text(o, 'message', 4_096) };
      if (o.acks !== undefined) reply.acks = uint(o, 'acks', nodesMax);
      if (o.required !== undefined) reply.required = uint(o, 'required', nodesMax);
      return reply;
    }
    case 'rw': return { t: 'rw', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), key: key(o), value: value(o.value, valueBytesMax), stamp: stamp(o.stamp) };
    case 'rw.ok': return { t: 'rw.ok', from: node(o), id: uint(o, 'id') };
    case 'rr': return { t: 'rr', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), key: key(o) };
    case 'rr.ok': return { t: 'rr.ok', from: node(o), id: uint(o, 'id'), ...version(o, valueBytesMax) };
    case 'hints': {
      if (!Array.isArray(o.writes) || o.writes.length === 0) fail('writes: expected a non-empty array');
      const writes = (o.writes as unknown[]).map((w): [Key, string, Stamp] => {
        if (!Array.isArray(w) || w.length !== 3) fail('writes: expected [key, value, stamp] entries');
        return [key({ key: w[0] }), value(w[1], valueBytesMax), stamp(w[2])];
      });
      return { t: 'hints', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), writes };
    }
    case 'hints.ok': return { t: 'hints.ok', from: node(o), id: uint(o, 'id') };
    case 'hb': return {
      t: 'hb', from: node(o), gen: uint(o, 'gen'), counter: uint(o, 'counter'), hlc: stamp(o.hlc, 'hlc'),
      wall: uint(o, 'wall'), digest: text(o, 'digest', configDigestCharsMax),
    };
    default: return fail(`t: unknown message type ${describe(o.t)}`);
  }
}

/**
 * Checks anything a decoder produced. Returns a typed message (a fresh object holding only the
 * known fields) or the reason it was refused. `valueBytesMax` is the cluster's value limit.
 */
export function validate(x: unknown, valueBytesMax: number = valueBytesMaxCeiling): Validated {
  try {
    return { ok: true, msg: validateOrThrow(x, valueBytesMax) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, reason: e.message };
    return { ok: false, reason: `malformed: ${String(e)}` };
  }
}

export function isClientRequest(m: Message): m is ClientRequest {
  return m.t === 'get' || m.t === 'put' || m.t === 'local' || m.t === 'status';
}
export function isPeerMessage(m: Message): m is PeerMessage {
  return 'from' in m;
}
