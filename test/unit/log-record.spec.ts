import { crc32 as zlibCrc32 } from 'node:zlib';
import { expect } from 'chai';
import { encode } from 'cbor-x';
import fc from 'fast-check';
import { crc32 } from '../../src/core/crc32.js';
import { recordBytesMax } from '../../src/core/limits.js';
import { encodeRecord, recordHeaderBytes, scanRecords, validateRecord, type LogRecord } from '../../src/core/log-record.js';
import type { Stamp } from '../../src/core/types.js';

// ---- generators -----------------------------------------------------------------------------------

const key = fc.integer({ min: 0, max: 255 });
const node = fc.integer({ min: 0, max: 63 });
const value = fc.string({ unit: 'binary', maxLength: 30 });
const stamp: fc.Arbitrary<Stamp> = fc.tuple(fc.oneof(fc.maxSafeNat(), fc.integer({ min: 0, max: 2e12 })), fc.nat(), node);
const atMs = fc.maxSafeNat();
const record: fc.Arbitrary<LogRecord> = fc.oneof(
  fc.record({ t: fc.constant('w' as const), key, value, stamp }),
  fc.record({ t: fc.constant('h' as const), target: node, key, value, stamp, atMs }),
  fc.record({ t: fc.constant('hd' as const), target: node, key, stamp }),
  fc.record({
    t: fc.constant('snap' as const),
    writes: fc.array(fc.tuple(key, value, stamp), { maxLength: 4 }),
    hints: fc.array(fc.tuple(node, key, value, stamp, atMs), { maxLength: 4 }),
  }),
);

/** Records encoded back to back, and where each one ends. */
function encodeAll(records: readonly LogRecord[]): { bytes: Uint8Array; ends: number[] } {
  const parts = records.map(encodeRecord);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const ends: number[] = [];
  let offset = 0;
  for (const p of parts) { bytes.set(p, offset); offset += p.length; ends.push(offset); }
  return { bytes, ends };
}

/** The bytes as a view in the middle of a larger buffer, so byteOffset is never 0. */
function inTheMiddle(bytes: Uint8Array): Uint8Array {
  const host = new Uint8Array(bytes.length + 13).fill(0xee);
  host.set(bytes, 7);
  return host.subarray(7, 7 + bytes.length);
}

/** A header around any payload, with its right crc (zlib's). */
function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(recordHeaderBytes + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, zlibCrc32(payload), true);
  out.set(payload, recordHeaderBytes);
  return out;
}

const write: LogRecord = { t: 'w', key: 17, value: 'héllo 😀', stamp: [1_700_000_000_000, 2, 1] };
const examples: LogRecord[] = [
  write,
  { t: 'h', target: 3, key: 17, value: 'held for replica-4', stamp: [1_700_000_000_000, 2, 1], atMs: 1_700_000_000_123 },
  { t: 'hd', target: 3, key: 17, stamp: [1_700_000_000_000, 2, 1] },
  { t: 'snap', writes: [], hints: [] },
  { t: 'snap', writes: [[0, '', [1, 0, 0]], [255, 'x', [2, 5, 63]]], hints: [[2, 0, 'h', [1, 0, 0], 99]] },
  // Tombstones (deletes): a null value wherever a version is kept.
  { t: 'w', key: 17, value: null, stamp: [1_700_000_000_001, 0, 2] },
  { t: 'h', target: 3, key: 17, value: null, stamp: [1_700_000_000_001, 0, 2], atMs: 1_700_000_000_123 },
  { t: 'snap', writes: [[3, null, [1, 0, 0]]], hints: [[2, 3, null, [1, 0, 0], 99]] },
];

// ---- tests -------------------------------------------------------------------------------------------

describe('crc32', () => {
  it('matches the standard check value and the empty input', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).to.equal(0xcbf43926);
    expect(crc32(new Uint8Array(0))).to.equal(0);
  });

  it('equals node:zlib crc32 on random bytes, whole or in part, as an unsigned number', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2_000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      expect(crc32(bytes)).to.equal(zlibCrc32(bytes));
      const start = a % (bytes.length + 1);
      const end = start + (b % (bytes.length - start + 1));
      expect(crc32(bytes, start, end)).to.equal(zlibCrc32(bytes.subarray(start, end)));
      expect(crc32(bytes)).to.be.at.least(0).and.at.most(0xffffffff);
    }), { numRuns: 200 });
  });

  it('refuses a range outside the bytes', () => {
    expect(() => crc32(new Uint8Array(4), 2, 5)).to.throw(RangeError);
    expect(() => crc32(new Uint8Array(4), 3, 2)).to.throw(RangeError);
    expect(() => crc32(new Uint8Array(4), -1)).to.throw(RangeError);
  });
});

describe('log-record', () => {
  describe('encodeRecord', () => {
    it('writes [length u32 LE][crc32 u32 LE of payload][payload]', () => {
      const bytes = encodeRecord(write);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      expect(view.getUint32(0, true)).to.equal(bytes.length - recordHeaderBytes);
      expect(view.getUint32(4, true)).to.equal(zlibCrc32(bytes.subarray(recordHeaderBytes)));
    });

    it('returns bytes of its own, not a view that the next encode overwrites', () => {
      const first = encodeRecord(write);
      const copy = first.slice();
      encodeRecord({ t: 'hd', target: 1, key: 2, stamp: [3, 4, 5] });
      expect(first).to.deep.equal(copy);
      expect(Object.getPrototypeOf(first)).to.equal(Uint8Array.prototype);
    });

    it('refuses a record that replay would refuse, rather than write a log that stops there', () => {
      expect(() => encodeRecord({ ...write, key: 256 })).to.throw(RangeError, /key/);
      expect(() => encodeRecord({ ...write, value: 'x\ud800' })).to.throw(RangeError, /surrogate/);
      expect(() => encodeRecord({ ...write, stamp: [1, -1, 0] })).to.throw(RangeError, /stamp/);
    });

    it('drops fields that are not part of the record', () => {
      const bytes = encodeRecord({ ...write, extra: 'x' } as LogRecord);
      expect(scanRecords(bytes).records).to.deep.equal([write]);
    });
  });

  describe('scanRecords', () => {
    for (const rec of examples) {
      it(`round-trips a '${rec.t}' record${rec.t === 'snap' ? ` of ${rec.writes.length} writes and ${rec.hints.length} hints` : ''}`, () => {
        const bytes = encodeRecord(rec);
        expect(scanRecords(bytes)).to.deep.equal({ records: [rec], goodBytes: bytes.length, stopReason: null });
      });
    }

    it('reads an empty log as no records', () => {
      expect(scanRecords(new Uint8Array(0))).to.deep.equal({ records: [], goodBytes: 0, stopReason: null });
    });

    it('property: records encoded back to back read back in order', () => {
      fc.assert(fc.property(fc.array(record, { maxLength: 8 }), (records) => {
        const { bytes } = encodeAll(records);
        expect(scanRecords(inTheMiddle(bytes))).to.deep.equal({ records, goodBytes: bytes.length, stopReason: null });
      }));
    });

    it('a torn last write: keeps the whole records and says where the tail starts', () => {
      const { bytes, ends } = encodeAll(examples);
      const cut = ends[2]! + 5;
      const scan = scanRecords(bytes.subarray(0, cut));
      expect(scan.records).to.deep.equal(examples.slice(0, 3));
      expect(scan.goodBytes).to.equal(ends[2]);
      expect(scan.stopReason).to.equal(`short header (5 of 8 bytes) at ${ends[2]}`);
      const scan2 = scanRecords(bytes.subarray(0, ends[3]! + 9));
      expect(scan2.stopReason).to.match(new RegExp(`^short payload \\(1 of \\d+ bytes\\) at ${ends[3]}$`));
    });

    it('property: a log cut anywhere keeps exactly the records entirely before the cut', () => {
      fc.assert(fc.property(fc.array(record, { maxLength: 8 }), fc.nat(), (records, n) => {
        const { bytes, ends } = encodeAll(records);
        const cut = n % (bytes.length + 1);
        const whole = ends.filter((end) => end <= cut).length;
        const goodBytes = whole === 0 ? 0 : ends[whole - 1]!;
        const scan = scanRecords(inTheMiddle(bytes.subarray(0, cut)));
        expect(scan.records).to.deep.equal(records.slice(0, whole));
        expect(scan.goodBytes).to.equal(goodBytes);
        expect(scan.stopReason === null).to.equal(cut === goodBytes);
      }));
    });

    it('property: one damaged byte anywhere keeps exactly the records before the damaged one', () => {
      fc.assert(fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (records, n, flip) => {
        const { bytes, ends } = encodeAll(records);
        const at = n % bytes.length;
        bytes[at]! ^= flip;
        const damaged = ends.findIndex((end) => at < end);
        const scan = scanRecords(bytes);
        expect(scan.records).to.deep.equal(records.slice(0, damaged));
        expect(scan.goodBytes).to.equal(damaged === 0 ? 0 : ends[damaged - 1]);
        expect(scan.stopReason).to.be.a('string').and.match(/^(bad crc|short payload|length \d+ over limit).* at \d+$/);
      }), { numRuns: 300 });
    });

    it('stops at a length over the limit, even with bytes to back it', () => {
      const { bytes } = encodeAll([write]);
      const bad = new Uint8Array(bytes.length + recordHeaderBytes);
      bad.set(bytes);
      new DataView(bad.buffer).setUint32(bytes.length, recordBytesMax + 1, true);
      expect(scanRecords(bad)).to.deep.equal({ records: [write], goodBytes: bytes.length, stopReason: `length ${recordBytesMax + 1} over limit ${recordBytesMax} at ${bytes.length}` });
    });

    it('stops at a record whose crc matches but whose payload is not a record', () => {
      const good = encodeRecord(write);
      const cases: Uint8Array[] = [
        frame(new Uint8Array(0)), // empty payload
        frame(new Uint8Array([0xff, 0x00])), // not CBOR
        frame(encode({ t: 'w', key: 256, value: 'v', stamp: [1, 0, 0] }) as Uint8Array),
        frame(encode({ t: 'x' }) as Uint8Array),
        frame(new Uint8Array([...encodeRecord(write).subarray(recordHeaderBytes), 0x00])), // trailing byte
      ];
      for (const bad of cases) {
        const scan = scanRecords(new Uint8Array([...good, ...bad, ...good]));
        expect(scan.records).to.deep.equal([write]);
        expect(scan.goodBytes).to.equal(good.length);
        expect(scan.stopReason).to.match(new RegExp(`^bad payload \\(.+\\) at ${good.length}$`));
      }
    });

    it('property: random garbage never throws, and the good prefix it reports scans clean', () => {
      const garbage = fc.oneof(
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 300 }).map(frame), // a right crc around random bytes
        fc.anything({ withBigInt: true, withTypedArray: true, withMap: true, withSet: true, withDate: true }).map((x) => {
          try { return frame(encode(x) as Uint8Array); } catch { return new Uint8Array(0); }
        }),
        fc.tuple(fc.array(record, { maxLength: 3 }), fc.uint8Array({ maxLength: 100 })).map(([rs, tail]) => new Uint8Array([...encodeAll(rs).bytes, ...tail])),
      );
      fc.assert(fc.property(garbage, (bytes) => {
        const scan = scanRecords(bytes);
        expect(scan.goodBytes).to.be.within(0, bytes.length);
        expect(scan.stopReason === null).to.equal(scan.goodBytes === bytes.length);
        expect(scanRecords(bytes.subarray(0, scan.goodBytes))).to.deep.equal({ ...scan, stopReason: null });
      }), { numRuns: 400 });
    });
  });

  describe('validateRecord', () => {
    it('returns a fresh record without extra fields', () => {
      const input = { ...examples[1]!, extra: 1 };
      const got = validateRecord(input);
      expect(got).to.deep.equal(examples[1]);
      expect(got).not.to.equal(input);
    });

    it('refuses bad shapes with a reason', () => {
      const bad: [unknown, RegExp][] = [
        [null, /expected a map/], [17, /expected a map/], ['w', /expected a map/], [[write], /expected a map/], [new Uint8Array(3), /expected a map/],
        [{ t: 'del', key: 1 }, /unknown record type "del"/],
        [{ ...write, key: -1 }, /^key/], [{ ...write, key: 256 }, /^key/], [{ ...write, key: 1.5 }, /^key/], [{ ...write, key: '17' }, /^key/],
        [{ ...write, value: 17 }, /^value/], [{ ...write, value: undefined }, /^value/], [{ t: 'snap', writes: [[1, undefined, [1, 0, 0]]], hints: [] }, /^writes\[0\]\.value/], [{ ...write, value: '\udc00' }, /surrogate/], [{ ...write, value: 'x'.repeat(70_000) }, /over the limit/],
        [{ ...write, stamp: [1, 2] }, /^stamp/], [{ ...write, stamp: [-1, 0, 0] }, /^stamp wall clock/], [{ ...write, stamp: [1, 0.5, 0] }, /^stamp counter/],
        [{ ...write, stamp: [1, 0, 64] }, /^stamp node/], [{ t: 'w', key: 1, value: 'v' }, /^stamp/],
        [{ ...examples[1]!, target: 64 }, /^target/], [{ ...examples[1]!, atMs: -5 }, /^atMs/], [{ ...examples[2]!, target: undefined }, /^target/],
        [{ t: 'snap', writes: [] }, /^hints/], [{ t: 'snap', writes: {}, hints: [] }, /^writes/],
        [{ t: 'snap', writes: [[1, 'v']], hints: [] }, /^writes\[0\]/],
        [{ t: 'snap', writes: [[1, 'v', [1, 0, 0]], [300, 'v', [1, 0, 0]]], hints: [] }, /^writes\[1\]\.key/],
        [{ t: 'snap', writes: [], hints: [[0, 1, 'v', [1, 0, 0], -1]] }, /^hints\[0\]\.atMs/],
        [{ t: 'snap', writes: new Array(257).fill([1, 'v', [1, 0, 0]]), hints: [] }, /^writes: 257 entries, over the limit/],
      ];
      for (const [x, reason] of bad) {
        const got = validateRecord(x);
        expect(got, JSON.stringify(x)?.slice(0, 80)).to.be.a('string').and.match(reason);
      }
    });

    it('property: never throws, for anything or for random maps with each t', () => {
      const fields = ['key', 'value', 'stamp', 'target', 'atMs', 'writes', 'hints'];
      const plausible = fc.oneof(fc.integer({ min: -1, max: 300 }), fc.string(), stamp, fc.array(fc.anything(), { maxLength: 3 }), fc.anything());
      const input = fc.oneof(
        fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }),
        fc.tuple(fc.constantFrom('w', 'h', 'hd', 'snap'), fc.dictionary(fc.constantFrom(...fields), plausible)).map(([t, o]) => ({ ...o, t })),
      );
      fc.assert(fc.property(input, (x) => {
        const got = validateRecord(x);
        if (typeof got !== 'string') expect(validateRecord(got)).to.deep.equal(got);
      }), { numRuns: 400 });
    });
  });
});
