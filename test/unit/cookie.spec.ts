import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadCookie, loadOrCreateCookie } from '../../src/io/cookie.js';

describe('io/cookie', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-cookie-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('creates a 0600 file of 32 random bytes as hex on first call, and returns the same bytes after', () => {
    const path = join(dir, 'data', 'cookie');
    const first = loadOrCreateCookie(path);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(first.toString('utf8')).to.match(/^[0-9a-f]{64}$/);
    expect(readFileSync(path, 'utf8').trim()).to.equal(first.toString('utf8'));
    expect(loadOrCreateCookie(path).equals(first)).to.equal(true);
    expect(readdirSync(join(dir, 'data'))).to.deep.equal(['cookie']);
  });

  it('makes a different cookie for a different cluster', () => {
    expect(loadOrCreateCookie(join(dir, 'a')).equals(loadOrCreateCookie(join(dir, 'b')))).to.equal(false);
  });

  it('reads a cookie written by hand, trimmed', () => {
    const path = join(dir, 'cookie');
    writeFileSync(path, '  a-hand-made-secret-of-enough-length\n');
    expect(loadOrCreateCookie(path).toString('utf8')).to.equal('a-hand-made-secret-of-enough-length');
  });

  it('refuses a cookie shorter than 16 bytes', () => {
    const path = join(dir, 'cookie');
    writeFileSync(path, 'short\n');
    expect(() => loadOrCreateCookie(path)).to.throw(Error, /5 bytes after trimming, under the minimum of 16/);
    writeFileSync(path, '');
    expect(() => loadOrCreateCookie(path)).to.throw(Error, /0 bytes/);
  });

  it('says which call made the cookie, and makes none when not allowed to', () => {
    const path = join(dir, 'cookie');
    expect(loadCookie(path, { mayCreate: false })).to.deep.equal({ cookie: null, created: false });
    expect(readdirSync(dir)).to.deep.equal([]);
    const made = loadCookie(path, { mayCreate: true });
    expect(made.created).to.equal(true);
    const again = loadCookie(path, { mayCreate: true });
    expect(again.created).to.equal(false);
    expect(again.cookie!.equals(made.cookie!)).to.equal(true);
  });
});
