import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { encodeRecord, type LogRecord } from '../../src/core/log-record.js';
import { openLog, segmentName, snapshotName, type LogFile } from '../../src/io/log-file.js';
import type { Key, StoredValue } from '../../src/core/types.js';

const write = (key: number, value: string, wallMs = 1_000 + key): LogRecord => ({ t: 'w', key, value, stamp: [wallMs, 0, 0] });
const hint = (key: number): LogRecord => ({ t: 'h', target: 1, key, value: `hint ${key}`, stamp: [5_000 + key, 0, 0], atMs: 42 });

/** Appends records with lsns from `firstLsn` and syncs them; returns the next lsn. */
async function appendAll(log: LogFile, records: LogRecord[], firstLsn = 1): Promise<number> {
  let lsn = firstLsn;
  for (const r of records) log.append(encodeRecord(r), lsn++);
  const durable = await log.sync();
  expect(durable).to.equal(lsn - 1);
  return lsn;
}

const segments = (dir: string) => readdirSync(dir).filter((n) => /^wal-\d{10}\.log$/.test(n)).sort();
const snapshots = (dir: string) => readdirSync(dir).filter((n) => /^snap-\d{10}\.cbor$/.test(n)).sort();

describe('io/log-file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-log-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('creates the directory and starts empty', async () => {
    const sub = join(dir, 'a', 'b');
    const opened = await openLog(sub);
    expect(opened.records).to.deep.equal([]);
    expect(opened.truncatedBytes).to.equal(0);
    expect(segments(sub)).to.deep.equal([segmentName(1)]);
    await opened.log.close();
  });

  it('syncNow writes on the calling thread what sync would, mixed with sync in any order, and replays the same', async () => {
    const a = await openLog(dir);
    a.log.append(encodeRecord(write(1, 'a')), 1);
    a.log.append(encodeRecord(write(2, 'b')), 2);
    expect(a.log.syncNow()).to.equal(2);
    expect(a.log.pendingBytes).to.equal(0);
    a.log.append(encodeRecord(write(3, 'c')), 3);
    expect(await a.log.sync()).to.equal(3);
    a.log.append(encodeRecord(hint(4)), 4);
    expect(a.log.syncNow()).to.equal(4);
    expect(a.log.syncNow()).to.equal(4); // nothing buffered: the durable lsn, nothing written
    await a.log.close();
    const b = await openLog(dir);
    expect(b.records).to.deep.equal([write(1, 'a'), write(2, 'b'), write(3, 'c'), hint(4)]);
    expect(b.problems).to.deep.equal([]);
    await b.log.close();
  });

  it('syncNow leaves the work to sync while a write or a snapshot switch holds the log, and nothing is lost', async () => {
    const a = await openLog(dir);
    a.log.append(encodeRecord(write(1, 'a')), 1);
    const queued = a.log.sync();
    a.log.append(encodeRecord(write(2, 'b')), 2);
    expect(a.log.syncNow()).to.equal(null); // a write is queued on the thread pool (it takes what is buffered when it runs)
    await queued;
    expect(await a.log.sync()).to.equal(2);
    const snap = encodeRecord({ t: 'snap', writes: [[1, 'a', [1_001, 0, 0]], [2, 'b', [1_002, 0, 0]]], hints: [] });
    const snapshotting = a.log.snapshot(snap, 2);
    a.log.append(encodeRecord(write(3, 'c')), 3);
    const now = a.log.syncNow();
    const durable = now ?? (await a.log.sync());
    expect(durable).to.equal(3);
    await snapshotting;
    await a.log.close();
    const b = await openLog(dir);
    expect(b.records.at(-1)).to.deep.equal(write(3, 'c'));
    expect(b.problems).to.deep.equal([]);
    await b.log.close();
  });

  it('returns what was appended and synced, in order, after a reopen; each process writes a new segment', async () => {
    const first = [write(1, 'a'), hint(2), { t: 'hd', target: 1, key: 2, stamp: [5_002, 0, 0] } as LogRecord];
    const a = await openLog(dir);
    await appendAll(a.log, first);
    expect(a.log.sizeBytes).to.equal(first.reduce((n, r) => n + encodeRecord(r).length, 0));
    await a.log.close();

    const b = await openLog(dir);
    expect(b.records).to.deep.equal(first);
    await appendAll(b.log, [write(3, 'c')]);
    await b.log.close();
    expect(segments(dir)).to.have.length(2);

    const c = await openLog(dir);
    expect(c.records).to.deep.equal([...first, write(3, 'c')]);
    await c.log.close();
    // The segment c opened and never wrote to is dropped at the next open.
    const d = await openLog(dir);
    expect(segments(dir)).to.have.length(3);
    await d.log.close();
  });

  it('group commit: appends made while a sync runs are durable after the next one', async () => {
    const { log } = await openLog(dir);
    log.append(encodeRecord(write(1, 'a')), 1);
    const first = log.sync();
    log.append(encodeRecord(write(2, 'b')), 2);
    const second = log.sync();
    expect(await first).to.be.oneOf([1, 2]);
    expect(await second).to.equal(2);
    expect(log.pendingBytes).to.equal(0);
    await log.close();
    const reopened = await openLog(dir);
    expect(reopened.records).to.deep.equal([write(1, 'a'), write(2, 'b')]);
    await reopened.log.close();
  });

  it('close flushes what is buffered', async () => {
    const { log } = await openLog(dir);
    log.append(encodeRecord(write(7, 'x')), 1);
    await log.close();
    const reopened = await openLog(dir);
    expect(reopened.records).to.deep.equal([write(7, 'x')]);
    await reopened.log.close();
  });

  it('a torn or damaged tail is truncated on disk and reported; the records before it survive and the log stays usable', async () => {
    const records = Array.from({ length: 6 }, (_, i) => write(i, 'v'.repeat(i * 7)));
    const sizes = records.map((r) => encodeRecord(r).length);
    const total = sizes.reduce((a, b) => a + b, 0);
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: total }), fc.uint8Array({ minLength: 0, maxLength: 40 }),
      async (cut, garbage) => {
        rmSync(dir, { recursive: true, force: true });
        const a = await openLog(dir);
        await appendAll(a.log, records);
        await a.log.close();
        const path = join(dir, segments(dir)[0]!);
        // Garbage that starts with the very bytes the cut removed just puts the record back (a cut
        // of its last byte, 0x00 = node 0 of its stamp, then a garbage byte 0x00): not damage.
        const original = readFileSync(path);
        fc.pre(garbage.length === 0 || cut >= original.length || garbage[0] !== original[cut]);
        truncateSync(path, cut);
        appendFileSync(path, garbage);

        let whole = 0;
        let good = 0;
        while (whole < records.length && good + sizes[whole]! <= cut) good += sizes[whole++]!;
        const b = await openLog(dir);
        // Other garbage may extend the cut record into a valid one only if its CRC matches: never, in practice.
        expect(b.records).to.deep.equal(records.slice(0, whole));
        const damaged = cut - good + garbage.length;
        expect(b.truncatedBytes).to.equal(damaged);
        expect(b.problems.length > 0).to.equal(damaged > 0);
        if (good > 0) expect(statSync(path).size).to.equal(good);
        await appendAll(b.log, [write(200, 'after')], 100);
        await b.log.close();

        const c = await openLog(dir);
        expect(c.records).to.deep.equal([...records.slice(0, whole), write(200, 'after')]);
        expect(c.truncatedBytes).to.equal(0);
        await c.log.close();
      },
    ), { numRuns: 40 });
  });

  it('a damaged middle segment stops replay there and sets the later segments aside', async () => {
    const a = await openLog(dir);
    await appendAll(a.log, [write(1, 'a'), write(2, 'b')]);
    await a.log.close();
    const b = await openLog(dir);
    await appendAll(b.log, [write(3, 'c')]);
    await b.log.close();
    const [firstSeg, secondSeg] = segments(dir);
    const firstPath = join(dir, firstSeg!);
    const bytes = readFileSync(firstPath);
    bytes[bytes.length - 1]! ^= 0xff; // the last record's payload: bad crc
    writeFileSync(firstPath, bytes);

    const c = await openLog(dir);
    expect(c.records).to.deep.equal([write(1, 'a')]);
    expect(c.truncatedBytes).to.equal(encodeRecord(write(2, 'b')).length + encodeRecord(write(3, 'c')).length);
    expect(c.problems.join('\n')).to.match(/bad crc/).and.to.include(`${secondSeg}: after a damaged segment`);
    expect(readdirSync(dir)).to.include(`${secondSeg}.skipped`);
    await appendAll(c.log, [write(4, 'd')]);
    await c.log.close();
    const d = await openLog(dir);
    expect(d.records).to.deep.equal([write(1, 'a'), write(4, 'd')]);
    await d.log.close();
  });

  it('snapshot, more appends, reopen: the snapshot and the later records; covered segments and old snapshots are gone', async () => {
    const a = await openLog(dir);
    await appendAll(a.log, [write(9, 'old')]);
    await a.log.close();

    const b = await openLog(dir);
    const oldSegments = segments(dir);
    let lsn = await appendAll(b.log, [write(1, 'a'), write(2, 'b')]);
    const snap1: LogRecord = { t: 'snap', writes: [[1, 'a', [1_001, 0, 0]], [2, 'b', [1_002, 0, 0]], [9, 'old', [1_009, 0, 0]]], hints: [] };
    await b.log.snapshot(encodeRecord(snap1), lsn - 1);
    for (const s of oldSegments) expect(segments(dir)).not.to.include(s);
    lsn = await appendAll(b.log, [write(3, 'c')], lsn);
    const snap2: LogRecord = { ...snap1, writes: [...snap1.writes, [3, 'c', [1_003, 0, 0]]] } as LogRecord;
    await b.log.snapshot(encodeRecord(snap2), lsn - 1);
    expect(snapshots(dir)).to.have.length(1);
    await appendAll(b.log, [write(4, 'd')], lsn);
    const size = b.log.sizeBytes;
    await b.log.close();
    expect(size).to.equal(readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0));

    const c = await openLog(dir);
    expect(c.records).to.deep.equal([snap2, write(4, 'd')]);
    expect(segments(dir)).to.have.length(2); // the one holding lsn 4, and c's new one
    expect(snapshots(dir)).to.deep.equal([snapshotName(Number(segments(dir)[0]!.slice(4, 14)) - 1)]);
    await c.log.close();
  });

  it('records synced after the snapshot was built are carried to the next segment and replayed after it', async () => {
    const { log } = await openLog(dir);
    await appendAll(log, [write(1, 'a')]);
    await appendAll(log, [write(2, 'b'), write(3, 'c')], 2);
    // The node's memory holds lsn 1 only (lsns 2 and 3 were not yet reported synced when it asked).
    const snap: LogRecord = { t: 'snap', writes: [[1, 'a', [1_001, 0, 0]]], hints: [] };
    log.append(encodeRecord(write(4, 'd')), 4); // buffered while the snapshot is written
    await log.snapshot(encodeRecord(snap), 1);
    expect(segments(dir)).to.have.length(1);
    await appendAll(log, [write(5, 'e')], 5);
    await log.close();
    const reopened = await openLog(dir);
    expect(reopened.records).to.deep.equal([snap, write(2, 'b'), write(3, 'c'), write(4, 'd'), write(5, 'e')]);
    await reopened.log.close();
  });

  it('property: any mix of appends, syncs and snapshots reopens to every synced write', async () => {
    // A snapshot may cover an earlier sync than the latest (the node had not heard of the latest yet).
    type Op = { op: 'append'; key: number } | { op: 'sync' } | { op: 'snapshot'; back: number } | { op: 'reopen' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('append' as const), key: fc.integer({ min: 0, max: 7 }) }) },
      { weight: 3, arbitrary: fc.constant({ op: 'sync' as const }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('snapshot' as const), back: fc.nat(3) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
    );
    /** Last write wins by stamp; the stamp's wall clock is the record's lsn here. */
    const applyAll = (records: LogRecord[]) => {
      const state = new Map<Key, [StoredValue, number]>();
      const put = (key: Key, value: StoredValue, wall: number) => { if ((state.get(key)?.[1] ?? -1) < wall) state.set(key, [value, wall]); };
      for (const r of records) {
        if (r.t === 'w') put(r.key, r.value, r.stamp[0]);
        if (r.t === 'snap') for (const [k, v, st] of r.writes) put(k, v, st[0]);
      }
      return state;
    };
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      rmSync(dir, { recursive: true, force: true });
      let opened = await openLog(dir);
      const memory = new Map<Key, [StoredValue, number]>(); // every synced write
      let history = [{ lsn: 0, state: new Map(memory) }]; // memory after each sync of this process
      let buffered: LogRecord[] = [];
      let lsn = 0; // lsns restart per process, like the node's; stamps keep growing
      let wall = 0;
      for (const o of ops) {
        if (o.op === 'append') {
          const r = write(o.key, `v${wall + 1}`, ++wall);
          opened.log.append(encodeRecord(r), ++lsn);
          buffered.push(r);
        } else if (o.op === 'sync') {
          expect(await opened.log.sync()).to.equal(lsn);
          for (const r of buffered) if (r.t === 'w') memory.set(r.key, [r.value, r.stamp[0]]);
          buffered = [];
          history.push({ lsn, state: new Map(memory) });
        } else if (o.op === 'snapshot') {
          // Not before the last snapshot: the node's synced lsn never goes back.
          const at = history[Math.max(0, history.length - 1 - o.back)]!;
          history = history.filter((h) => h.lsn >= at.lsn);
          const writes = [...at.state].map(([k, [v, w]]): [Key, StoredValue, [number, number, number]] => [k, v, [w, 0, 0]]);
          await opened.log.snapshot(encodeRecord({ t: 'snap', writes, hints: [] }), at.lsn);
        } else {
          await opened.log.close(); // flushes what is buffered
          for (const r of buffered) if (r.t === 'w') memory.set(r.key, [r.value, r.stamp[0]]);
          buffered = [];
          opened = await openLog(dir);
          expect(applyAll(opened.records)).to.deep.equal(memory);
          lsn = 0;
          history = [{ lsn: 0, state: new Map(memory) }];
        }
      }
      await opened.log.close();
      for (const r of buffered) if (r.t === 'w') memory.set(r.key, [r.value, r.stamp[0]]);
      const final = await openLog(dir);
      expect(applyAll(final.records)).to.deep.equal(memory);
      expect(final.truncatedBytes).to.equal(0);
      expect(snapshots(dir).length).to.be.at.most(1);
      await final.log.close();
    }), { numRuns: 60 });
  });

  it('ignores (and removes) a leftover .tmp snapshot and falls back past a damaged snapshot', async () => {
    const a = await openLog(dir);
    await appendAll(a.log, [write(1, 'a')]);
    await a.log.close();
    writeFileSync(join(dir, `${snapshotName(99)}.tmp`), encodeRecord({ t: 'snap', writes: [[5, 'tmp', [1, 0, 0]]], hints: [] }).subarray(0, 10));
    writeFileSync(join(dir, snapshotName(0)), Uint8Array.of(1, 2, 3));

    const b = await openLog(dir);
    expect(b.records).to.deep.equal([write(1, 'a')]);
    expect(b.problems.join('\n')).to.include(`${snapshotName(0)}: damaged snapshot ignored`);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).to.deep.equal([]);
    await b.log.close();
  });
});
