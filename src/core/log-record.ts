// The write-ahead log record: [payload length u32 LE][crc32 of payload u32 LE][CBOR payload].
// Data writes, hints and the ring state share one log, so one fsync covers them and one replay restores them.
// A torn or damaged tail is expected after a crash: scanning stops there and says where and why,
// it never throws, so the caller can truncate the log at `goodBytes` and carry on.
import { decode, encode } from 'cbor-x';
import { crc32 } from './crc32.js';
import { byteOrdered, eitherKind, type KeyCheck } from './keyspace.js';
import { messageIdMax, nodesMax, recordBytesMax, valueBytesMaxCeiling } from './limits.js';
import { utf8Bytes } from './messages.js';
import { decodeAcceptor, encodeAcceptor, type AcceptorWire } from './ring/wire.js';
import type { Key, NodeIndex, Stamp, StoredValue } from './types.js';

export type LogRecord =
  /** A data write; value null is a tombstone (a delete). */
  | { t: 'w'; key: Key; value: StoredValue; stamp: Stamp }
  /** Hint added: this coordinator holds a write (or a tombstone) for `target`, since `atMs`. */
  | { t: 'h'; target: NodeIndex; key: Key; value: StoredValue; stamp: Stamp; atMs: number }
  /** Hint delivered: forget the held hint for (target, key) if it has this stamp. */
  | { t: 'hd'; target: NodeIndex; key: Key; stamp: Stamp }
  /**
   * The ring this replica holds, and its promise and vote for the next epoch (ring/agreement.ts),
   * whole: written each time they change, before the answer or the use that depends on them. The
   * last one replayed is the state.
   */
  | { t: 'ring'; acceptor: AcceptorWire }
  /**
   * Full state at a point: every stored version, every held hint [target, key, value, stamp, atMs],
   * and the ring state once the replica has one of its own (absent: the ring of nodes.toml).
   */
  | { t: 'snap'; writes: [Key, StoredValue, Stamp][]; hints: [NodeIndex, Key, StoredValue, Stamp, number][]; ring?: AcceptorWire };

export interface RecordScan {
  /** Every good record, in log order, up to the first short or bad one. */
  records: LogRecord[];
  /** Where the first short or bad record starts (bytes.length when every record is good). */
  goodBytes: number;
  /** Why scanning stopped before the end, or null when it reached it. */
  stopReason: null | string;
}

/** Length and checksum, before the payload. */
export const recordHeaderBytes = 8;

/** Header + CBOR payload. Throws on a record that replay would refuse: better a failed write than a log that stops there. */
export function encodeRecord(rec: LogRecord): Uint8Array {
  const checked = validateRecord(rec, eitherKind);
  if (typeof checked === 'string') throw new RangeError(`log record: ${checked}`);
  const payload = encode(checked) as Uint8Array;
  if (payload.length > recordBytesMax) throw new RangeError(`log record: ${payload.length} bytes, over the limit of ${recordBytesMax}`);
  // A copy: cbor-x returns a view into a buffer it reuses for the next encode.
  const out = new Uint8Array(recordHeaderBytes + payload.length);
  out.set(payload, recordHeaderBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(out, recordHeaderBytes), true);
  return out;
}

/** Every good record in order, and where and why the good prefix ends. Never throws. `keys`: what a key may be. */
export function scanRecords(bytes: Uint8Array, keys: KeyCheck = byteOrdered): RecordScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: LogRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const read = readRecord(bytes, view, offset, keys);
    if (typeof read === 'string') return { records, goodBytes: offset, stopReason: `${read} at ${offset}` };
    records.push(read.record);
    offset = read.end;
  }
  return { records, goodBytes: offset, stopReason: null };
}

function readRecord(bytes: Uint8Array, view: DataView, offset: number, keys: KeyCheck): { record: LogRecord; end: number } | string {
  if (bytes.length - offset < recordHeaderBytes) return `short header (${bytes.length - offset} of ${recordHeaderBytes} bytes)`;
  const length = view.getUint32(offset, true);
  const crc = view.getUint32(offset + 4, true);
  if (length > recordBytesMax) return `length ${length} over limit ${recordBytesMax}`;
  const start = offset + recordHeaderBytes;
  const end = start + length;
  if (end > bytes.length) return `short payload (${bytes.length - start} of ${length} bytes)`;
  if (crc32(bytes, start, end) !== crc) return 'bad crc';
  let decoded: unknown;
  try {
    decoded = decode(bytes.subarray(start, end));
  } catch (e) {
    return `bad payload (${e instanceof Error ? e.message : String(e)})`;
  }
  const record = validateRecord(decoded, keys);
  if (typeof record === 'string') return `bad payload (${record})`;
  return { record, end };
}

// ---- validation -------------------------------------------------------------------------------

/** Checks a decoded payload: a fresh record holding only the known fields, or the reason it was refused. */
export function validateRecord(x: unknown, keys: KeyCheck = byteOrdered): LogRecord | string {
  try {
    return validateOrThrow(x, keys);
  } catch (e) {
    if (e instanceof Invalid) return e.message;
    return `malformed: ${String(e)}`;
  }
}

class Invalid extends Error {}
function fail(reason: string): never { throw new Invalid(reason); }

function validateOrThrow(x: unknown, keys: KeyCheck): LogRecord {
  const key = (v: unknown, field = 'key'): Key => (keys.isKey(v) ? v : fail(`${field}: expected ${keys.expected}, got ${describe(v)}`));
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) fail(`record: expected a map, got ${describe(x)}`);
  const o = x as Record<string, unknown>;
  switch (o.t) {
    case 'w': return { t: 'w', key: key(o.key), value: storedValue(o.value), stamp: stamp(o.stamp) };
    case 'h': return { t: 'h', target: node(o.target), key: key(o.key), value: storedValue(o.value), stamp: stamp(o.stamp), atMs: uint(o.atMs, 'atMs') };
    case 'hd': return { t: 'hd', target: node(o.target), key: key(o.key), stamp: stamp(o.stamp) };
    case 'ring': return { t: 'ring', acceptor: acceptor(o.acceptor) };
    case 'snap': {
      const writes = list(o.writes, 'writes', keys.keysPerReplicaMax).map((w, i): [Key, StoredValue, Stamp] => {
        const [k, v, s] = tuple(w, 3, `writes[${i}]`);
        return [key(k, `writes[${i}].key`), storedValue(v, `writes[${i}].value`), stamp(s, `writes[${i}].stamp`)];
      });
      const hints = list(o.hints, 'hints', nodesMax * keys.hintsPerTargetMax).map((h, i): [NodeIndex, Key, StoredValue, Stamp, number] => {
        const [n, k, v, s, at] = tuple(h, 5, `hints[${i}]`);
        const f = `hints[${i}]`;
        return [node(n, `${f}.target`), key(k, `${f}.key`), storedValue(v, `${f}.value`), stamp(s, `${f}.stamp`), uint(at, `${f}.atMs`)];
      });
      return o.ring === undefined ? { t: 'snap', writes, hints } : { t: 'snap', writes, hints, ring: acceptor(o.ring, 'ring') };
    }
    default: return fail(`t: unknown record type ${describe(o.t)}`);
  }
}

/** The acceptor state, checked whole (a ring the steps can reach, votes that fit it), kept in its stored form. */
function acceptor(v: unknown, field = 'acceptor'): AcceptorWire {
  const decoded = decodeAcceptor(v);
  if (!decoded.ok) fail(`${field}: ${decoded.error}`);
  return encodeAcceptor(decoded.value);
}
function uint(v: unknown, field: string, max = messageIdMax): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${field}: expected an integer in 0..${max}, got ${describe(v)}`);
  return v;
}
function node(v: unknown, field = 'target'): NodeIndex {
  return uint(v, field, nodesMax - 1);
}
function value(v: unknown, field = 'value'): string {
  if (typeof v !== 'string') fail(`${field}: expected a string, got ${describe(v)}`);
  if (!v.isWellFormed()) fail(`${field}: not well-formed Unicode (lone surrogate)`);
  const n = utf8Bytes(v);
  if (n > valueBytesMaxCeiling) fail(`${field}: ${n} bytes, over the limit of ${valueBytesMaxCeiling}`);
  return v;
}
/** A value, or null for a tombstone. */
function storedValue(v: unknown, field = 'value'): StoredValue {
  return v === null ? null : value(v, field);
}
function stamp(v: unknown, field = 'stamp'): Stamp {
  const [w, c, n] = tuple(v, 3, field);
  return [uint(w, `${field} wall clock`), uint(c, `${field} counter`), uint(n, `${field} node`, nodesMax - 1)];
}
function list(v: unknown, field: string, lengthMax: number): unknown[] {
  if (!Array.isArray(v)) fail(`${field}: expected an array, got ${describe(v)}`);
  if (v.length > lengthMax) fail(`${field}: ${v.length} entries, over the limit of ${lengthMax}`);
  return v as unknown[];
}
function tuple(v: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(v) || v.length !== length) fail(`${field}: expected an array of ${length}, got ${describe(v)}`);
  return v as unknown[];
}
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? `an array of ${v.length}` : typeof v;
}
