// The key space: what a key is, how it is checked, and which of the ring's 256 slots it lives on.
// Slots are the unit of placement and movement (ranges, replicas, hints, anti-entropy and ring
// changes all work on slots); a partitioner maps keys onto them. The client, the shell and the
// replicas all check keys here, so a key means the same thing everywhere.
//
//   byte-ordered (the default, the original tool's): a key is an integer 0..255 and is its own slot.
//   hashed: a key is UTF-8 text of 1..key_bytes_max bytes, placed on slot (murmur3 >>> 24), as
//   Cassandra's Murmur3Partitioner and Riak's fixed partitions do, so neighbouring keys spread out.
import { hashedHintsPerTargetMax, hashedKeysPerReplicaMax, keyBytesMaxCeiling, slotCount, versionsPerMessageMax } from './limits.js';
import { utf8Bytes } from './text.js';
import type { Key } from './types.js';

export const partitioners = ['byte-ordered', 'hashed'] as const;
export type PartitionerName = (typeof partitioners)[number];

/** A slot of the ring: 0..slotCount-1. */
export type Slot = number;

export type KeyRefused = { error: string };

/** What validators need to know of a key space. */
export type KeyCheck = Pick<KeySpace, 'isKey' | 'expected' | 'versionsPerMessageMax' | 'keysPerReplicaMax' | 'hintsPerTargetMax'>;

export interface KeySpace {
  readonly partitioner: PartitionerName;
  /** hashed: the longest key in UTF-8 bytes (key_bytes_max); byte-ordered: 1 (a key is one byte). */
  readonly keyBytesMax: number;
  /** What a key is, for error lines: `key: expected ${expected}, got …`. */
  readonly expected: string;
  /** Entries ([key, …]) one message or one snapshot record may list: every key of the byte-ordered ring, or what fits one datagram. */
  readonly versionsPerMessageMax: number;
  /** Versions (tombstones included) one replica may hold, and so one snapshot may list. */
  readonly keysPerReplicaMax: number;
  /** Hints a coordinator holds for one target: one per key, so every key of the byte-ordered ring; a bound under hashed. */
  readonly hintsPerTargetMax: number;
  /** Is this, exactly as it came (off the wire, out of the log), a key of this key space? */
  isKey(x: unknown): x is Key;
  /** The slot a key lives on (throws RangeError on a value that is not a key). */
  slotOf(key: Key): Slot;
}

/** Keys are integers 0..255, each its own slot: the original tool's ring, exactly as it was. */
export const byteOrdered: KeySpace = Object.freeze({
  partitioner: 'byte-ordered',
  keyBytesMax: 1,
  expected: `an integer in 0..${slotCount - 1}`,
  versionsPerMessageMax: slotCount,
  keysPerReplicaMax: slotCount,
  hintsPerTargetMax: slotCount,
  isKey: (x: unknown): x is Key => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < slotCount,
  slotOf(key: Key): Slot {
    if (!byteOrdered.isKey(key)) throw new RangeError(`ring: key ${String(key)} outside 0..${slotCount - 1}`);
    return key as number;
  },
});

/** Keys are UTF-8 text of 1..keyBytesMax bytes, placed by murmur3 (see slotOfText). */
export function hashed(keyBytesMax: number): KeySpace {
  if (!Number.isInteger(keyBytesMax) || keyBytesMax < 1 || keyBytesMax > keyBytesMaxCeiling) {
    throw new RangeError(`key space: key_bytes_max ${keyBytesMax} outside 1..${keyBytesMaxCeiling}`);
  }
  const isKey = (x: unknown): x is Key => isTextKey(x, keyBytesMax);
  return Object.freeze({
    partitioner: 'hashed',
    keyBytesMax,
    expected: `text of 1..${keyBytesMax} UTF-8 bytes (partitioner hashed)`,
    versionsPerMessageMax,
    keysPerReplicaMax: hashedKeysPerReplicaMax,
    hintsPerTargetMax: hashedHintsPerTargetMax,
    isKey,
    slotOf(key: Key): Slot {
      if (!isKey(key)) throw new RangeError(`ring: key ${JSON.stringify(key)} is not text of 1..${keyBytesMax} UTF-8 bytes (partitioner hashed)`);
      return slotOfText(key as string);
    },
  });
}

function isTextKey(x: unknown, keyBytesMax: number): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= keyBytesMax && utf8Bytes(x) <= keyBytesMax && x.isWellFormed();
}

/**
 * What a log may hold, whichever partitioner wrote it: replay reads both kinds of key, so that a
 * replica started under the other partitioner refuses to start (keyKindMismatch) instead of
 * reading the other kind as damage and cutting the log there.
 */
export const eitherKind: KeyCheck = Object.freeze({
  expected: `an integer in 0..${slotCount - 1} or text of 1..${keyBytesMaxCeiling} UTF-8 bytes`,
  versionsPerMessageMax,
  keysPerReplicaMax: hashedKeysPerReplicaMax,
  hintsPerTargetMax: hashedHintsPerTargetMax,
  isKey: (x: unknown): x is Key => byteOrdered.isKey(x) || isTextKey(x, keyBytesMaxCeiling),
});

/** Why a key read from this replica's own log does not belong to its key space (the data was written under another partitioner or a larger key_bytes_max), or null. */
export function keyKindMismatch(key: Key, space: KeySpace): string | null {
  if (space.isKey(key)) return null;
  if (typeof key === 'number') return `its log holds integer key ${key}, written under the byte-ordered partitioner, but nodes.toml says partitioner = "${space.partitioner}"`;
  if (space.partitioner !== 'hashed') return `its log holds text key ${formatKey(key)}, written under the hashed partitioner, but nodes.toml says partitioner = "${space.partitioner}"`;
  return `its log holds key ${formatKey(key)} of ${utf8Bytes(key)} bytes, over key_bytes_max (${space.keyBytesMax})`;
}

/** The key space a config names. */
export function keySpaceOf(config: { readonly partitioner?: PartitionerName; readonly keyBytesMax?: number }): KeySpace {
  return config.partitioner === 'hashed' ? hashed(config.keyBytesMax ?? keyBytesMaxDefault) : byteOrdered;
}

/** key_bytes_max when nodes.toml leaves it out. */
export const keyBytesMaxDefault = 256;

/**
 * A key as a person typed it or a program gave it: byte-ordered takes digits (or a number) and
 * makes the integer; hashed takes the text as it is. The error says what a key is here.
 */
export function parseKey(x: unknown, space: KeySpace = byteOrdered): Key | KeyRefused {
  const expected = `key: expected ${space.expected}, got`;
  if (space.partitioner === 'hashed') {
    if (typeof x !== 'string') return { error: `${expected} ${x === undefined ? 'nothing' : typeof x === 'number' ? `the number ${x} (quote it: "${x}")` : typeof x}` };
    if (x.length === 0) return { error: `${expected} an empty key` };
    if (!x.isWellFormed()) return { error: `${expected} text that is not well-formed Unicode (lone surrogate)` };
    const bytes = utf8Bytes(x);
    if (bytes > space.keyBytesMax) return { error: `${expected} ${bytes} bytes (${JSON.stringify(shorten(x))}; key_bytes_max is ${space.keyBytesMax})` };
    return x;
  }
  if (typeof x === 'number') return space.isKey(x) ? x : { error: `${expected} ${x}` };
  if (typeof x !== 'string') return { error: `${expected} ${x === undefined ? 'nothing' : typeof x}` };
  const text = x.trim();
  if (!/^[0-9]{1,10}$/.test(text)) return { error: `${expected} ${JSON.stringify(shorten(x))}` };
  const key = Number(text);
  return space.isKey(key) ? key : { error: `${expected} ${text}` };
}

export function isKeyRefused(x: Key | KeyRefused): x is KeyRefused {
  return typeof x === 'object';
}

/** Keys in one agreed order (numbers ascending, text by UTF-16 code units): both sides of an anti-entropy round list and digest them so. */
export function compareKeys(a: Key, b: Key): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How a key is named in output, log lines and errors: 17, user:42, or quoted when it has spaces, quotes or commas ("user 42"). */
export function formatKey(key: Key): string {
  if (typeof key === 'number') return String(key);
  return key.length <= 40 && /^[^\s"'\\,]+$/.test(key) ? key : JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

// ---- the hash ---------------------------------------------------------------------------------

/**
 * The slot of a text key: the top 8 bits of MurmurHash3_x86_32 (seed 0) of its UTF-8 bytes, so a
 * slot is one contiguous 1/256 of the hash space (as a Cassandra token range is of its ring).
 * Murmur3 because it is the well-known choice for exactly this (Cassandra's Murmur3Partitioner,
 * Kafka and Guava use its family): fast, well mixed, not cryptographic and not meant to be. Written
 * here by hand rather than taken from a package: a key's slot decides which replicas hold it and
 * which data dir it lives in, so the hash is part of the storage format and must never change
 * with a dependency's release (several npm murmur packages hash UTF-16 code units, not UTF-8 bytes).
 * test/unit/keyspace.spec.ts pins it to a fixed table made with an independent implementation.
 */
export function slotOfText(key: string): Slot {
  const n = textEncoder.encodeInto(key, scratch).written;
  return murmur3x86_32(scratch, n, 0) >>> 24;
}

const textEncoder = new TextEncoder();
const scratch = new Uint8Array(keyBytesMaxCeiling);

/** MurmurHash3_x86_32 (Austin Appleby's reference, SMHasher) of bytes[0..length). */
export function murmur3x86_32(bytes: Uint8Array, length = bytes.length, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function shorten(s: string): string {
  return s.length > 20 ? s.slice(0, 20) + '…' : s;
}
