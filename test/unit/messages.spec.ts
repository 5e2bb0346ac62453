import { expect } from 'chai';
import fc from 'fast-check';
import { valueBytesMaxCeiling } from '../../src/core/limits.js';
import { utf8Bytes, validate, type Message } from '../../src/core/messages.js';
import type { Stamp } from '../../src/core/types.js';

const stamp: Stamp = [1_700_000_000_000, 3, 2];
const status = {
  node: 'replica-1', replicationFactor: 3, repairMode: 'both',
  ring: [{ first: 0, last: 63, replicas: ['replica-1', 'replica-2', 'replica-3'] }],
  antiEntropyIntervalMs: 10_000,
  peers: [{ name: 'replica-2', up: true, hintsPending: 0, hintsExpired: 0, antiEntropy: { rounds: 2, lastRoundMs: null, keysSent: 0, keysReceived: 3 }, clockOffsetMs: -3, clockRefused: false, configMismatch: false, forged: false, refusesOurCookie: false }],
  keysStored: 10, tombstones: 2, logBytes: 4096, logRecords: 12, droppedDatagrams: { auth: 1 }, clientRequestsInFlight: 0, logWritable: true, logAppendsFailed: 0, configDigest: '0a1b2c3d', clockWarning: null, quarantinedAtReplay: 0, writesServedInMs: 0,
};

/** One good example of every message type (two where a field may be null or absent). */
const good: Message[] = [
  { t: 'get', id: 1, key: 17, level: 'QUORUM', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000 },
  { t: 'put', id: 2, key: 255, value: 'héllo wörld 😀', level: 'ALL', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000 },
  { t: 'put', id: 2, key: 1, value: 'v', level: 'ONE', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000, seen: stamp },
  { t: 'del', id: 2, key: 17, level: 'QUORUM', sentAtMs: 1_700_000_000_000, deadlineMs: 1_700_000_002_000 },
  { t: 'local', id: 3, key: 0 },
  { t: 'repair', id: 4 },
  { t: 'status', id: 4 },
  { t: 'get.ok', id: 5, key: 17, value: 'v', stamp, coordinator: 'replica-2' },
  { t: 'get.ok', id: 5, key: 17, value: null, stamp: null, coordinator: 'replica-2' },
  { t: 'get.ok', id: 5, key: 17, value: null, stamp, coordinator: 'replica-2' },
  { t: 'put.ok', id: 6, key: 17, stamp, coordinator: 'replica-2' },
  { t: 'del.ok', id: 6, key: 17, stamp, coordinator: 'replica-2' },
  { t: 'repair.ok', id: 6, node: 'replica-1', peers: [{ name: 'replica-2', reached: true, sent: 1, received: 0, error: null }, { name: 'replica-3', reached: false, sent: 0, received: 0, error: 'DOWN' }] },
  { t: 'local.ok', id: 7, key: 17, value: '', stamp, node: 'replica-3' },
  { t: 'status.ok', id: 8, status },
  { t: 'status.ok', id: 8, status: { ...status, clientReplies: { get: 5, put: 2, 'fail:Unavailable': 1 } } },
  { t: 'fail', id: 9, error: 'Timeout', message: 'Timeout: 1 of 2 acks', acks: 1, required: 2 },
  { t: 'fail', id: 9, error: 'Unavailable', message: 'Unavailable: 1 of 2 replicas alive for key 17' },
  { t: 'fail', id: 9, error: 'ClockSkew', dated: 'expired', clockMs: 1_763_703_600_000, message: 'ClockSkew: replica-1 refused this put as expired' },
  { t: 'fail', id: 9, error: 'ClockSkew', dated: 'future', clockMs: 1_763_696_400_000, message: 'ClockSkew: replica-1 refused this get as future-dated' },
  { t: 'rw', from: 1, gen: 1_700_000_000_000, id: 10, key: 17, value: 'v', stamp },
  { t: 'rw', from: 1, gen: 1_700_000_000_000, id: 10, key: 17, value: null, stamp },
  { t: 'rw.ok', from: 2, id: 10 },
  { t: 'rr', from: 1, gen: 5, id: 11, key: 17 },
  { t: 'rr.ok', from: 2, id: 11, value: 'v', stamp },
  { t: 'rr.ok', from: 2, id: 11, value: null, stamp: null },
  { t: 'rr.ok', from: 2, id: 11, value: null, stamp },
  { t: 'hints', from: 0, gen: 5, id: 12, writes: [[17, 'a', stamp], [18, 'b', [1, 0, 0]]] },
  { t: 'hints', from: 0, gen: 5, id: 12, writes: [[17, null, stamp]] },
  { t: 'hints.ok', from: 3, id: 12 },
  { t: 'ae', from: 1, gen: 5, id: 13, digests: [[0, 0], [15, 0xffff_ffff]] },
  { t: 'ae', from: 1, gen: 5, id: 13, digests: [] },
  { t: 'ae.ok', from: 2, id: 13, blocks: [3], versions: [[48, stamp, 5], [49, stamp, 0]] },
  { t: 'ae.pull', from: 1, gen: 5, id: 14, keys: [48, 50] },
  { t: 'ae.pull.ok', from: 2, id: 14, writes: [[48, 'v', stamp], [50, null, stamp]] },
  { t: 'ae.pull.ok', from: 2, id: 14, writes: [] },
  { t: 'hb', from: 63, gen: 5, counter: 99, hlc: stamp, wall: 1_700_000_000_000, digest: '0a1b2c3d' },
];

const optional = new Set(['acks', 'required', 'seen']);

function refused(x: unknown, valueBytesMax?: number): string {
  const r = validate(x, valueBytesMax);
  expect(r.ok, `accepted ${JSON.stringify(x)}`).to.equal(false);
  if (r.ok) throw new Error('unreachable');
  expect(r.reason).to.be.a('string').and.not.be.empty;
  return r.reason;
}

describe('messages (validate)', () => {
  it('has an example of every message type', () => {
    expect(new Set(good.map((m) => m.t)).size).to.equal(24);
  });

  describe('accepts', () => {
    for (const m of good) {
      it(`a good ${m.t}, as a fresh object without extra fields`, () => {
        const input = { ...m, extra: 'dropped', __proto__: null } as unknown;
        const r = validate(input);
        expect(r.ok, r.ok ? '' : r.reason).to.equal(true);
        if (!r.ok) return;
        expect(r.msg).to.deep.equal(m);
        expect(r.msg).not.to.equal(input);
        expect(r.msg).not.to.have.property('extra');
      });
    }
  });

  describe('refuses, with a reason', () => {
    it('things that are not maps', () => {
      for (const x of [null, undefined, 0, 17, NaN, 'get', true, [], ['get', 1, 17], new Uint8Array([0xa1, 0x61, 0x74])]) {
        expect(refused(x)).to.match(/expected a map/);
      }
    });

    it('an unknown or missing t', () => {
      expect(refused({ t: 'delete', id: 1, key: 1 })).to.match(/unknown message type "delete"/);
      expect(refused({ id: 1, key: 1 })).to.match(/unknown message type/);
      expect(refused({ t: 'GET', id: 1, key: 1, level: 'ONE' })).to.match(/unknown/);
    });

    describe('every message with any one required field missing', () => {
      for (const m of good) {
        for (const field of Object.keys(m).filter((f) => f !== 't' && !optional.has(f))) {
          it(`${m.t} without ${field}`, () => {
            const copy: Record<string, unknown> = { ...m };
            delete copy[field];
            refused(copy);
          });
        }
      }
    });

    it('a get or put without a usable age (sentAtMs, deadlineMs: wall-clock ms)', () => {
      for (const bad of [-1, 1.5, '1700000000000', null, 2 ** 53]) {
        expect(refused({ t: 'put', id: 1, key: 1, value: 'v', level: 'ONE', sentAtMs: bad, deadlineMs: 5 })).to.match(/^sentAtMs: expected an integer/);
        expect(refused({ t: 'get', id: 1, key: 1, level: 'ONE', sentAtMs: 5, deadlineMs: bad })).to.match(/^deadlineMs: expected an integer/);
      }
      expect(refused({ t: 'get', id: 1, key: 1, level: 'ONE' })).to.match(/^sentAtMs: expected an integer in 0\.\.\d+, got nothing/);
    });

    it('keys outside 0..255 or not integers', () => {
      for (const key of [-1, 256, 1.5, '17', NaN, Infinity, null, [17]]) {
        expect(refused({ t: 'get', id: 1, key, level: 'ONE' }), `key ${String(key)}`).to.match(/^key: expected an integer in 0\.\.255/);
        refused({ t: 'rw', from: 0, gen: 1, id: 1, key, value: 'v', stamp });
      }
    });

    it('values that are not strings', () => {
      for (const value of [17, null, undefined, ['v'], { v: 1 }, new Uint8Array(2), true]) {
        expect(refused({ t: 'put', id: 1, key: 1, value, level: 'ONE' })).to.match(/^value: expected a string/);
      }
    });

    it('values over the limit, counted in UTF-8 bytes, not characters', () => {
      const put = (value: string) => ({ t: 'put', id: 1, key: 1, value, level: 'ONE', sentAtMs: 1, deadlineMs: 2 });
      expect(validate(put('a'.repeat(10)), 10).ok).to.equal(true);
      expect(refused(put('a'.repeat(11)), 10)).to.match(/11 bytes, over the limit of 10/);
      expect(validate(put('é'.repeat(5)), 10).ok).to.equal(true); // 5 chars, 10 bytes
      expect(refused(put('é'.repeat(6)), 10)).to.match(/12 bytes/); // 6 chars, 12 bytes
      expect(refused(put('€'.repeat(4)), 10)).to.match(/12 bytes/); // 4 chars, 12 bytes
      expect(validate(put('😀'.repeat(2)), 8).ok).to.equal(true); // 4 UTF-16 units, 8 bytes
      expect(refused(put('😀'.repeat(3)), 8)).to.match(/12 bytes/);
      expect(refused({ t: 'rr.ok', from: 1, id: 1, value: 'xyz', stamp }, 2)).to.match(/over the limit/);
      expect(refused({ t: 'hints', from: 1, gen: 1, id: 1, writes: [[1, 'xyz', stamp]] }, 2)).to.match(/over the limit/);
      expect(validate(put('x'.repeat(valueBytesMaxCeiling))).ok, 'the default limit is the ceiling').to.equal(true);
      refused(put('x'.repeat(valueBytesMaxCeiling + 1)));
    });

    it('utf8Bytes agrees with TextEncoder', () => {
      fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        expect(utf8Bytes(s)).to.equal(new TextEncoder().encode(s).length);
      }));
    });

    it('values with lone surrogates', () => {
      for (const value of ['\ud800', 'a\udc00b', 'x\ud83d', '\ude00\ud83d']) {
        expect(refused({ t: 'put', id: 1, key: 1, value, level: 'ONE' })).to.match(/lone surrogate/);
      }
    });

    it('unknown levels', () => {
      for (const level of ['one', 'FIVE', 'quorum', 'LOCAL_QUORUM', '', 1, null]) {
        expect(refused({ t: 'get', id: 1, key: 1, level })).to.match(/^level: expected one of ONE, TWO, THREE, QUORUM, ALL/);
      }
    });

    it('bad stamps', () => {
      const bad = [null, 'x', [], [1, 2], [1, 2, 3, 4], [-1, 0, 0], [1.5, 0, 0], [1, -1, 0], [1, 0.5, 0], [1, 0, 64], [1, 0, -1],
        ['1', 0, 0], [Number.MAX_SAFE_INTEGER + 2, 0, 0], [NaN, 0, 0], { 0: 1, 1: 2, 2: 3, length: 3 }];
      for (const s of bad) {
        expect(refused({ t: 'put.ok', id: 1, key: 1, stamp: s, coordinator: 'r' }), JSON.stringify(s)).to.match(/^stamp: /);
        expect(refused({ t: 'hb', from: 1, gen: 1, counter: 1, hlc: s })).to.match(/^hlc: /);
      }
    });

    it('negative or non-integer ids, generations and counters', () => {
      for (const id of [-1, 1.5, NaN, Infinity, '1', Number.MAX_SAFE_INTEGER + 1]) {
        expect(refused({ t: 'status', id })).to.match(/^id: expected an integer/);
        expect(refused({ t: 'rr', from: 0, gen: id, id: 1, key: 1 })).to.match(/^gen: /);
        expect(refused({ t: 'hb', from: 0, gen: 1, counter: id, hlc: stamp })).to.match(/^counter: /);
      }
    });

    it('node indexes out of range', () => {
      for (const from of [-1, 64, 1.5, '1']) {
        expect(refused({ t: 'rw.ok', from, id: 1 })).to.match(/^from: expected an integer in 0\.\.63/);
      }
    });

    it('an empty hint batch, or one with a bad entry', () => {
      expect(refused({ t: 'hints', from: 0, gen: 1, id: 1, writes: [] })).to.match(/non-empty/);
      expect(refused({ t: 'hints', from: 0, gen: 1, id: 1, writes: 'x' })).to.match(/writes: expected an array/);
      refused({ t: 'hints', from: 0, gen: 1, id: 1, writes: [[1, 'a', stamp], [256, 'b', stamp]] });
      refused({ t: 'hints', from: 0, gen: 1, id: 1, writes: [[1, 'a']] });
      refused({ t: 'hints', from: 0, gen: 1, id: 1, writes: [{ key: 1, value: 'a', stamp }] });
    });

    it('a value without a stamp (a stamp without a value is a tombstone)', () => {
      refused({ t: 'rr.ok', from: 1, id: 1, value: 'v', stamp: null });
      refused({ t: 'local.ok', id: 1, key: 1, value: '', stamp: null, node: 'r' });
      refused({ t: 'get.ok', id: 1, key: 1, value: 'v', coordinator: 'r' });
      refused({ t: 'rr.ok', from: 1, id: 1, stamp });
    });

    it('anti-entropy messages with blocks, digests or keys out of range', () => {
      expect(refused({ t: 'ae', from: 1, gen: 1, id: 1, digests: [[16, 0]] })).to.match(/block/);
      expect(refused({ t: 'ae', from: 1, gen: 1, id: 1, digests: [[0, 2 ** 32]] })).to.match(/digest/);
      expect(refused({ t: 'ae', from: 1, gen: 1, id: 1, digests: Array.from({ length: 17 }, () => [0, 0]) })).to.match(/over the limit of 16/);
      expect(refused({ t: 'ae.ok', from: 1, id: 1, blocks: [-1], versions: [] })).to.match(/block/);
      expect(refused({ t: 'ae.ok', from: 1, id: 1, blocks: [], versions: [[256, stamp, 0]] })).to.match(/key/);
      expect(refused({ t: 'ae.ok', from: 1, id: 1, blocks: [], versions: [[1, stamp, 70_000]] })).to.match(/bytes/);
      expect(refused({ t: 'ae.pull', from: 1, gen: 1, id: 1, keys: [] })).to.match(/non-empty/);
      expect(refused({ t: 'ae.pull', from: 1, gen: 1, id: 1, keys: Array.from({ length: 257 }, () => 1) })).to.match(/over the limit/);
      expect(refused({ t: 'ae.pull.ok', from: 1, id: 1, writes: [[1, 'xyz', stamp]] }, 2)).to.match(/over the limit/);
    });

    it('client reply counters that are not counts', () => {
      const bad = (clientReplies: unknown) => refused({ t: 'status.ok', id: 8, status: { ...status, clientReplies } });
      expect(bad({ get: -1 })).to.match(/get/);
      expect(bad({ put: 1.5 })).to.match(/put/);
      expect(bad({ ['x'.repeat(65)]: 1 })).to.match(/clientReplies/);
    });

    it('unknown client errors, and a ClockSkew without its date and clock', () => {
      expect(refused({ t: 'fail', id: 1, error: 'Oops', message: 'm' })).to.match(/^error: /);
      expect(refused({ t: 'fail', id: 1, error: 'Timeout', message: 'm', acks: -1 })).to.match(/^acks: /);
      expect(refused({ t: 'fail', id: 1, error: 'ClockSkew', message: 'm', clockMs: 5 })).to.match(/^dated: /);
      expect(refused({ t: 'fail', id: 1, error: 'ClockSkew', message: 'm', dated: 'late', clockMs: 5 })).to.match(/^dated: /);
      expect(refused({ t: 'fail', id: 1, error: 'ClockSkew', message: 'm', dated: 'expired' })).to.match(/^clockMs: /);
      expect(refused({ t: 'fail', id: 1, error: 'Timeout', message: 'm', dated: 'expired', clockMs: 5 })).to.match(/^dated, clockMs: only with error ClockSkew/);
    });
  });

  describe('never throws', () => {
    it('for anything', () => {
      fc.assert(fc.property(fc.anything({ withTypedArray: true, withSparseArray: true, withNullPrototype: true, withBigInt: true }), (x) => {
        const r = validate(x);
        expect(r.ok ? typeof r.msg : typeof r.reason).to.equal(r.ok ? 'object' : 'string');
      }), { numRuns: 300 });
    });

    const fields = ['id', 'key', 'level', 'value', 'stamp', 'coordinator', 'node', 'status', 'error', 'message', 'acks',
      'required', 'from', 'gen', 'writes', 'counter', 'hlc', 'digests', 'blocks', 'versions', 'keys', 'peers'];
    const plausible = fc.oneof(
      fc.integer({ min: -2, max: 300 }), fc.constantFrom('ONE', 'QUORUM', 'Timeout', 'x', '\ud800'), fc.constant(null),
      fc.tuple(fc.integer({ min: -1, max: 70 }), fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 70 })),
      fc.array(fc.tuple(fc.integer({ min: -1, max: 256 }), fc.string(), fc.anything()), { maxLength: 3 }),
      fc.constant(status), fc.anything(),
    );
    for (const t of [...new Set(good.map((m) => m.t))]) {
      it(`for random maps with t = '${t}', and what it accepts validates again to the same`, () => {
        fc.assert(fc.property(fc.dictionary(fc.constantFrom(...fields), plausible), (fieldsOf) => {
          const r = validate({ ...fieldsOf, t });
          if (!r.ok) { expect(r.reason).to.be.a('string'); return; }
          expect(r.msg.t).to.equal(t);
          expect(validate(r.msg)).to.deep.equal(r);
        }), { numRuns: 150 });
      });
    }
  });
});
