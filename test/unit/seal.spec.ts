// The sealing layer on its own: (traffic key, nonce) pairs never repeat, and the replay window.
import { hkdfSync } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { ReplayWindow } from '../../src/core/replay-window.js';
import { headerBytes, Opener, Sealer, type SealKey } from '../../src/io/seal.js';

/** The traffic key and nonce a datagram was sealed under, recomputed from its header as a receiver does. */
function keyAndNonce(datagram: Buffer, base: Buffer): string {
  const cls = ['peer', 'client', 'reply'][datagram[1]! - 1]!;
  const keyId = datagram.readUInt32BE(2);
  const sender = datagram.readUInt32BE(6);
  const traffic = Buffer.from(hkdfSync('sha256', base, datagram.subarray(10, 18), `ringkv/v1/${cls}/${keyId}/${sender}`, 32));
  return `${traffic.toString('hex')}:${datagram.subarray(18, headerBytes).toString('hex')}`;
}

describe('io/seal', () => {
  it('(key, nonce) never repeats across senders, classes and restarts under one base key', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ sender: fc.nat({ max: 3 }), cls: fc.constantFrom('peer' as const, 'client' as const, 'reply' as const), sends: fc.nat({ max: 40 }) }), { minLength: 1, maxLength: 60 }),
      (processes) => {
        // Each entry is one process: the same sender number again is that node or client restarted.
        const base = Buffer.alloc(32, 3);
        const seen = new Set<string>();
        let total = 0;
        for (const p of processes) {
          const sealer = new Sealer(p.sender);
          const key: SealKey = { cls: p.cls, keyId: 1, key: base };
          for (let i = 0; i < p.sends; i++) {
            seen.add(keyAndNonce(sealer.seal(Buffer.of(i & 0xff), key), base));
            total++;
          }
        }
        expect(seen.size).to.equal(total);
      }), { numRuns: 100 });
  });

  it('a process uses one session for every destination and key, and counts up from 0', () => {
    const sealer = new Sealer(7);
    const a = sealer.seal(Buffer.of(1), { cls: 'peer', keyId: 1, key: Buffer.alloc(32, 1) });
    const b = sealer.seal(Buffer.of(1), { cls: 'reply', keyId: 9, key: Buffer.alloc(32, 2) });
    expect(a.subarray(10, 18).toString('hex')).to.equal(sealer.sessionHex);
    expect(b.subarray(10, 18).toString('hex')).to.equal(sealer.sessionHex);
    expect([a.readUInt32BE(22), b.readUInt32BE(22)]).to.deep.equal([0, 1]);
    expect(new Sealer(7).sessionHex).to.not.equal(sealer.sessionHex);
  });

  it('a window per sender session: another session of the same sender starts its own', () => {
    const base = Buffer.alloc(32, 5);
    const key: SealKey = { cls: 'peer', keyId: 1, key: base };
    const opener = new Opener(() => base);
    const before = new Sealer(2);
    const d1 = before.seal(Buffer.of(0xa0), key);
    const after = new Sealer(2); // the same node, restarted: counters start over in a new session
    const d2 = after.seal(Buffer.of(0xa0), key);
    expect(opener.open(d1)).to.include({ ok: true });
    expect(opener.open(d2)).to.include({ ok: true });
    expect(opener.open(d1)).to.include({ ok: false, error: 'duplicate' });
    expect(opener.open(d2)).to.include({ ok: false, error: 'duplicate' });
  });
});

describe('core/replay-window', () => {
  it('accepts each counter once, in any order within the window', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.nat({ max: 255 }), { minLength: 1, maxLength: 256 }), (counters) => {
      const w = new ReplayWindow(256);
      for (const c of counters) expect(w.accept(c), `counter ${c}`).to.equal('ok');
      for (const c of counters) expect(w.accept(c)).to.equal('replayed');
    }));
  });

  it('refuses what is behind the window and forgets only what fell out of it', () => {
    const w = new ReplayWindow(64);
    expect(w.accept(10)).to.equal('ok');
    expect(w.accept(73)).to.equal('ok'); // 10 is now exactly 63 behind: still inside
    expect(w.accept(10)).to.equal('replayed');
    expect(w.accept(74)).to.equal('ok');
    expect(w.accept(10)).to.equal('too-old');
    expect(w.accept(11)).to.equal('ok');
    expect(w.accept(1_000_000)).to.equal('ok');
    expect(w.accept(999_999)).to.equal('ok');
    expect(w.accept(999_999)).to.equal('replayed');
    expect(w.accept(74)).to.equal('too-old');
    expect(w.accept(2 ** 53 - 1)).to.equal('ok');
  });
});
