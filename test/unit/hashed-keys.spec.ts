// Text keys through the shell's parser, the message and log-record validators, and replay.
import { expect } from 'chai';
import { hashed } from '../../src/core/keyspace.js';
import { encodeRecord, scanRecords, validateRecord } from '../../src/core/log-record.js';
import { validate } from '../../src/core/messages.js';
import { KeySpaceMismatchError, Node } from '../../src/core/node.js';
import { seededRandom } from '../../src/core/prng.js';
import { parseShellLine } from '../../src/cli/shell-parse.js';
import { simConfig } from '../../tools/sim/cluster.js';

const keys = hashed(256);
const stamp = [1_700_000_000_000, 0, 1] as const;

describe('hashed keys everywhere', () => {
  describe('the shell', () => {
    const parse = (line: string) => parseShellLine(line, keys);
    it('takes text keys as typed, quoted when they hold spaces, and the comma syntax', () => {
      expect(parse('put user:42 "Ada"')).to.deep.equal({ cmd: 'put', key: 'user:42', value: 'Ada' });
      expect(parse('put "user 42" \'Ada Lovelace\' ONE')).to.deep.equal({ cmd: 'put', key: 'user 42', value: 'Ada Lovelace', level: 'ONE' });
      expect(parse('get 17')).to.deep.equal({ cmd: 'get', key: '17' });
      expect(parse('del 键 ALL')).to.deep.equal({ cmd: 'del', key: '键', level: 'ALL' });
      expect(parse('put,user:42,Ada,Lovelace,QUORUM')).to.deep.equal({ cmd: 'put', key: 'user:42', value: 'Ada,Lovelace', level: 'QUORUM' });
      expect(parse('get,user:42')).to.deep.equal({ cmd: 'get', key: 'user:42' });
    });
    it('refuses an empty or too long key, naming the partitioner', () => {
      expect(parse('get ""')).to.deep.equal({ error: 'key: expected text of 1..256 UTF-8 bytes (partitioner hashed), got an empty key' });
      expect(parse(`get ${'k'.repeat(257)}`)).to.have.property('error').that.matches(/^key: expected text of 1\.\.256 UTF-8 bytes \(partitioner hashed\), got 257 bytes/);
      expect(parse('put "user 42" hello world')).to.deep.equal({ error: 'put: a value with spaces needs quotes: put "user 42" "hello world" (usage: put <key> <value> [level])' });
    });
  });

  describe('messages and log records', () => {
    it('validate text keys under hashed and refuse them under byte-ordered, and the reverse', () => {
      const put = { t: 'put', id: 1, key: 'user:42', value: 'Ada', level: 'ONE', sentAtMs: 1, deadlineMs: 2 };
      expect(validate(put, 60_000, keys)).to.deep.include({ ok: true });
      expect(validate(put)).to.deep.equal({ ok: false, reason: 'key: expected an integer in 0..255, got "user:42"' });
      expect(validate({ ...put, key: 17 }, 60_000, keys)).to.deep.equal({ ok: false, reason: 'key: expected text of 1..256 UTF-8 bytes (partitioner hashed), got 17' });
    });

    it('anti-entropy pages: a further page names the key it follows, a reply says there is more', () => {
      const ae = validate({ t: 'ae', from: 1, gen: 1, id: 2, digests: [[3, 4]], after: 'user:42' }, 60_000, keys);
      expect(ae).to.deep.include({ ok: true });
      expect(ae.ok && ae.msg.t === 'ae' && ae.msg.after).to.equal('user:42');
      const reply = { t: 'ae.ok', from: 1, id: 2, blocks: [3], versions: [['user:42', stamp, 3]], more: true };
      expect(validate(reply, 60_000, keys)).to.deep.include({ ok: true });
      expect(validate({ ...reply, versions: [] }, 60_000, keys)).to.deep.equal({ ok: false, reason: 'more: expected versions before more' });
      expect(validate({ ...reply, more: false }, 60_000, keys)).to.deep.equal({ ok: false, reason: 'more: expected true or nothing, got false' });
    });

    it('a log record with a text key round-trips; only the scan that reads either kind takes it', () => {
      const record = { t: 'w' as const, key: 'user:42', value: 'Ada', stamp };
      const bytes = encodeRecord(record);
      expect(scanRecords(bytes, keys).records).to.deep.equal([record]);
      expect(validateRecord(record)).to.match(/^key: expected an integer in 0\.\.255/);
    });
  });

  describe('replay', () => {
    const node = (partitioner: 'byte-ordered' | 'hashed') => new Node({
      config: simConfig(3, 3, 'hinted-handoff', true, { partitioner }), self: 0, generation: 1, random: seededRandom(1), nowMs: 1_700_000_000_000,
    });
    it('a replica refuses to start on data written under the other partitioner, naming both', () => {
      expect(() => node('byte-ordered').replay({ t: 'w', key: 'user:42', value: 'Ada', stamp })).to.throw(KeySpaceMismatchError,
        /replica-1: refusing to start: its log holds text key user:42, written under the hashed partitioner, but nodes.toml says partitioner = "byte-ordered"/);
      expect(() => node('hashed').replay({ t: 'snap', writes: [[17, 'v', stamp]], hints: [] })).to.throw(KeySpaceMismatchError,
        /integer key 17, written under the byte-ordered partitioner, but nodes.toml says partitioner = "hashed"/);
      const fine = node('hashed');
      fine.replay({ t: 'w', key: 'user:42', value: 'Ada', stamp });
      expect(fine.store.read('user:42')?.value).to.equal('Ada');
    });
  });
});
