// Every message a socket can carry, as one discriminated union on `t`, and `validate`, which turns
// anything a decoder produced into a typed message or a reason. Nothing here throws on bad input.
import {
  antiEntropyBlockCount, configDigestCharsMax, hintEntryOverheadBytes, keyCount, keyMax, keyMin, messageIdMax, nodeNameBytesMax, nodesMax, valueBytesMaxCeiling,
} from './limits.js';
import { clientErrors, levels, type ClientError, type Key, type Level, type NodeIndex, type Stamp, type StoredValue } from './types.js';

// ---- client <-> coordinator ----------------------------------------------------------------

/**
 * A coordinated request knows its age: `sentAtMs` is the client's wall clock when it made the
 * request, `deadlineMs` the wall-clock ms past which the client no longer waits for an answer. A
 * coordinator refuses one whose deadline has passed by its own clock, or that claims to be sent
 * more than max_clock_skew_ms in its future (see coordinator.ts admission).
 * `seen`: the newest stamp this client has been answered with. The coordinator's clock moves past it
 * before stamping, so a client's later write beats its earlier one whichever coordinator serves it.
 */
export interface RequestAge { sentAtMs: number; deadlineMs: number; seen?: Stamp }
export interface GetRequest extends RequestAge { t: 'get'; id: number; key: Key; level: Level }
export interface PutRequest extends RequestAge { t: 'put'; id: number; key: Key; value: string; level: Level }
/** A write of a tombstone: every path a put takes, with no value. */
export interface DelRequest extends RequestAge { t: 'del'; id: number; key: Key; level: Level }
/** A replica's own stored version of a key, without coordination. */
export interface LocalRequest { t: 'local'; id: number; key: Key }
export interface StatusRequest { t: 'status'; id: number }
/** Run an anti-entropy round with every peer now; answered once every round has finished. */
export interface RepairRequest { t: 'repair'; id: number }
export type ClientRequest = GetRequest | PutRequest | DelRequest | LocalRequest | StatusRequest | RepairRequest;
/** The client requests a coordinator fans out to the replicas of their key. */
export type CoordinatedRequest = GetRequest | PutRequest | DelRequest;

/** value null: not found; with a stamp, the newest version is a tombstone (deleted at that stamp). */
export interface GetReply { t: 'get.ok'; id: number; key: Key; value: string | null; stamp: Stamp | null; coordinator: string }
export interface PutReply { t: 'put.ok'; id: number; key: Key; stamp: Stamp; coordinator: string }
export interface DelReply { t: 'del.ok'; id: number; key: Key; stamp: Stamp; coordinator: string }
export interface LocalReply { t: 'local.ok'; id: number; key: Key; value: string | null; stamp: Stamp | null; node: string }
export interface StatusReply { t: 'status.ok'; id: number; status: StatusReport }
/** One peer's part of a repair: keys this replica sent it and received from it, or why it was not reached. */
export interface RepairPeerResult { name: string; reached: boolean; sent: number; received: number; error: string | null }
export interface RepairReply { t: 'repair.ok'; id: number; node: string; peers: RepairPeerResult[] }
export interface FailReply {
  t: 'fail'; id: number; error: ClientError; message: string;
  /** Timeout: acks received and acks required. */
  acks?: number; required?: number;
}
export type ClientReply = GetReply | PutReply | DelReply | LocalReply | StatusReply | RepairReply | FailReply;

export interface RangeReport { first: Key; last: Key; replicas: string[] }
/** hintsExpired: hints for this target dropped past max_hint_window_ms since this node started (repair those keys). */
export interface PeerReport {
  name: string; up: boolean; hintsPending: number; hintsExpired: number;
  antiEntropy: AntiEntropyReport;
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
/** Anti-entropy with one peer since this node started: rounds finished, when the last one did, keys repaired each way. */
export interface AntiEntropyReport { rounds: number; lastRoundMs: number | null; keysSent: number; keysReceived: number }
export interface StatusReport {
  node: string;
  replicationFactor: number;
  repairMode: string;
  /** 0: anti-entropy off. */
  antiEntropyIntervalMs: number;
  ring: RangeReport[];
  peers: PeerReport[];
  /** Keys holding a value here; deleted keys are counted as tombstones. */
  keysStored: number;
  tombstones: number;
  logBytes: number;
  logRecords: number;
  droppedDatagrams: Record<string, number>;
  clientRequestsInFlight: number;
  /** False while log appends fail for lack of space: this replica acks no writes until one succeeds. */
  logWritable: boolean;
  /** Log appends (batches of records) refused by a full disk since this node started. */
  logAppendsFailed: number;
  /** Digest of what every replica's config must agree on (nodes in order, RF, value limit). */
  configDigest: string;
  /** Set when most peers' clocks are beyond max_clock_skew_ms of this one: this clock is probably wrong. */
  clockWarning: string | null;
  /** Versions the replay kept out of the store: stamped further ahead of the clock than max_clock_skew_ms. */
  quarantinedAtReplay: number;
  /**
   * Client replies sent since this node started, by kind: 'get', 'put', 'del', 'local', 'status',
   * 'repair' for answers, 'fail:<error>' for refusals. Cumulative: a rate is the difference of two
   * reports. Absent from a replica that predates it.
   */
  clientReplies?: Record<string, number>;
}

// ---- replica <-> replica ----------------------------------------------------------------------
// Requests carry (from, gen, id): gen is the sender's generation, so ids reused after a restart
// are never mistaken for old ones. The reply carries the same id and is the ack.

export interface ReplicaWrite { t: 'rw'; from: NodeIndex; gen: number; id: number; key: Key; value: StoredValue; stamp: Stamp }
export interface ReplicaWriteAck { t: 'rw.ok'; from: NodeIndex; id: number }
export interface ReplicaRead { t: 'rr'; from: NodeIndex; gen: number; id: number; key: Key }
export interface ReplicaReadAck { t: 'rr.ok'; from: NodeIndex; id: number; value: StoredValue; stamp: Stamp | null }
/**
 * A batch of versions the sender holds for the receiver, [key, value, stamp] each: hinted writes,
 * or what an anti-entropy round found the receiver missing. Kept where newer, like any write.
 */
export interface HintBatch { t: 'hints'; from: NodeIndex; gen: number; id: number; writes: [Key, StoredValue, Stamp][] }
export interface HintBatchAck { t: 'hints.ok'; from: NodeIndex; id: number }
/**
 * Anti-entropy, step 1: a digest of (key, stamp) for each block of keys the two replicas share,
 * [block, digest] (see anti-entropy.ts). Read-only, so never deduplicated: a copy is answered again.
 */
export interface DigestRequest { t: 'ae'; from: NodeIndex; gen: number; id: number; digests: [number, number][] }
/** The blocks whose digests differ, and the receiver's [key, stamp, value bytes] for every key it holds in them. */
export interface DigestReply { t: 'ae.ok'; from: NodeIndex; id: number; blocks: number[]; versions: [Key, Stamp, number][] }
/** Anti-entropy, step 2: the versions of these keys, which the receiver holds newer. */
export interface PullRequest { t: 'ae.pull'; from: NodeIndex; gen: number; id: number; keys: Key[] }
/** As many of them as fit a datagram; the rest wait for the next round. */
export interface PullReply { t: 'ae.pull.ok'; from: NodeIndex; id: number; writes: [Key, StoredValue, Stamp][] }
/** One-way, never acked. */
/** `wall`: the sender's wall clock when sent; `digest`: its config digest (see config-digest.ts). */
export interface Heartbeat { t: 'hb'; from: NodeIndex; gen: number; counter: number; hlc: Stamp; wall: number; digest: string }

export type PeerRequest = ReplicaWrite | ReplicaRead | HintBatch | DigestRequest | PullRequest;
export type PeerReply = ReplicaWriteAck | ReplicaReadAck | HintBatchAck | DigestReply | PullReply;
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

/** What one [key, value, stamp] entry of a batch costs: its value's bytes (none for a tombstone) plus the rest. */
export function versionBytes(value: StoredValue): number {
  return (value === null ? 0 : utf8Bytes(value)) + hintEntryOverheadBytes;
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
/** A value, or null for a tombstone. */
function storedValue(x: unknown, bytesMax: number): StoredValue {
  return x === null ? null : value(x, bytesMax);
}
function list(x: unknown, field: string, lengthMax: number, nonEmpty = false): unknown[] {
  if (!Array.isArray(x)) fail(`${field}: expected an array, got ${describe(x)}`);
  if (x.length > lengthMax) fail(`${field}: ${x.length} entries, over the limit of ${lengthMax}`);
  if (nonEmpty && x.length === 0) fail(`${field}: expected a non-empty array`);
  return x as unknown[];
}
function tuple(x: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(x) || x.length !== length) fail(`${field}: expected entries of ${length}`);
  return x as unknown[];
}
/** [key, value or null, stamp] entries: hint batches and anti-entropy pulls. */
function writes(x: unknown, bytesMax: number, nonEmpty: boolean): [Key, StoredValue, Stamp][] {
  return list(x, 'writes', keyCount, nonEmpty).map((w): [Key, StoredValue, Stamp] => {
    const [k, v, s] = tuple(w, 3, 'writes');
    return [key({ key: k }), storedValue(v, bytesMax), stamp(s)];
  });
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
/** Not found (both null), a value with its stamp, or a tombstone (value null with its stamp). */
function version(o: Record<string, unknown>, bytesMax: number): { value: StoredValue; stamp: Stamp | null } {
  if (o.stamp === null) {
    if (o.value !== null) fail('value: expected null when stamp is null');
    return { value: null, stamp: null };
  }
  if (o.value === undefined || o.stamp === undefined) fail('value, stamp: expected both, or both null');
  return { value: storedValue(o.value, bytesMax), stamp: stamp(o.stamp) };
}
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

/** Only the types: whether the age is acceptable is the coordinator's call, by its own clock. */
function requestAge(o: Record<string, unknown>): RequestAge {
  const age: RequestAge = { sentAtMs: uint(o, 'sentAtMs'), deadlineMs: uint(o, 'deadlineMs') };
  if (o.seen !== undefined) age.seen = stamp(o.seen, 'seen');
  return age;
}
/** A signed integer (a clock offset). */
function int(o: Record<string, unknown>, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${field}: expected an integer, got ${describe(v)}`);
  return v;
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
      antiEntropy: antiEntropyReport(p.antiEntropy),
      clockOffsetMs: p.clockOffsetMs === null ? null : int(p, 'clockOffsetMs'),
      clockRefused: p.clockRefused === true, configMismatch: p.configMismatch === true, forged: p.forged === true, refusesOurCookie: p.refusesOurCookie === true,
    })),
    antiEntropyIntervalMs: uint(s, 'antiEntropyIntervalMs'),
    keysStored: uint(s, 'keysStored'),
    tombstones: uint(s, 'tombstones'),
    logBytes: uint(s, 'logBytes'),
    logRecords: uint(s, 'logRecords'),
    droppedDatagrams,
    clientRequestsInFlight: uint(s, 'clientRequestsInFlight'),
    configDigest: text(s, 'configDigest', configDigestCharsMax),
    clockWarning: s.clockWarning === null ? null : text(s, 'clockWarning', 1_024),
    quarantinedAtReplay: uint(s, 'quarantinedAtReplay'),
    logWritable: s.logWritable === true,
    logAppendsFailed: uint(s, 'logAppendsFailed'),
    ...(isRecord(s.clientReplies) ? { clientReplies: counters(s.clientReplies, 'clientReplies') } : {}),
  };
}

/** A map of counters, at most 32 of them, each named in at most 64 bytes. */
function counters(o: Record<string, unknown>, field: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(o).slice(0, 32)) out[text({ [field]: name }, field, 64)] = uint(o, name);
  return out;
}

function antiEntropyReport(x: unknown): AntiEntropyReport {
  if (!isRecord(x)) fail('status.peers.antiEntropy: expected an object');
  return {
    rounds: uint(x, 'rounds'), lastRoundMs: x.lastRoundMs === null ? null : uint(x, 'lastRoundMs'),
    keysSent: uint(x, 'keysSent'), keysReceived: uint(x, 'keysReceived'),
  };
}

function repairPeer(x: unknown): RepairPeerResult {
  if (!isRecord(x)) fail('peers: expected objects');
  return {
    name: text(x, 'name', nodeNameBytesMax), reached: x.reached === true, sent: uint(x, 'sent'), received: uint(x, 'received'),
    error: x.error === null ? null : text(x, 'error', 1_024),
  };
}

function validateOrThrow(x: unknown, valueBytesMax: number): Message {
  if (!isRecord(x)) fail(`message: expected a map, got ${describe(x)}`);
  const o = x;
  switch (o.t) {
    case 'get': return { t: 'get', id: uint(o, 'id'), key: key(o), level: level(o), ...requestAge(o) };
    case 'put': return { t: 'put', id: uint(o, 'id'), key: key(o), value: value(o.value, valueBytesMax), level: level(o), ...requestAge(o) };
    case 'del': return { t: 'del', id: uint(o, 'id'), key: key(o), level: level(o), ...requestAge(o) };
    case 'local': return { t: 'local', id: uint(o, 'id'), key: key(o) };
    case 'status': return { t: 'status', id: uint(o, 'id') };
    case 'repair': return { t: 'repair', id: uint(o, 'id') };
    case 'get.ok': return { t: 'get.ok', id: uint(o, 'id'), key: key(o), ...version(o, valueBytesMax), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'put.ok': return { t: 'put.ok', id: uint(o, 'id'), key: key(o), stamp: stamp(o.stamp), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'del.ok': return { t: 'del.ok', id: uint(o, 'id'), key: key(o), stamp: stamp(o.stamp), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'repair.ok': return { t: 'repair.ok', id: uint(o, 'id'), node: text(o, 'node', nodeNameBytesMax), peers: list(o.peers, 'peers', nodesMax).map(repairPeer) };
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
    case 'rw': return { t: 'rw', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), key: key(o), value: storedValue(o.value, valueBytesMax), stamp: stamp(o.stamp) };
    case 'rw.ok': return { t: 'rw.ok', from: node(o), id: uint(o, 'id') };
    case 'rr': return { t: 'rr', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), key: key(o) };
    case 'rr.ok': return { t: 'rr.ok', from: node(o), id: uint(o, 'id'), ...version(o, valueBytesMax) };
    case 'hints': return { t: 'hints', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), writes: writes(o.writes, valueBytesMax, true) };
    case 'hints.ok': return { t: 'hints.ok', from: node(o), id: uint(o, 'id') };
    case 'ae': {
      const digests = list(o.digests, 'digests', antiEntropyBlockCount).map((d): [number, number] => {
        const [b, h] = tuple(d, 2, 'digests');
        return [uint({ block: b }, 'block', antiEntropyBlockCount - 1), uint({ digest: h }, 'digest', 0xffff_ffff)];
      });
      return { t: 'ae', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), digests };
    }
    case 'ae.ok': {
      const blocks = list(o.blocks, 'blocks', antiEntropyBlockCount).map((b) => uint({ block: b }, 'block', antiEntropyBlockCount - 1));
      const versions = list(o.versions, 'versions', keyCount).map((v): [Key, Stamp, number] => {
        const [k, s, n] = tuple(v, 3, 'versions');
        return [key({ key: k }), stamp(s), uint({ bytes: n }, 'bytes', valueBytesMax)];
      });
      return { t: 'ae.ok', from: node(o), id: uint(o, 'id'), blocks, versions };
    }
    case 'ae.pull': return { t: 'ae.pull', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), keys: list(o.keys, 'keys', keyCount, true).map((k) => key({ key: k })) };
    case 'ae.pull.ok': return { t: 'ae.pull.ok', from: node(o), id: uint(o, 'id'), writes: writes(o.writes, valueBytesMax, false) };
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
  return m.t === 'get' || m.t === 'put' || m.t === 'del' || m.t === 'local' || m.t === 'status' || m.t === 'repair';
}
export function isClientReply(m: Message): m is ClientReply {
  return m.t === 'get.ok' || m.t === 'put.ok' || m.t === 'del.ok' || m.t === 'local.ok' || m.t === 'status.ok' || m.t === 'repair.ok' || m.t === 'fail';
}
export function isPeerMessage(m: Message): m is PeerMessage {
  return 'from' in m;
}
