import { expect } from 'chai';
import { encode as cborEncode } from 'cbor-x';
import fc from 'fast-check';
import { datagramBytesMax, nodeNameBytesMax, replayWindowCounters, valueBytesMaxCeiling } from '../../src/core/limits.js';
import type { Message } from '../../src/core/messages.js';
import { Codec, tagBytes } from '../../src/io/codec.js';
import { newKeyringText, parseKeyring } from '../../src/io/keyring.js';
import { peerKeys } from '../../src/io/keys.js';

const keyring = parseKeyring(newKeyringText(), 'a test keyring');
const valueBytesMax = 60_000;
const codec = new Codec(peerKeys(keyring, 0), valueBytesMax);

/** A payload sealed under the right key: it passes authentication and reaches the decoder. */
function tagged(payload: Uint8Array): Buffer {
  return codec.sealPayload(payload);
}

const examples: Message[] = [
  { t: 'get', id: 1, key: 0, level: 'ONE', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000 },
  { t: 'put', id: 2, key: 255, value: 'héllo ✓ 𝄞', level: 'QUORUM', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000 },
  { t: 'local', id: 3, key: 17 },
  { t: 'status', id: 4 },
  { t: 'get.ok', id: 5, key: 17, value: 'v', stamp: [1_700_000_000_000, 3, 1], coordinator: 'replica-2' },
  { t: 'get.ok', id: 6, key: 18, value: null, stamp: null, coordinator: 'replica-2' },
  { t: 'get', id: 5, key: 17, level: 'ONE', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000, seen: [1_700_000_000_000, 2, 1] },
  { t: 'put.ok', id: 7, key: 17, stamp: [1_700_000_000_000, 0, 2], coordinator: 'replica-3' },
  { t: 'local.ok', id: 8, key: 17, value: '', stamp: [1, 2, 3], node: 'replica-4' },
  {
    t: 'status.ok', id: 9, status: {
      node: 'replica-1', replicationFactor: 3, repairMode: 'both',
      ring: [{ first: 0, last: 63, replicas: ['replica-1', 'replica-2', 'replica-3'] }],
      antiEntropyIntervalMs: 0,
      peers: [{ name: 'replica-2', up: true, hintsPending: 4, hintsExpired: 0, antiEntropy: { rounds: 3, lastRoundMs: 1_700_000_000_000, keysSent: 1, keysReceived: 2 }, clockOffsetMs: -3, clockRefused: false, configMismatch: false, forged: false, refusesOurCookie: false }],
      keysStored: 10, tombstones: 0, logBytes: 4096, logRecords: 12, droppedDatagrams: { forged: 2 }, clientRequestsInFlight: 0, logWritable: true, logAppendsFailed: 0, configDigest: '0a1b2c3d', clockWarning: null, quarantinedAtReplay: 0, writesServedInMs: 0,
    },
  },
  { t: 'fail', id: 10, error: 'Timeout', message: 'Timeout: 1 of 2 acks', acks: 1, required: 2 },
  { t: 'fail', id: 11, error: 'Unavailable', message: 'Unavailable: 1 of 2 replicas alive for key 17' },
  { t: 'rw', from: 0, gen: 1_700_000_000_000, id: 12, key: 9, value: 'x', stamp: [5, 0, 0] },
  { t: 'rw.ok', from: 1, id: 12 },
  { t: 'rr', from: 2, gen: 7, id: 13, key: 9 },
  { t: 'rr.ok', from: 3, id: 13, value: 'x', stamp: [5, 0, 0] },
  { t: 'rr.ok', from: 3, id: 14, value: null, stamp: null },
  { t: 'hints', from: 0, gen: 7, id: 15, writes: [[1, 'a', [5, 0, 0]], [2, 'b', [6, 1, 0]]] },
  { t: 'hints.ok', from: 1, id: 15 },
  { t: 'hb', from: 2, gen: 7, counter: 99, hlc: [1_700_000_000_000, 4, 2], wall: 1_700_000_000_000, digest: '0a1b2c3d' },
];

const arbStamp = fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 63 }));
const arbKey = fc.nat({ max: 255 });
const arbId = fc.nat();
const arbValue = fc.string({ unit: 'grapheme', maxLength: 200 });
const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ t: fc.constant('get' as const), id: arbId, key: arbKey, level: fc.constantFrom('ONE', 'TWO', 'THREE', 'QUORUM', 'ALL' as const), sentAtMs: fc.nat(), deadlineMs: fc.nat() }),
  fc.record({ t: fc.constant('put' as const), id: arbId, key: arbKey, value: arbValue, level: fc.constantFrom('ONE', 'QUORUM', 'ALL' as const), sentAtMs: fc.nat(), deadlineMs: fc.nat() }),
  fc.record({ t: fc.constant('rw' as const), from: fc.nat({ max: 63 }), gen: fc.nat(), id: arbId, key: arbKey, value: arbValue, stamp: arbStamp }),
  fc.record({ t: fc.constant('rr.ok' as const), from: fc.nat({ max: 63 }), id: arbId, value: arbValue, stamp: arbStamp }),
  fc.record({ t: fc.constant('hb' as const), from: fc.nat({ max: 63 }), gen: fc.nat(), counter: fc.nat(), hlc: arbStamp, wall: fc.nat(), digest: fc.constantFrom('0a1b2c3d', 'ffffffff') }),
  fc.constantFrom(...examples),
);

describe('io/codec', () => {
  it('round-trips one example of every message type', () => {
    const types = new Set(examples.map((m) => m.t));
    expect(types.size).to.equal(16);
    for (const msg of examples) {
      const datagram = codec.encode(msg);
      expect(datagram.length).to.be.greaterThan(tagBytes);
      const back = codec.decode(datagram);
      expect(back, msg.t).to.deep.include({ ok: true, msg });
    }
  });

  it('decodes into plain objects, not Maps', () => {
    const back = codec.decode(codec.encode(examples[8]!));
    if (!back.ok) expect.fail(back.detail);
    expect(Object.getPrototypeOf(back.msg)).to.equal(Object.prototype);
  });

  it('round-trips random messages', () => {
    fc.assert(fc.property(arbMessage, (msg) => {
      expect(codec.decode(codec.encode(msg))).to.deep.include({ ok: true, msg });
    }), { numRuns: 200 });
  });

  it('refuses a datagram with any single bit flipped: forged, or (version, class, key id bits) naming no key', () => {
    fc.assert(fc.property(arbMessage, fc.nat(), (msg, at) => {
      const datagram = codec.encode(msg);
      const bit = at % (datagram.length * 8);
      datagram[bit >> 3]! ^= 1 << (bit & 7);
      const back = codec.decode(datagram);
      expect(back.ok).to.equal(false);
      if (back.ok) return;
      if (bit < 8) expect(back.error).to.equal('version');
      else if (bit < 6 * 8) expect(back.error).to.be.oneOf(['forged', 'unknown-key']); // class and key id: another key, or none
      else expect(back.error).to.equal('forged');
    }), { numRuns: 500 });
  });

  it('refuses a datagram sealed under another key of the same id', () => {
    const other = new Codec(peerKeys({ ...keyring, keys: new Map([[keyring.use, Buffer.alloc(32, 1)]]) }, 1), valueBytesMax);
    for (const msg of examples) {
      expect(other.decode(codec.encode(msg))).to.include({ ok: false, error: 'forged' });
      expect(codec.decode(other.encode(msg))).to.include({ ok: false, error: 'forged' });
    }
  });

  it('refuses every truncation of a datagram without throwing', () => {
    const datagram = codec.encode(examples[1]!);
    for (let n = 0; n < datagram.length; n++) {
      const back = codec.decode(datagram.subarray(0, n));
      expect(back.ok, `${n} bytes`).to.equal(false);
      if (!back.ok) expect(back.error).to.equal(n <= tagBytes ? 'short' : 'forged');
    }
  });

  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const back = codec.decode(bytes);
      expect(back.ok).to.equal(false);
      if (!back.ok) expect(back.error).to.be.oneOf(['short', 'version', 'forged', 'unknown-key']);
    }), { numRuns: 500 });
  });

  it('never throws on random payloads that carry a valid tag', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (payload) => {
      const back = codec.decode(tagged(payload));
      if (!back.ok) expect(back.error).to.be.oneOf(['cbor', 'invalid']);
    }), { numRuns: 1_000 });
  });

  it('never throws on random CBOR values that carry a valid tag', () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 3 }), (x) => {
      let payload: Uint8Array;
      try { payload = cborEncode(x); } catch { return; }
      if (payload.length === 0) return;
      const back = codec.decode(tagged(payload));
      if (!back.ok) expect(back.error).to.be.oneOf(['cbor', 'invalid']);
    }), { numRuns: 300 });
  });

  it('refuses a correctly tagged payload that is not a valid message, with the reason', () => {
    const back = codec.decode(tagged(cborEncode({ t: 'get', id: 1, key: 300, level: 'ONE' })));
    expect(back).to.include({ ok: false, error: 'invalid' });
    if (!back.ok) expect(back.detail).to.match(/^key: expected an integer in 0\.\.255, got 300/);
    const unknown = codec.decode(tagged(cborEncode({ t: 'nope', id: 1 })));
    expect(unknown).to.include({ ok: false, error: 'invalid' });
    if (!unknown.ok) expect(unknown.detail).to.contain('unknown message type');
  });

  it('refuses a value over the configured limit as invalid', () => {
    const small = new Codec(peerKeys(keyring, 0), 10);
    const back = small.decode(small.encode({ t: 'put', id: 1, key: 1, value: 'x'.repeat(11), level: 'ONE', sentAtMs: 1, deadlineMs: 2 }));
    expect(back).to.include({ ok: false, error: 'invalid' });
    if (!back.ok) expect(back.detail).to.contain('value: 11 bytes, over the limit of 10');
  });

  it('refuses payloads that are not CBOR, or CBOR that is not plain data', () => {
    expect(codec.decode(tagged(Uint8Array.of(0x1c)))).to.include({ ok: false, error: 'cbor' });
    expect(codec.decode(tagged(Uint8Array.of(0xff)))).to.include({ ok: false, error: 'cbor' });
    expect(codec.decode(tagged(Uint8Array.of(0x82, 0x01, 0xff)))).to.include({ ok: false, error: 'cbor' });
    const full = cborEncode({ t: 'status', id: 1 });
    expect(codec.decode(tagged(full.subarray(0, full.length - 1)))).to.include({ ok: false, error: 'cbor' });
    const withMap = codec.decode(tagged(cborEncode({ t: 'status', id: 1, extra: new Map([[1, 2]]) })));
    expect(withMap).to.include({ ok: false, error: 'cbor' });
    if (!withMap.ok) expect(withMap.detail).to.contain('Map');
  });

  it('refuses to encode a message over one datagram, and to decode one', () => {
    const huge: Message = { t: 'put', id: 1, key: 1, value: 'x'.repeat(datagramBytesMax), level: 'ONE', sentAtMs: 1, deadlineMs: 2 };
    expect(() => codec.encode(huge)).to.throw(Error, /over the datagram limit of 65000/);
    const back = codec.decode(Buffer.alloc(datagramBytesMax + 1));
    expect(back).to.include({ ok: false, error: 'oversize' });
    // At the ceiling, the largest message of each kind that carries a value still fits one datagram.
    const atCeiling = new Codec(peerKeys(keyring, 0), valueBytesMaxCeiling);
    const value = '\u{10FFFF}'.repeat(valueBytesMaxCeiling / 4);
    const big = Number.MAX_SAFE_INTEGER;
    const name = 'n'.repeat(nodeNameBytesMax);
    const largest: Message[] = [
      { t: 'rw', from: 63, gen: big, id: big, key: 255, value, stamp: [big, big, 63] },
      { t: 'get.ok', id: big, key: 255, value, stamp: [big, big, 63], coordinator: name },
      { t: 'local.ok', id: big, key: 255, value, stamp: [big, big, 63], node: name },
      { t: 'put', id: big, key: 255, value, level: 'QUORUM', sentAtMs: big, deadlineMs: big },
    ];
    for (const msg of largest) expect(atCeiling.decode(atCeiling.encode(msg)).ok, msg.t).to.equal(true);
  });
});

describe('io/codec batches', () => {
  const codec = new Codec(peerKeys(keyring, 0), 60_000);
  const ack = (id: number) => ({ t: 'rw.ok' as const, from: 1, id });

  it('coalesces messages to one destination into one datagram, in order', () => {
    const msgs = Array.from({ length: 50 }, (_, i) => ack(i));
    const datagrams = codec.encodeBatch(msgs);
    expect(datagrams).to.have.length(1);
    const back = codec.decodeMany(datagrams[0]!);
    expect(back.ok && back.msgs).to.deep.equal(msgs);
  });

  it('splits a batch that does not fit one datagram, keeping every message and the order', () => {
    const big = 'v'.repeat(20_000);
    const msgs = Array.from({ length: 7 }, (_, i) => ({ t: 'rw' as const, from: 0, gen: 1, id: i, key: i, value: big, stamp: [1, 0, 0] as const }));
    const datagrams = codec.encodeBatch(msgs as never);
    expect(datagrams.length).to.be.greaterThan(2);
    for (const d of datagrams) expect(d.length).to.be.at.most(datagramBytesMax);
    const back = datagrams.flatMap((d) => { const r = codec.decodeMany(d); return r.ok ? r.msgs : []; });
    expect(back.map((m) => (m as { id: number }).id)).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
  });

  it('sends a lone message as a plain map that decode reads too', () => {
    const [d] = codec.encodeBatch([ack(7)]);
    expect(codec.decode(d!)).to.deep.include({ ok: true, msg: ack(7) });
  });

  it('keeps the good messages of a batch and gives the reasons for the bad ones', () => {
    const payload = Buffer.concat([Buffer.of(0x83), ...[ack(1), { t: 'rw.ok', from: 1, id: -1 }, ack(3)].map((m) => Buffer.from(cborEncode(m)))]);
    const datagram = codec.sealPayload(payload);
    const back = codec.decodeMany(datagram);
    expect(back.ok).to.equal(true);
    if (!back.ok) return;
    expect(back.msgs).to.deep.equal([ack(1), ack(3)]);
    expect(back.invalid).to.have.length(1);
    expect(back.invalid[0]).to.match(/^id:/);
  });

  it('refuses a forged batch before decoding it, and an empty one', () => {
    const [d] = codec.encodeBatch([ack(1), ack(2)]);
    d![d!.length - 1]! ^= 1;
    expect(codec.decodeMany(d!)).to.include({ ok: false, error: 'forged' });
    const empty = Buffer.of(0x80);
    const datagram = codec.sealPayload(empty);
    expect(codec.decodeMany(datagram)).to.include({ ok: false, error: 'invalid' });
  });
});

describe('io/codec sealing: AEAD, key ids, replay window', () => {
  const key = Buffer.alloc(32, 9);
  /** A receiver that holds one key for every class, key id and sender: any refusal is the AEAD's or the window's. */
  const anyKey = () => new Codec({ sender: 1, send: { cls: 'peer', keyId: 5, key }, keyFor: () => key }, 60_000);
  const msg: Message = { t: 'put', id: 2, key: 7, value: 'the secret value', level: 'QUORUM', sentAtMs: 1, deadlineMs: 2 };

  it('never carries a value in clear', () => {
    const datagram = anyKey().encode(msg);
    expect(datagram.includes(Buffer.from('the secret value'))).to.equal(false);
    expect(datagram.includes(Buffer.from('secret'))).to.equal(false);
  });

  it('refuses every flipped byte of header, ciphertext and tag as forged (the version byte as another version)', () => {
    const sender = anyKey();
    const datagram = sender.encode(msg);
    for (let at = 0; at < datagram.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Buffer.from(datagram);
        bad[at]! ^= mask;
        const back = anyKey().decode(bad);
        const where = at < 26 ? 'header' : at < datagram.length - 16 ? 'ciphertext' : 'tag';
        expect(back, `byte ${at} (${where}) ^ ${mask}`).to.include({ ok: false, error: at === 0 ? 'version' : 'forged' });
      }
    }
    expect(anyKey().decode(datagram)).to.deep.include({ ok: true, msg });
  });

  it('refuses a key id it does not hold as unknown-key, without trying other keys', () => {
    const receiver = new Codec({ sender: 1, send: { cls: 'peer', keyId: 5, key }, keyFor: (cls, keyId) => (cls === 'peer' && keyId === 5 ? key : null) }, 60_000);
    const other = new Codec({ sender: 2, send: { cls: 'peer', keyId: 6, key }, keyFor: () => null }, 60_000);
    expect(receiver.decode(other.encode(msg))).to.include({ ok: false, error: 'unknown-key' });
    const asClient = new Codec({ sender: 2, send: { cls: 'client', keyId: 5, key }, keyFor: () => null }, 60_000);
    expect(receiver.decode(asClient.encode(msg))).to.include({ ok: false, error: 'unknown-key' });
  });

  it('refuses the same datagram twice as a duplicate; a forged copy does not spend the genuine one', () => {
    const sender = anyKey();
    const receiver = anyKey();
    const d = sender.encode(msg);
    const forged = Buffer.from(d);
    forged[forged.length - 1]! ^= 1;
    expect(receiver.decode(forged)).to.include({ ok: false, error: 'forged' });
    expect(receiver.decode(d)).to.deep.include({ ok: true, msg });
    expect(receiver.decode(d)).to.include({ ok: false, error: 'duplicate' });
    expect(receiver.decode(Buffer.from(d))).to.include({ ok: false, error: 'duplicate' });
  });

  it('accepts datagrams reordered inside the window, refuses those behind it', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 199 }), { minLength: 200, maxLength: 200 }), (order) => {
      const sender = anyKey();
      const receiver = anyKey();
      const sent = Array.from({ length: 200 }, (_, i) => sender.encode({ t: 'rw.ok', from: 1, id: i }));
      const permutation = [...sent.keys()].sort((a, b) => order[a]! - order[b]! || a - b);
      for (const i of permutation) expect(receiver.decode(sent[i]!), `datagram ${i}`).to.include({ ok: true });
      for (const i of permutation) expect(receiver.decode(sent[i]!)).to.include({ ok: false, error: 'duplicate' });
    }), { numRuns: 20 });
    const sender = anyKey();
    const receiver = anyKey();
    const first = sender.encode(msg);
    for (let i = 0; i < replayWindowCounters; i++) sender.encode(msg);
    expect(receiver.decode(sender.encode(msg))).to.include({ ok: true });
    expect(receiver.decode(first)).to.include({ ok: false, error: 'too-old' });
  });
});
