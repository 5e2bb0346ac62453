// The wire format: one datagram = a CBOR payload sealed by seal.ts (cleartext header, AES-256-GCM,
// tag). The payload is one message (a CBOR map) or several to the same destination (a CBOR array of
// maps): coalescing what one event-loop turn sends to a peer saves a syscall and a seal per message.
// The datagram is opened (authenticated, decrypted, checked against its session's replay window)
// before the payload reaches the CBOR decoder, so bytes from anyone without a key are never parsed.
// decode never throws: every refusal is a value the runtime counts.
import { Encoder } from 'cbor-x';
import { datagramBytesMax, valueBytesMaxCeiling } from '../core/limits.js';
import { byteOrdered, type KeyCheck } from '../core/keyspace.js';
import { validate, type Message } from '../core/messages.js';
import { Opener, Sealer, sealOverheadBytes, type KeyLookup, type OpenError, type Origin, type SealKey } from './seal.js';

/** Bytes sealing adds around a payload (header and AEAD tag). */
export const tagBytes = sealOverheadBytes;
/** Nesting a decoded payload may have; our deepest message (status.ok) needs 5. */
const payloadDepthMax = 16;

/** cbor-x decodes a stray CBOR "break" byte (0xff) to a shared sentinel object instead of throwing. */
const strayBreak: unknown = (() => {
  try { return new Encoder({ mapsAsObjects: true, useRecords: false }).decode(Uint8Array.of(0xff)); } catch { return undefined; }
})();

export type DecodeError = OpenError | 'cbor' | 'invalid' | 'oversize';
export type Decoded = { ok: true; msg: Message; origin: Origin } | { ok: false; error: DecodeError; detail: string };
/** A datagram's messages and who sealed it; `invalid` holds the reasons for the ones in a batch that validate refused. */
export type DecodedMany = { ok: true; msgs: Message[]; invalid: string[]; origin: Origin } | { ok: false; error: DecodeError; detail: string };

/** What a process seals with and accepts (see io/keys.ts for replicas' and clients'). */
export interface CodecKeys {
  /** The header's sender: a replica's node index, or a client's credential number. */
  sender: number;
  /** The key encode seals under unless told another (a replica: the peer key in use, read at each send; a client: its credential). */
  send: SealKey;
  /** The base key for an incoming datagram's (class, keyId, sender), or null: refused as unknown-key. */
  keyFor: KeyLookup;
}

/** Messages one datagram may carry. */
export const messagesPerDatagramMax = 1_024;
/** The largest CBOR array header (0x99 + u16), written before a batch's items. */
const arrayHeaderBytesMax = 3;

export class Codec {
  // Plain maps with string keys come back as plain objects; no record extension on the wire.
  private readonly cbor = new Encoder({ mapsAsObjects: true, useRecords: false });
  private readonly sealer: Sealer;
  private readonly opener: Opener;
  private readonly keys: CodecKeys;

  /** `keySpace`: the cluster's key space, which says what a key on the wire is (byte-ordered 0..255 by default). */
  constructor(keys: CodecKeys, private readonly valueBytesMax: number, private readonly keySpace: KeyCheck = byteOrdered) {
    if (!Number.isInteger(valueBytesMax) || valueBytesMax < 1 || valueBytesMax > valueBytesMaxCeiling) {
      throw new Error(`codec: valueBytesMax ${valueBytesMax} outside 1..${valueBytesMaxCeiling}`);
    }
    this.sealer = new Sealer(keys.sender);
    this.opener = new Opener(keys.keyFor);
    this.keys = keys;
  }

  /** Throws only on a caller bug: a message too big for one datagram. */
  encode(msg: Message, key: SealKey = this.keys.send): Buffer {
    const payload = this.cbor.encode(msg);
    const total = tagBytes + payload.length;
    if (total > datagramBytesMax) {
      throw new Error(`codec: a '${msg.t}' message encodes to ${total} bytes, over the datagram limit of ${datagramBytesMax}`);
    }
    return this.sealer.seal(payload, key);
  }

  /** Seals any payload bytes as a datagram (for tests that need authenticated bytes the encoder would never make). */
  sealPayload(payload: Uint8Array, key: SealKey = this.keys.send): Buffer {
    return this.sealer.seal(payload, key);
  }

  /**
   * Messages for one destination, in as few datagrams as fit, in order. A lone message goes as a
   * plain map; several as an array (items encoded one by one: an array header plus its items is CBOR).
   */
  encodeBatch(msgs: readonly Message[], key: SealKey = this.keys.send): Buffer[] {
    if (msgs.length === 1) return [this.encode(msgs[0]!, key)];
    const datagrams: Buffer[] = [];
    let items: Buffer[] = [];
    let bytes = tagBytes + arrayHeaderBytesMax;
    const flush = () => {
      if (items.length === 0) return;
      const payload = items.length === 1 ? items[0]! : Buffer.concat([arrayHeader(items.length), ...items]);
      datagrams.push(this.sealer.seal(payload, key));
      items = [];
      bytes = tagBytes + arrayHeaderBytesMax;
    };
    for (const msg of msgs) {
      const item = Buffer.from(this.cbor.encode(msg)); // a copy: cbor-x reuses its buffer
      if (tagBytes + item.length > datagramBytesMax) {
        throw new Error(`codec: a '${msg.t}' message encodes to ${tagBytes + item.length} bytes, over the datagram limit of ${datagramBytesMax}`);
      }
      if (bytes + item.length > datagramBytesMax || items.length === messagesPerDatagramMax) flush();
      items.push(item);
      bytes += item.length;
    }
    flush();
    return datagrams;
  }

  /** Every message of a datagram (one, or a batch). Never throws. */
  decodeMany(datagram: Uint8Array): DecodedMany {
    const payload = this.authenticated(datagram);
    if (!payload.ok) return payload;
    const { value: decoded, origin } = payload;
    if (!Array.isArray(decoded)) {
      const v = validate(decoded, this.valueBytesMax, this.keySpace);
      return v.ok ? { ok: true, msgs: [v.msg], invalid: [], origin } : refuse('invalid', v.reason);
    }
    if (decoded.length === 0 || decoded.length > messagesPerDatagramMax) {
      return refuse('invalid', `a batch of ${decoded.length} messages (1..${messagesPerDatagramMax} allowed)`);
    }
    const msgs: Message[] = [];
    const invalid: string[] = [];
    for (const item of decoded) {
      const v = validate(item, this.valueBytesMax, this.keySpace);
      if (v.ok) msgs.push(v.msg);
      else invalid.push(v.reason);
    }
    return { ok: true, msgs, invalid, origin };
  }

  decode(datagram: Uint8Array): Decoded {
    const payload = this.authenticated(datagram);
    if (!payload.ok) return payload;
    const v = validate(payload.value, this.valueBytesMax, this.keySpace);
    return v.ok ? { ok: true, msg: v.msg, origin: payload.origin } : refuse('invalid', v.reason);
  }

  /** The decoded payload of a datagram that opened (authentic, not replayed) and whose CBOR is plain data. */
  private authenticated(datagram: Uint8Array): { ok: true; value: unknown; origin: Origin } | { ok: false; error: DecodeError; detail: string } {
    const n = datagram.length;
    if (n > datagramBytesMax) return refuse('oversize', `${n} bytes, over the datagram limit of ${datagramBytesMax}`);
    const opened = this.opener.open(datagram);
    if (!opened.ok) return opened;
    const payload = opened.payload;
    let decoded: unknown;
    try {
      decoded = this.cbor.decode(payload);
    } catch (e) {
      return refuse('cbor', e instanceof Error ? e.message : String(e));
    }
    const problem = nonPlainData(decoded, 0);
    if (problem !== null) return refuse('cbor', problem);
    return { ok: true, value: decoded, origin: opened.origin };
  }
}

function refuse(error: DecodeError, detail: string): { ok: false; error: DecodeError; detail: string } {
  return { ok: false, error, detail };
}

function arrayHeader(n: number): Buffer {
  if (n < 24) return Buffer.of(0x80 | n);
  if (n < 256) return Buffer.of(0x98, n);
  return Buffer.of(0x99, n >> 8, n & 0xff);
}

/**
 * Messages are plain data. CBOR tags can make cbor-x build Maps, Sets, Dates, byte and typed
 * arrays or bigints; refuse them here so nothing downstream meets one in a field validate lets through.
 */
function nonPlainData(x: unknown, depth: number): string | null {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case 'string': case 'number': case 'boolean': return null;
    case 'object': if (x === strayBreak) return 'stray CBOR break code'; break;
    default: return `payload holds a ${typeof x}`;
  }
  if (depth >= payloadDepthMax) return `payload nested deeper than ${payloadDepthMax}`;
  if (Array.isArray(x)) {
    for (const item of x) {
      const p = nonPlainData(item, depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  if (Object.getPrototypeOf(x) !== Object.prototype) return `payload holds a ${x.constructor?.name ?? 'non-plain object'}`;
  for (const item of Object.values(x)) {
    const p = nonPlainData(item, depth + 1);
    if (p !== null) return p;
  }
  return null;
}
