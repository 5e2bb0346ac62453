// The node's durable log in its data dir: segments `wal-<seq>.log` holding records back to back
// (log-record.ts format) and snapshots `snap-<seq>.cbor` holding one 'snap' record.
//
// Replay is: the newest valid snapshot, then every segment with a larger seq, in order. A snapshot
// is named one below the oldest segment it does not cover. When it is taken, the records of the
// current segment newer than it (fsynced while the node built it) are copied to the head of the next
// segment, so every older segment is covered and deleted; records replayed twice are harmless (see
// core/effects.ts). Each process appends to a new segment, never to an old file.
import { constants, fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { eitherKind } from '../core/keyspace.js';
import { scanRecords, type LogRecord } from '../core/log-record.js';

/** A segment this long starts a new one at the next sync, so old history can be dropped piece by piece. */
export const segmentBytesMax = 64 * 1024 * 1024;
const seqDigits = 10;
const segmentPattern = /^wal-(\d{10})\.log$/;
const snapshotPattern = /^snap-(\d{10})\.cbor$/;
/** A snapshot being written; a leftover one is from a crash mid-write and is deleted at open. */
const tmpSuffix = '.tmp';
/** A segment after a damaged one in the middle of the log: kept for a post-mortem, never replayed. */
const skippedSuffix = '.skipped';

export const segmentName = (seq: number): string => `wal-${String(seq).padStart(seqDigits, '0')}.log`;
export const snapshotName = (seq: number): string => `snap-${String(seq).padStart(seqDigits, '0')}.cbor`;

export interface OpenedLog {
  /** The snapshot's record (if any), then every good segment record, in order. */
  records: LogRecord[];
  /** Bytes of damaged log dropped at open: a torn tail, and any segment after a damaged one. */
  truncatedBytes: number;
  /** One readable line per damage found (damaged snapshot, torn tail, skipped segment). */
  problems: string[];
  log: LogFile;
  replayMs: number;
}

interface Segment {
  seq: number;
  path: string;
  bytes: number;
  /** Largest lsn appended to it by this process; 0 for a segment of an earlier process (covered by any snapshot). */
  maxLsn: number;
  /** Where each record this process appended to it starts. */
  records: { lsn: number; offset: number }[];
}

/**
 * The disk had no room for records fromLsn..toLsn (ENOSPC, or EDQUOT for a quota): the segment was
 * cut back to the end of the last good record, so the log holds none of them and replays cleanly.
 * The log stays usable: a later sync writes what is appended after them, once space returns.
 */
export class LogFullError extends Error {
  override name = 'LogFullError';
  constructor(message: string, readonly fromLsn: number, readonly toLsn: number) {
    super(message);
  }
}

const noSpaceCodes = new Set(['ENOSPC', 'EDQUOT']);

/** One encoded record waiting for sync. */
interface Pending { bytes: Uint8Array; lsn: number }

/** Reads the log in `dir` (made if missing), repairs a damaged tail on disk, and opens a new segment for appends. */
export async function openLog(dir: string): Promise<OpenedLog> {
  const startedMs = performance.now();
  await mkdir(dir, { recursive: true });
  const names = await readdir(dir);
  let seqMax = 0;
  const segmentSeqs: number[] = [];
  const snapshotSeqs: number[] = [];
  for (const name of names) {
    const seg = segmentPattern.exec(name);
    const snap = snapshotPattern.exec(name);
    if (seg) segmentSeqs.push(Number(seg[1]));
    if (snap) snapshotSeqs.push(Number(snap[1]));
    const any = /^(?:wal|snap)-(\d{10})\./.exec(name);
    if (any) seqMax = Math.max(seqMax, Number(any[1]));
    if (name.endsWith(tmpSuffix)) await unlink(join(dir, name));
  }
  segmentSeqs.sort((a, b) => a - b);
  snapshotSeqs.sort((a, b) => b - a);

  const problems: string[] = [];
  const records: LogRecord[] = [];
  let snapshot: { seq: number; bytes: number } | null = null;
  for (const seq of snapshotSeqs) {
    const bytes = await readFile(join(dir, snapshotName(seq)));
    const scan = scanRecords(bytes, eitherKind);
    const rec = scan.records[0];
    if (scan.stopReason === null && scan.records.length === 1 && rec?.t === 'snap') {
      records.push(rec);
      snapshot = { seq, bytes: bytes.length };
      break;
    }
    problems.push(`${snapshotName(seq)}: damaged snapshot ignored (${scan.stopReason ?? `${scan.records.length} records`})`);
  }

  const snapSeq = snapshot?.seq ?? 0;
  const segments: Segment[] = [];
  let truncatedBytes = 0;
  const live = segmentSeqs.filter((s) => s > snapSeq);
  for (const seq of segmentSeqs.filter((s) => s <= snapSeq)) await unlink(join(dir, segmentName(seq))); // covered: a crash came before their deletion
  for (let i = 0; i < live.length; i++) {
    const seq = live[i]!;
    const path = join(dir, segmentName(seq));
    const bytes = await readFile(path);
    const scan = scanRecords(bytes, eitherKind);
    records.push(...scan.records);
    if (scan.stopReason !== null) {
      await truncateFile(path, scan.goodBytes);
      truncatedBytes += bytes.length - scan.goodBytes;
      problems.push(`${segmentName(seq)}: ${scan.stopReason}; kept ${scan.records.length} records, truncated ${bytes.length - scan.goodBytes} bytes`);
      for (const later of live.slice(i + 1)) {
        const laterPath = join(dir, segmentName(later));
        truncatedBytes += (await stat(laterPath)).size;
        await rename(laterPath, laterPath + skippedSuffix);
        problems.push(`${segmentName(later)}: after a damaged segment, not replayed (kept as ${segmentName(later)}${skippedSuffix})`);
      }
    }
    if (scan.goodBytes === 0) await unlink(path);
    else segments.push({ seq, path, bytes: scan.goodBytes, maxLsn: 0, records: [] });
    if (scan.stopReason !== null) break;
  }

  const log = new LogFile(dir, segments, snapshot, seqMax + 1);
  await log.startSegment();
  return { records, truncatedBytes, problems, log, replayMs: performance.now() - startedMs };
}

export class LogFile {
  private current: FileHandle | null = null;
  private buffered: Pending[] = [];
  private bufferedBytes = 0;
  private bufferedMaxLsn = 0;
  private durableLsn = 0;
  /** What the last snapshot of this process covers; the next one may not cover less. */
  private snapshotLsn = 0;
  /** Writes, fsyncs and segment switches, one at a time. */
  private io: Promise<unknown> = Promise.resolve();
  /** Operations queued on `io` and not finished: while any is, syncNow leaves the work to sync(). */
  private ioQueued = 0;
  /** Snapshots, one at a time (they take the io queue only to switch segments). */
  private snapshots: Promise<unknown> = Promise.resolve();
  private failed: Error | null = null;
  private closed = false;
  /** Records written to segments since open (a record carried to a new segment counts again). */
  private written = 0;

  /** Use openLog. */
  constructor(
    readonly dir: string,
    private segments: Segment[],
    private snapshotFile: { seq: number; bytes: number } | null,
    private nextSeq: number,
  ) {}

  /** Live segments plus the snapshot, in bytes (what is written, not what is buffered). */
  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0) + (this.snapshotFile?.bytes ?? 0);
  }

  /** Records written to segments since open, durable (a record carried to a new segment at a snapshot counts again). */
  get recordsWritten(): number {
    return this.written;
  }

  /** Bytes appended and not yet handed to sync. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** Buffers one encoded record; it is durable once a later sync() resolves. lsns must increase. */
  append(bytes: Uint8Array, lsn: number): void {
    if (this.closed) throw new Error('log: append after close');
    if (lsn <= this.bufferedMaxLsn || lsn <= this.durableLsn) throw new RangeError(`log: lsn ${lsn} does not follow ${Math.max(this.bufferedMaxLsn, this.durableLsn)}`);
    this.buffered.push({ bytes, lsn });
    this.bufferedBytes += bytes.length;
    this.bufferedMaxLsn = lsn;
  }

  /** Writes everything buffered with one durable write; resolves with the highest durable lsn. */
  sync(): Promise<number> {
    return this.exclusive(() => this.flush());
  }

  /**
   * Writes everything buffered with one durable write on the calling thread, when nothing else
   * holds the log (no write, snapshot switch or segment start queued): returns the highest durable
   * lsn, or null when it cannot and sync() must do it. A thread-pool write costs two thread hops
   * and a wake-up of the event loop per fsync, which one put at a time waits for twice (the
   * coordinator's copy and a replica's); the O_DSYNC write itself blocks either way.
   */
  syncNow(): number | null {
    if (this.failed !== null) throw this.failed;
    if (this.closed) throw new Error('log: sync after close');
    if (this.bufferedBytes === 0) return this.durableLsn;
    if (this.ioQueued > 0 || this.current === null || this.tail.bytes >= segmentBytesMax) return null;
    const pending = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    const data = pending.length === 1 ? Buffer.from(pending[0]!.bytes.buffer, pending[0]!.bytes.byteOffset, pending[0]!.bytes.byteLength) : Buffer.concat(pending.map((p) => p.bytes));
    const segment = this.tail;
    const fd = this.current.fd;
    try {
      for (let written = 0; written < data.length;) written += writeSync(fd, data, written, data.length - written, segment.bytes + written);
    } catch (e) {
      if (noSpaceCodes.has((e as NodeJS.ErrnoException).code ?? '')) {
        try {
          ftruncateSync(fd, segment.bytes);
          fdatasyncSync(fd);
        } catch (e2) {
          throw this.failWith(e2);
        }
        throw new LogFullError(`no space for ${pending.length} log records (${(e as Error).message})`, pending[0]!.lsn, pending.at(-1)!.lsn);
      }
      throw this.failWith(e);
    }
    this.recordWritten(segment, data.length, pending.map((p) => ({ lsn: p.lsn, length: p.bytes.length })));
    this.durableLsn = segment.maxLsn;
    return this.durableLsn;
  }

  /**
   * Makes `recordBytes` (an encoded 'snap' record of memory as of coversLsn) the log's base: tmp file,
   * fsync, rename, fsync dir. Later appends go to a new segment; segments and snapshots it covers are deleted.
   */
  snapshot(recordBytes: Uint8Array, coversLsn: number): Promise<void> {
    const run = this.snapshots.then(() => this.writeSnapshot(recordBytes, coversLsn));
    this.snapshots = run.catch(() => undefined);
    return run;
  }

  /** Flushes what is buffered, waits for a snapshot in progress, and closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.snapshots;
    await this.exclusive(async () => {
      if (this.failed === null) await this.flush().catch(() => undefined);
      this.closed = true;
      await this.current?.close();
      this.current = null;
    }).catch(() => undefined);
  }

  /** Opens a new, empty segment for later appends (the old one is never appended to again). */
  async startSegment(): Promise<void> {
    const seq = this.nextSeq++;
    const path = join(this.dir, segmentName(seq));
    // O_DSYNC: a write returns once its data is durable, as write + fdatasync would, in one
    // thread-pool trip instead of two (the event loop waits for each trip under load).
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC, 0o600);
    await syncDir(this.dir);
    await this.current?.close();
    this.current = fh;
    this.segments.push({ seq, path, bytes: 0, maxLsn: 0, records: [] });
  }

  private async flush(): Promise<number> {
    if (this.failed !== null) throw this.failed;
    if (this.closed) throw new Error('log: sync after close');
    if (this.bufferedBytes === 0) return this.durableLsn;
    const pending = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    await this.guarded(async () => {
      if (this.tail.bytes >= segmentBytesMax) await this.startSegment();
      try {
        await this.writeDurably(Buffer.concat(pending.map((p) => p.bytes)), pending.map((p) => ({ lsn: p.lsn, length: p.bytes.length })));
      } catch (e) {
        if (!noSpaceCodes.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
        await this.cutBackTail();
        throw new LogFullError(`no space for ${pending.length} log records (${(e as Error).message})`, pending[0]!.lsn, pending.at(-1)!.lsn);
      }
    });
    this.durableLsn = this.tail.maxLsn;
    return this.durableLsn;
  }

  /** Appends records to the current segment with one write, durable on return (O_DSYNC). */
  private async writeDurably(data: Buffer, records: { lsn: number; length: number }[]): Promise<void> {
    const segment = this.tail;
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.current!.write(data, written, data.length - written, segment.bytes + written);
      written += bytesWritten;
    }
    this.recordWritten(segment, data.length, records);
  }

  /** Where each record just written starts, and the segment's new end. */
  private recordWritten(segment: Segment, dataBytes: number, records: { lsn: number; length: number }[]): void {
    let offset = segment.bytes;
    for (const r of records) {
      segment.records.push({ lsn: r.lsn, offset });
      offset += r.length;
    }
    segment.bytes += dataBytes;
    this.written += records.length;
    segment.maxLsn = Math.max(segment.maxLsn, records.at(-1)?.lsn ?? 0);
  }

  /**
   * Starts the segment for appends after a snapshot of coversLsn. The current segment's records newer
   * than coversLsn are copied to its head first, so every older segment is covered by the snapshot.
   */
  private async switchSegment(coversLsn: number): Promise<void> {
    if (this.failed !== null) throw this.failed;
    const old = this.tail;
    const first = old.records.findIndex((r) => r.lsn > coversLsn);
    if (first < 0) return this.startSegment();
    const carried = old.records.slice(first);
    const from = carried[0]!.offset;
    const data = Buffer.alloc(old.bytes - from);
    for (let read = 0; read < data.length;) {
      const { bytesRead } = await this.current!.read(data, read, data.length - read, from + read);
      if (bytesRead === 0) throw new Error(`log: ${segmentName(old.seq)} is shorter than the ${old.bytes} bytes written to it`);
      read += bytesRead;
    }
    await this.guarded(async () => {
      await this.startSegment();
      const lengths = carried.map((r, i) => ({ lsn: r.lsn, length: (carried[i + 1]?.offset ?? old.bytes) - r.offset }));
      await this.writeDurably(data, lengths);
    });
    old.maxLsn = coversLsn; // what it holds beyond coversLsn now lives on in the new segment
  }

  /**
   * A write refused for lack of space may have left part of its records on disk: cut the segment
   * back to its last good record, so no half record sits in the middle of the log (replay would stop
   * there and drop every later record). The next write goes to the same offset anyway; the cut
   * matters if the process dies before one succeeds. If the cut itself fails, the error is fatal.
   */
  private async cutBackTail(): Promise<void> {
    await this.current!.truncate(this.tail.bytes);
    await this.current!.datasync();
  }

  /**
   * Runs a write; if it fails, the page cache may hold anything (fsyncgate): no more writes, restart
   * and replay. The one exception is a write refused for lack of space (LogFullError), which the
   * kernel refuses before anything is acknowledged and which cutBackTail has already undone.
   */
  private async guarded(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (e) {
      if (e instanceof LogFullError) throw e;
      throw this.failWith(e);
    }
  }

  private failWith(e: unknown): Error {
    this.failed = new Error(`log: write or fdatasync of ${segmentName(this.tail.seq)} failed: ${e instanceof Error ? e.message : String(e)}`);
    return this.failed;
  }

  private async writeSnapshot(recordBytes: Uint8Array, coversLsn: number): Promise<void> {
    if (this.closed) throw new Error('log: snapshot after close');
    if (coversLsn < this.snapshotLsn || coversLsn > this.durableLsn) {
      throw new RangeError(`log: a snapshot covering lsn ${coversLsn}, outside ${this.snapshotLsn}..${this.durableLsn} (the last snapshot .. the last fsync)`);
    }
    await this.exclusive(() => this.switchSegment(coversLsn));
    const current = this.tail;
    const kept = this.segments.filter((s) => s === current || s.maxLsn > coversLsn);
    const dropped = this.segments.filter((s) => !kept.includes(s));
    const seq = Math.min(...kept.map((s) => s.seq)) - 1;
    const path = join(this.dir, snapshotName(seq));
    try {
      const fh = await open(path + tmpSuffix, 'w', 0o600);
      try {
        await fh.writeFile(recordBytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(path + tmpSuffix, path);
    } catch (e) {
      await unlink(path + tmpSuffix).catch(() => undefined);
      throw e;
    }
    await syncDir(this.dir);
    this.snapshotFile = { seq, bytes: recordBytes.length };
    this.snapshotLsn = coversLsn;
    this.segments = this.segments.filter((s) => !dropped.includes(s));
    for (const s of dropped) await unlink(s.path);
    for (const name of await readdir(this.dir)) {
      if (snapshotPattern.test(name) && name !== snapshotName(seq)) await unlink(join(this.dir, name));
    }
    await syncDir(this.dir);
  }

  private get tail(): Segment {
    const s = this.segments[this.segments.length - 1];
    if (s === undefined) throw new Error('log: no open segment');
    return s;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.ioQueued++;
    const run = this.io.then(fn).finally(() => { this.ioQueued--; });
    this.io = run.catch(() => undefined);
    return run;
  }
}

async function truncateFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes file creations, renames and deletions in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
