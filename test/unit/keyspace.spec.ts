import { expect } from 'chai';
import fc from 'fast-check';
import {
  byteOrdered, compareKeys, eitherKind, hashed, keyKindMismatch, keySpaceOf, murmur3x86_32, parseKey, slotOfText,
} from '../../src/core/keyspace.js';
import { slotCount } from '../../src/core/limits.js';
import { Ring } from '../../src/core/partitioner.js';

describe('key space', () => {
  describe('hashed placement is stable across versions', () => {
    // Made with an independent MurmurHash3_x86_32 (Python's mmh3 5.3.0, mmh3.hash(key.encode("utf-8"), 0, signed=False)).
    // A change here moves keys to other slots: other replicas, other data dirs. It must never happen.
    const table: [string, number, number][] = [
      ['a', 0x3c2569b2, 60], ['b', 0x95de7e03, 149], ['user:42', 0xc7a6a375, 199], ['user:43', 0xde29fa97, 222],
      ['session:9f8e7d', 0xc72181b3, 199], ['hello', 0x248bfa47, 36], ['The quick brown fox jumps over the lazy dog', 0x2e4ff723, 46],
      ['ünïcödé', 0x7b5af2c4, 123], ['键', 0x984b54b2, 152], ['😀', 0xbeb42efa, 190], ['0', 0xd271c07f, 210], ['17', 0x6e6f0b04, 110],
      ['255', 0xc9490089, 201], ['key with spaces', 0x803b00c3, 128], ['x'.repeat(256), 0x4265ab42, 66],
      ['order/2026-12-04/000123', 0x41a4b710, 65], ['Ada', 0xf0a1f877, 240], ['Lovelace', 0xe78d7a9d, 231],
      ['abc', 0xb3dd93fa, 179], ['abcd', 0x43ed676a, 67], ['abcde', 0xe89b9af6, 232],
    ];
    for (const [key, hash, slot] of table) {
      it(`${JSON.stringify(key.length > 30 ? `${key.slice(0, 8)}… (${key.length})` : key)} hashes to 0x${hash.toString(16)}, slot ${slot}`, () => {
        const bytes = new TextEncoder().encode(key);
        expect(murmur3x86_32(bytes)).to.equal(hash);
        expect(slotOfText(key)).to.equal(slot);
        expect(hashed(256).slotOf(key)).to.equal(slot);
      });
    }

    it('the empty input and a seed give the reference values (SMHasher)', () => {
      expect(murmur3x86_32(new Uint8Array(0))).to.equal(0);
      expect(murmur3x86_32(new Uint8Array(0), 0, 1)).to.equal(0x514e28b7);
    });
  });

  it('hashed keys spread evenly: a million realistic keys of each kind, every slot within 10% of the mean', function () {
    this.timeout(60_000);
    const families: ((i: number) => string)[] = [
      (i) => `user:${i}`,
      (i) => `session:${(i * 2_654_435_761 >>> 0).toString(16)}`,
      (i) => `order/2026-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}/${i}`,
      (i) => `${i}`,
    ];
    for (const family of families) {
      const counts = new Array<number>(slotCount).fill(0);
      const n = 1_000_000;
      for (let i = 0; i < n; i++) counts[slotOfText(family(i))]!++;
      const mean = n / slotCount;
      const chiSquare = counts.reduce((sum, c) => sum + (c - mean) ** 2 / mean, 0);
      // 255 degrees of freedom: the 99.9th percentile of chi-square is about 330.
      expect(chiSquare, `${family(0)}…: chi-square ${chiSquare.toFixed(0)}`).to.be.below(330);
      expect(Math.min(...counts), `${family(0)}…`).to.be.above(mean * 0.9);
      expect(Math.max(...counts), `${family(0)}…`).to.be.below(mean * 1.1);
    }
  });

  describe('validation, per partitioner', () => {
    it('byte-ordered: integers 0..255, typed or given, exactly as the original tool', () => {
      expect(parseKey('17')).to.equal(17);
      expect(parseKey(' 255 ')).to.equal(255);
      expect(parseKey(0)).to.equal(0);
      expect(parseKey('abc')).to.deep.equal({ error: 'key: expected an integer in 0..255, got "abc"' });
      expect(parseKey(256)).to.deep.equal({ error: 'key: expected an integer in 0..255, got 256' });
      expect(parseKey(undefined)).to.deep.equal({ error: 'key: expected an integer in 0..255, got nothing' });
      expect(byteOrdered.isKey(17)).to.equal(true);
      expect(byteOrdered.isKey('17')).to.equal(false);
    });

    it('hashed: text of 1..key_bytes_max UTF-8 bytes, taken as typed; errors name the partitioner', () => {
      const keys = hashed(8);
      expect(parseKey('user:42', keys)).to.equal('user:42');
      expect(parseKey(' spaced ', keys)).to.equal(' spaced ');
      expect(parseKey('17', keys)).to.equal('17');
      expect(parseKey('键键', keys)).to.equal('键键'); // 6 bytes
      expect(parseKey('键键键', keys)).to.deep.equal({ error: 'key: expected text of 1..8 UTF-8 bytes (partitioner hashed), got 9 bytes ("键键键"; key_bytes_max is 8)' });
      expect(parseKey('', keys)).to.deep.equal({ error: 'key: expected text of 1..8 UTF-8 bytes (partitioner hashed), got an empty key' });
      expect(parseKey(17, keys)).to.deep.equal({ error: 'key: expected text of 1..8 UTF-8 bytes (partitioner hashed), got the number 17 (quote it: "17")' });
      expect(parseKey('a\ud800', keys)).to.have.property('error').that.matches(/partitioner hashed.*lone surrogate/);
      expect(keys.isKey('user:42')).to.equal(true);
      expect(keys.isKey(17)).to.equal(false);
      expect(keys.isKey('123456789')).to.equal(false);
    });

    it('a config names its key space; key_bytes_max outside 1..1024 is refused', () => {
      expect(keySpaceOf({})).to.equal(byteOrdered);
      expect(keySpaceOf({ partitioner: 'byte-ordered' })).to.equal(byteOrdered);
      expect(keySpaceOf({ partitioner: 'hashed' }).keyBytesMax).to.equal(256);
      expect(keySpaceOf({ partitioner: 'hashed', keyBytesMax: 100 }).expected).to.match(/1\.\.100 UTF-8 bytes \(partitioner hashed\)/);
      expect(() => hashed(0)).to.throw(RangeError, /key_bytes_max 0/);
      expect(() => hashed(1025)).to.throw(RangeError, /key_bytes_max 1025/);
    });

    it('what a log may hold: either kind, and a mismatch names the partitioner that wrote it', () => {
      expect(eitherKind.isKey(17)).to.equal(true);
      expect(eitherKind.isKey('user:42')).to.equal(true);
      expect(eitherKind.isKey(256)).to.equal(false);
      expect(keyKindMismatch(17, byteOrdered)).to.equal(null);
      expect(keyKindMismatch('user:42', byteOrdered)).to.match(/written under the hashed partitioner, but nodes.toml says partitioner = "byte-ordered"/);
      expect(keyKindMismatch(17, hashed(256))).to.match(/written under the byte-ordered partitioner, but nodes.toml says partitioner = "hashed"/);
      expect(keyKindMismatch('abcdef', hashed(4))).to.match(/6 bytes, over key_bytes_max \(4\)/);
    });
  });

  describe('the ring places by slot, and keys through the partitioner', () => {
    it('byte-ordered: a key is its slot', () => {
      const ring = new Ring(4, 3);
      for (const key of [0, 63, 64, 200, 255]) expect(ring.replicasFor(key)).to.deep.equal(ring.replicasForSlot(key));
    });

    it('hashed: a key lands on its murmur3 slot; slots, ranges and replicas are the byte-ordered ring\'s', () => {
      const ring = new Ring(4, 3, hashed(256));
      expect(ring.slotOf('user:42')).to.equal(199);
      expect(ring.replicasFor('user:42')).to.deep.equal([3, 0, 1]);
      expect(ring.holds(3, 'user:42')).to.equal(true);
      expect(ring.holds(2, 'user:42')).to.equal(false);
      expect(ring.ranges).to.deep.equal(new Ring(4, 3).ranges);
      expect(() => ring.replicasFor(17)).to.throw(RangeError, /partitioner hashed/);
    });

    it('keys have one agreed order, whatever the kind', () => {
      fc.assert(fc.property(fc.array(fc.string({ minLength: 1 }), { minLength: 2, maxLength: 20 }), (keys) => {
        const sorted = [...keys].sort(compareKeys);
        for (let i = 1; i < sorted.length; i++) expect(compareKeys(sorted[i - 1]!, sorted[i]!)).to.be.at.most(0);
      }));
      expect([3, 1, 2].sort(compareKeys)).to.deep.equal([1, 2, 3]);
    });
  });
});
