// Every message a socket can carry, as one discriminated union on `t`, and `validate`, which turns
// anything a decoder produced into a typed message or a reason. Nothing here throws on bad input.
import {
  antiEntropyBlockCount, configDigestCharsMax, hintEntryOverheadBytes, keyBytesMaxCeiling, messageIdMax, nodeNameBytesMax, nodesMax, slotCount, valueBytesMaxCeiling,
} from './limits.js';
import { parseState, type StateReport } from './state.js';
import { parseReplicaSteps, parseTraceReport, type TraceEvent, type TraceReport } from './trace.js';
import { byteOrdered, type KeyCheck } from './keyspace.js';
import { utf8Bytes } from './text.js';
import { roles, type Role } from './authorization.js';
import { decodeAgreement, encodeAgreement, type AgreementWire } from './ring/wire.js';
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
export interface RequestAge { sentAtMs: number; deadlineMs: number; seen?: Stamp; trace?: true }
/** `trace`: the client asks for a trace of this request (see trace.ts); its answer carries it. */
export interface Traced { trace?: TraceReport }
export interface GetRequest extends RequestAge { t: 'get'; id: number; key: Key; level: Level }
export interface PutRequest extends RequestAge { t: 'put'; id: number; key: Key; value: string; level: Level }
/** A write of a tombstone: every path a put takes, with no value. */
export interface DelRequest extends RequestAge { t: 'del'; id: number; key: Key; level: Level }
/** A replica's own stored version of a key, without coordination. */
export interface LocalRequest { t: 'local'; id: number; key: Key }
export interface StatusRequest { t: 'status'; id: number }
/** Run an anti-entropy round with every peer now; answered once every round has finished. */
export interface RepairRequest { t: 'repair'; id: number; trace?: true }
/** Everything the replica knows (state.ts): for kvc state, kvc top. */
export interface StateRequest { t: 'state'; id: number }
/**
 * Admin, at `atMs`: issue (again: a new key) or revoke the credential of client `client`,
 * known on the wire by `number`. Every replica stores it durably before answering; the role is the
 * replicas' record, never the client's claim.
 */
export interface ClientSetRequest { t: 'client.set'; id: number; client: string; number: number; role: Role; atMs: number; revoked: boolean }
/**
 * What time it is on the replica. A client whose request went unanswered asks, so that its
 * NoResponse can say when the coordinator's clock and its own disagree (a coordinator refuses a
 * request past its deadline by its own clock without a word: see coordinator.ts).
 */
export interface TimeRequest { t: 'time'; id: number }
export const keyringOps = ['list', 'install', 'use', 'remove'] as const;
/** Admin: one step of a peer key rotation on this replica (kvc keyring), durable before the answer; `key` (hex) for install only. */
export interface KeyringRequest { t: 'keyring'; id: number; op: (typeof keyringOps)[number]; keyId: number; key: string | null }
export type ClientRequest = GetRequest | PutRequest | DelRequest | LocalRequest | StatusRequest | RepairRequest | ClientSetRequest | TimeRequest | KeyringRequest | StateRequest;
/** The client requests a coordinator fans out to the replicas of their key. */
export type CoordinatedRequest = GetRequest | PutRequest | DelRequest;

/** value null: not found; with a stamp, the newest version is a tombstone (deleted at that stamp). */
export interface GetReply extends Traced { t: 'get.ok'; id: number; key: Key; value: string | null; stamp: Stamp | null; coordinator: string }
export interface PutReply extends Traced { t: 'put.ok'; id: number; key: Key; stamp: Stamp; coordinator: string }
export interface DelReply extends Traced { t: 'del.ok'; id: number; key: Key; stamp: Stamp; coordinator: string }
export interface LocalReply { t: 'local.ok'; id: number; key: Key; value: string | null; stamp: Stamp | null; node: string }
export interface StatusReply { t: 'status.ok'; id: number; status: StatusReport }
/** One peer's part of a repair: keys this replica sent it and received from it, or why it was not reached. */
export interface RepairPeerResult { name: string; reached: boolean; sent: number; received: number; error: string | null }
export interface RepairReply extends Traced { t: 'repair.ok'; id: number; node: string; peers: RepairPeerResult[] }
export interface FailReply extends Traced {
  t: 'fail'; id: number; error: ClientError; message: string;
  /** Timeout: acks received and acks required. */
  acks?: number; required?: number;
  /** ClockSkew (both present): how the request was dated by the coordinator's clock, and that clock (wall ms) when it refused. */
  dated?: Dated; clockMs?: number;
}
/** A request refused for its date: its deadline passed, or it was sent further ahead than max_clock_skew_ms. */
export const datedKinds = ['expired', 'future'] as const;
export type Dated = (typeof datedKinds)[number];
export interface StateReply { t: 'state.ok'; id: number; state: StateReport }
/** The credential's key as this replica derives it (hex; null once revoked): every replica derives the same. */
export interface ClientSetReply { t: 'client.ok'; id: number; client: string; number: number; key: string | null; node: string }
/** The replica's wall clock when it answered. */
export interface TimeReply { t: 'time.ok'; id: number; nowMs: number; node: string }
/** The replica's peer key ids after the step, and the one it seals with. */
export interface KeyringReply { t: 'keyring.ok'; id: number; node: string; keys: number[]; use: number }
export type ClientReply = GetReply | PutReply | DelReply | LocalReply | StatusReply | RepairReply | ClientSetReply | TimeReply | KeyringReply | FailReply | StateReply;

/** A range of the ring in slots (0..255; under the byte-ordered partitioner a slot is its key). */
export interface RangeReport { first: number; last: number; replicas: string[] }
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
  /** Datagrams from its address failed authentication lately (it has another keyring). */
  forged: boolean;
  /** It told us lately (unauthenticated notice) that our datagrams fail its authentication. */
  refusesOurCookie: boolean;
}
/** Anti-entropy with one peer since this node started: rounds finished, when the last one did, keys repaired each way. */
export interface AntiEntropyReport { rounds: number; lastRoundMs: number | null; keysSent: number; keysReceived: number }
export interface StatusReport {
  node: string;
  /** Only under the hashed partitioner (absent: byte-ordered, keys 0..255); ring ranges are in slots either way. */
  partitioner?: 'hashed';
  keyBytesMax?: number;
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
  /** A restarted replica's wait-out: ms until every write sent is served and pm2 hears 'ready' (0: now). Reads are served meanwhile. */
  writesServedInMs: number;
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

/** `trace`: the coordinator traces this request; the replica sends its own steps back on its reply. */
export interface ReplicaWrite { t: 'rw'; from: NodeIndex; gen: number; id: number; key: Key; value: StoredValue; stamp: Stamp; trace?: true }
export interface ReplicaWriteAck { t: 'rw.ok'; from: NodeIndex; id: number; trace?: TraceEvent[] }
export interface ReplicaRead { t: 'rr'; from: NodeIndex; gen: number; id: number; key: Key; trace?: true }
export interface ReplicaReadAck { t: 'rr.ok'; from: NodeIndex; id: number; value: StoredValue; stamp: Stamp | null; trace?: TraceEvent[] }
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
export interface DigestRequest {
  t: 'ae'; from: NodeIndex; gen: number; id: number; digests: [number, number][];
  /** A further page: list only the versions after this key (in slot, then key order; see anti-entropy.ts). */
  after?: Key;
}
/**
 * The blocks whose digests differ, and the receiver's [key, stamp, value bytes] for every key it
 * holds in them, in slot then key order. `more`: they did not fit one datagram; these are every
 * version up to the last one listed, and the rest follow on a request `after` it.
 */
export interface DigestReply { t: 'ae.ok'; from: NodeIndex; id: number; blocks: number[]; versions: [Key, Stamp, number][]; more?: true }
/** Anti-entropy, step 2: the versions of these keys, which the receiver holds newer. */
export interface PullRequest { t: 'ae.pull'; from: NodeIndex; gen: number; id: number; keys: Key[] }
/** As many of them as fit a datagram; the rest wait for the next round. */
export interface PullReply { t: 'ae.pull.ok'; from: NodeIndex; id: number; writes: [Key, StoredValue, Stamp][] }
/** One-way, never acked. */
/** `wall`: the sender's wall clock when sent; `digest`: its config digest (see config-digest.ts). */
export interface Heartbeat {
  t: 'hb'; from: NodeIndex; gen: number; counter: number; hlc: Stamp; wall: number; digest: string;
  /** The epoch of the ring the sender holds (absent: 0, a sender from before ring epochs): a peer behind it is sent the ring. */
  epoch?: number;
}
/** The ring's agreement (core/ring/agreement.ts), between replicas only; rings in their wire form (ring/wire.ts). */
export interface RingMessage { t: 'ring'; from: NodeIndex; m: AgreementWire }

export type PeerRequest = ReplicaWrite | ReplicaRead | HintBatch | DigestRequest | PullRequest;
export type PeerReply = ReplicaWriteAck | ReplicaReadAck | HintBatchAck | DigestReply | PullReply;
export type PeerMessage = PeerRequest | PeerReply | Heartbeat | RingMessage;

export type Message = ClientRequest | ClientReply | PeerMessage;

export type Validated = { ok: true; msg: Message } | { ok: false; reason: string };

// ---- validation -------------------------------------------------------------------------------

export { utf8Bytes };

/** What one [key, value, stamp] entry of a batch costs: its value's bytes (none for a tombstone), a text key's bytes, plus the rest. */
export function versionBytes(value: StoredValue, key: Key = 0): number {
  return (value === null ? 0 : utf8Bytes(value)) + keyBytes(key) + hintEntryOverheadBytes;
}

/** What a key adds to an entry beyond hintEntryOverheadBytes (which covers a byte-ordered key): a text key's bytes and CBOR header. */
export function keyBytes(key: Key): number {
  return typeof key === 'number' ? 0 : utf8Bytes(key) + 3;
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
/** What a key is comes from the key space (keyspace.ts), the one place that says so. */
function key(o: Record<string, unknown>, keys: KeyCheck): Key {
  const v = o.key;
  if (!keys.isKey(v)) fail(`key: expected ${keys.expected}, got ${describe(v)}`);
  return v;
}
function slot(x: unknown, field: string): number {
  return uint({ [field]: x }, field, slotCount - 1);
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
function writes(x: unknown, bytesMax: number, nonEmpty: boolean, keys: KeyCheck): [Key, StoredValue, Stamp][] {
  return list(x, 'writes', keys.versionsPerMessageMax, nonEmpty).map((w): [Key, StoredValue, Stamp] => {
    const [k, v, s] = tuple(w, 3, 'writes');
    return [key({ key: k }, keys), storedValue(v, bytesMax), stamp(s)];
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

/** A client's name: what `kvc client add` was given. */
export const clientIdPattern = /^[A-Za-z0-9_.@-]{1,64}$/;
function clientId(o: Record<string, unknown>): string {
  const v = o.client;
  if (typeof v !== 'string' || !clientIdPattern.test(v)) fail(`client: expected 1..64 characters from A-Z a-z 0-9 _ . @ -, got ${describe(v)}`);
  return v;
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
    ...(s.partitioner === 'hashed' ? { partitioner: 'hashed' as const, keyBytesMax: uint(s, 'keyBytesMax', keyBytesMaxCeiling) } : {}),
    replicationFactor: uint(s, 'replicationFactor', nodesMax),
    repairMode: text(s, 'repairMode', 32),
    ring: list('ring').map((r) => ({
      first: slot(r.first, 'first'), last: slot(r.last, 'last'),
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
    // Absent from a replica older than this client (a rolling upgrade): it serves writes as it did.
    writesServedInMs: s.writesServedInMs === undefined ? 0 : uint(s, 'writesServedInMs'),
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

/**
 * A trace flag on a request, a trace on an answer, a replica's steps on its reply (see trace.ts),
 * checked and copied only when the field is there: untraced, one property check per message.
 */
function withTrace(msg: Message, o: Record<string, unknown>): Message {
  switch (msg.t) {
    case 'get': case 'put': case 'del': case 'repair': case 'rw': case 'rr':
      if (o.trace !== true) fail(`trace: expected true, got ${describe(o.trace)}`);
      msg.trace = true;
      return msg;
    case 'get.ok': case 'put.ok': case 'del.ok': case 'repair.ok': case 'fail': {
      const t = parseTraceReport(o.trace);
      if (typeof t === 'string') fail(t);
      msg.trace = t;
      return msg;
    }
    case 'rw.ok': case 'rr.ok': {
      const t = parseReplicaSteps(o.trace);
      if (typeof t === 'string') fail(t);
      msg.trace = t;
      return msg;
    }
    default: return fail(`trace: not carried by a '${msg.t}' message`);
  }
}

function validateOrThrow(x: unknown, valueBytesMax: number, keys: KeyCheck): Message {
  if (!isRecord(x)) fail(`message: expected a map, got ${describe(x)}`);
  const o = x;
  switch (o.t) {
    case 'get': return { t: 'get', id: uint(o, 'id'), key: key(o, keys), level: level(o), ...requestAge(o) };
    case 'put': return { t: 'put', id: uint(o, 'id'), key: key(o, keys), value: value(o.value, valueBytesMax), level: level(o), ...requestAge(o) };
    case 'del': return { t: 'del', id: uint(o, 'id'), key: key(o, keys), level: level(o), ...requestAge(o) };
    case 'local': return { t: 'local', id: uint(o, 'id'), key: key(o, keys) };
    case 'status': return { t: 'status', id: uint(o, 'id') };
    case 'repair': return { t: 'repair', id: uint(o, 'id') };
    case 'client.set': {
      const role = o.role;
      if (typeof role !== 'string' || !(roles as readonly string[]).includes(role)) fail(`role: expected one of ${roles.join(', ')}, got ${describe(role)}`);
      if (typeof o.revoked !== 'boolean') fail(`revoked: expected true or false, got ${describe(o.revoked)}`);
      return { t: 'client.set', id: uint(o, 'id'), client: clientId(o), number: uint(o, 'number', 0xffff_ffff), role: role as Role, atMs: uint(o, 'atMs'), revoked: o.revoked };
    }
    case 'time': return { t: 'time', id: uint(o, 'id') };
    case 'keyring': {
      if (typeof o.op !== 'string' || !(keyringOps as readonly string[]).includes(o.op)) fail(`op: expected one of ${keyringOps.join(', ')}, got ${describe(o.op)}`);
      if (o.key !== null && (typeof o.key !== 'string' || !/^[0-9a-f]{64}$/.test(o.key))) fail('key: expected 64 hex digits or null');
      return { t: 'keyring', id: uint(o, 'id'), op: o.op as KeyringRequest['op'], keyId: uint(o, 'keyId', 0xffff_ffff), key: o.key };
    }
    case 'keyring.ok':
      return { t: 'keyring.ok', id: uint(o, 'id'), node: text(o, 'node', nodeNameBytesMax), keys: list(o.keys, 'keys', 64).map((k) => uint({ k }, 'k', 0xffff_ffff)), use: uint(o, 'use', 0xffff_ffff) };
    case 'time.ok': return { t: 'time.ok', id: uint(o, 'id'), nowMs: uint(o, 'nowMs'), node: text(o, 'node', nodeNameBytesMax) };
    case 'client.ok': {
      const k = o.key === null ? null : text(o, 'key', 64);
      return { t: 'client.ok', id: uint(o, 'id'), client: clientId(o), number: uint(o, 'number', 0xffff_ffff), key: k, node: text(o, 'node', nodeNameBytesMax) };
    }
    case 'get.ok': return { t: 'get.ok', id: uint(o, 'id'), key: key(o, keys), ...version(o, valueBytesMax), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'put.ok': return { t: 'put.ok', id: uint(o, 'id'), key: key(o, keys), stamp: stamp(o.stamp), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'del.ok': return { t: 'del.ok', id: uint(o, 'id'), key: key(o, keys), stamp: stamp(o.stamp), coordinator: text(o, 'coordinator', nodeNameBytesMax) };
    case 'repair.ok': return { t: 'repair.ok', id: uint(o, 'id'), node: text(o, 'node', nodeNameBytesMax), peers: list(o.peers, 'peers', nodesMax).map(repairPeer) };
    case 'local.ok': return { t: 'local.ok', id: uint(o, 'id'), key: key(o, keys), ...version(o, valueBytesMax), node: text(o, 'node', nodeNameBytesMax) };
    case 'status.ok': return { t: 'status.ok', id: uint(o, 'id'), status: validateStatus(o.status) };
    case 'state': return { t: 'state', id: uint(o, 'id') };
    case 'state.ok': {
      const state = parseState(o.state, validateStatus);
      return typeof state === 'string' ? fail(state) : { t: 'state.ok', id: uint(o, 'id'), state };
    }
    case 'fail': {
      const error = o.error;
      if (typeof error !== 'string' || !(clientErrors as readonly string[]).includes(error)) fail(`error: expected one of ${clientErrors.join(', ')}, got ${describe(error)}`);
      const reply: FailReply = { t: 'fail', id: uint(o, 'id'), error: error as ClientError, message: text(o, 'message', 4_096) };
      if (o.acks !== undefined) reply.acks = uint(o, 'acks', nodesMax);
      if (o.required !== undefined) reply.required = uint(o, 'required', nodesMax);
      if (error === 'ClockSkew' || o.dated !== undefined || o.clockMs !== undefined) {
        if (error !== 'ClockSkew') fail(`dated, clockMs: only with error ClockSkew, got ${error}`);
        if (typeof o.dated !== 'string' || !(datedKinds as readonly string[]).includes(o.dated)) fail(`dated: expected one of ${datedKinds.join(', ')}, got ${describe(o.dated)}`);
        reply.dated = o.dated as Dated;
        reply.clockMs = uint(o, 'clockMs');
      }
      return reply;
    }
    case 'rw': return { t: 'rw', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), key: key(o, keys), value: storedValue(o.value, valueBytesMax), stamp: stamp(o.stamp) };
    case 'rw.ok': return { t: 'rw.ok', from: node(o), id: uint(o, 'id') };
    case 'rr': return { t: 'rr', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), key: key(o, keys) };
    case 'rr.ok': return { t: 'rr.ok', from: node(o), id: uint(o, 'id'), ...version(o, valueBytesMax) };
    case 'hints': return { t: 'hints', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), writes: writes(o.writes, valueBytesMax, true, keys) };
    case 'hints.ok': return { t: 'hints.ok', from: node(o), id: uint(o, 'id') };
    case 'ae': {
      const digests = list(o.digests, 'digests', antiEntropyBlockCount).map((d): [number, number] => {
        const [b, h] = tuple(d, 2, 'digests');
        return [uint({ block: b }, 'block', antiEntropyBlockCount - 1), uint({ digest: h }, 'digest', 0xffff_ffff)];
      });
      const request: DigestRequest = { t: 'ae', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), digests };
      if (o.after !== undefined) request.after = key({ key: o.after }, keys);
      return request;
    }
    case 'ae.ok': {
      const blocks = list(o.blocks, 'blocks', antiEntropyBlockCount).map((b) => uint({ block: b }, 'block', antiEntropyBlockCount - 1));
      const versions = list(o.versions, 'versions', keys.versionsPerMessageMax).map((v): [Key, Stamp, number] => {
        const [k, s, n] = tuple(v, 3, 'versions');
        return [key({ key: k }, keys), stamp(s), uint({ bytes: n }, 'bytes', valueBytesMax)];
      });
      const reply: DigestReply = { t: 'ae.ok', from: node(o), id: uint(o, 'id'), blocks, versions };
      if (o.more !== undefined) {
        if (o.more !== true) fail(`more: expected true or nothing, got ${describe(o.more)}`);
        if (versions.length === 0) fail('more: expected versions before more');
        reply.more = true;
      }
      return reply;
    }
    case 'ae.pull': return { t: 'ae.pull', from: node(o), gen: uint(o, 'gen'), id: uint(o, 'id'), keys: list(o.keys, 'keys', keys.versionsPerMessageMax, true).map((k) => key({ key: k }, keys)) };
    case 'ae.pull.ok': return { t: 'ae.pull.ok', from: node(o), id: uint(o, 'id'), writes: writes(o.writes, valueBytesMax, false, keys) };
    case 'hb': {
      const hb: Heartbeat = {
        t: 'hb', from: node(o), gen: uint(o, 'gen'), counter: uint(o, 'counter'), hlc: stamp(o.hlc, 'hlc'),
        wall: uint(o, 'wall'), digest: text(o, 'digest', configDigestCharsMax),
      };
      if (o.epoch !== undefined) hb.epoch = uint(o, 'epoch');
      return hb;
    }
    case 'ring': {
      const m = decodeAgreement(o.m);
      if (!m.ok) fail(m.error);
      return { t: 'ring', from: node(o), m: encodeAgreement(m.value) };
    }
    default: return fail(`t: unknown message type ${describe(o.t)}`);
  }
}

/**
 * Checks anything a decoder produced. Returns a typed message (a fresh object holding only the
 * known fields) or the reason it was refused. `valueBytesMax` is the cluster's value limit, `keys`
 * its key space (byte-ordered by default).
 */
export function validate(x: unknown, valueBytesMax: number = valueBytesMaxCeiling, keys: KeyCheck = byteOrdered): Validated {
  try {
    const msg = validateOrThrow(x, valueBytesMax, keys);
    return { ok: true, msg: (x as Record<string, unknown>).trace === undefined ? msg : withTrace(msg, x as Record<string, unknown>) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, reason: e.message };
    return { ok: false, reason: `malformed: ${String(e)}` };
  }
}

export function isClientRequest(m: Message): m is ClientRequest {
  return m.t === 'get' || m.t === 'put' || m.t === 'del' || m.t === 'local' || m.t === 'status' || m.t === 'repair' || m.t === 'state' || m.t === 'client.set' || m.t === 'time' || m.t === 'keyring';
}
export function isClientReply(m: Message): m is ClientReply {
  return m.t === 'get.ok' || m.t === 'put.ok' || m.t === 'del.ok' || m.t === 'local.ok' || m.t === 'status.ok' || m.t === 'repair.ok' || m.t === 'state.ok' || m.t === 'client.ok' || m.t === 'time.ok' || m.t === 'keyring.ok' || m.t === 'fail';
}
export function isPeerMessage(m: Message): m is PeerMessage {
  return 'from' in m;
}
