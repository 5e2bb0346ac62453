// A disk that fills, on real processes: replica-2's data dir is a small tmpfs of its own. Once a
// filler file takes every free byte, replica-2's log appends fail with ENOSPC: it must ack no
// writes, keep serving reads and heartbeats, say so once in its log and in status, and take writes
// again when the filler is gone, with no restart and no acknowledged write lost or log damaged.
// Key 10 lives on replica-1, -2 and -3. Mounting needs root (CI runs as root); else it is skipped.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TimeoutError, UnavailableError } from '../../src/client/client.js';
import { Cluster, rejection, replicasOf, waitFor } from './harness.js';

const key = 10;
const full = 'replica-2';
const tmpfsBytes = 8 * 1024 * 1024;
/** Bigger than a page: the log's last, partly used page cannot take it (tmpfs allocates whole pages). */
const big = (what: string) => `${what} ${'x'.repeat(10_000)}`;

function mountTmpfs(dir: string): { ok: true } | { ok: false; why: string } {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsBytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.error !== undefined) return { ok: false, why: r.error.message };
  return r.status === 0 ? { ok: true } : { ok: false, why: (r.stderr || `mount exited ${r.status}`).trim() };
}

function unmount(dir: string): void {
  const r = spawnSync('umount', [dir], { encoding: 'utf8' });
  // A process that just died may still hold it for a moment: detach it now, it goes when released.
  if (r.status !== 0) spawnSync('umount', ['-l', dir]);
}

/** Writes a file in `dir` until the filesystem refuses (ENOSPC). */
function fillUp(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) {
      try {
        writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        try {
          for (;;) writeSync(fd, chunk, 0, 1); // the last few bytes
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

describe('integration: a disk that fills (tmpfs as replica-2\'s data dir)', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let dataDir = '';

  before(async function () {
    // Can this process mount at all? Try once on a scratch dir, so a refusal skips rather than fails.
    const probe = mkdtempSync(join(tmpdir(), 'ringkv-mount-probe-'));
    const tried = mountTmpfs(probe);
    if (tried.ok) unmount(probe);
    rmdirSync(probe);
    if (!tried.ok) {
      console.log(`      skipped: cannot mount a tmpfs here (${tried.why}); the full-disk test needs root, as CI has`);
      this.skip();
    }
    cluster = await Cluster.start({
      prepare: (dir) => {
        dataDir = join(dir, 'data', full);
        mkdirSync(dataDir, { recursive: true });
        const mounted = mountTmpfs(dataDir);
        if (!mounted.ok) throw new Error(`mount tmpfs on ${dataDir}: ${mounted.why}`);
        return () => unmount(dataDir);
      },
    });
    expect(replicasOf(key)).to.deep.equal(['replica-1', 'replica-2', 'replica-3']);
  });

  after(async () => {
    await cluster?.teardown();
  });

  it('stops acking writes, serves reads, says so once, takes writes again when space returns, loses nothing', async () => {
    const c = cluster!;
    const viaReplica1 = await c.client('replica-1');
    const viaReplica2 = await c.client('replica-2');
    await viaReplica1.put(key, 'before', 'ALL');
    const restartsBefore = (await c.processes()).find((p) => p.name === full)!.restarts;

    const filler = fillUp(dataDir);
    expect(statfsSync(dataDir).bavail, 'no block left').to.equal(0);

    // QUORUM: replica-1 and replica-3 ack. ALL: replica-2 cannot, so Timeout (and a hint for it).
    const acked = await viaReplica1.put(key, big('while full'), 'QUORUM');
    const all = await rejection(viaReplica1.put(key, big('at ALL while full'), 'ALL'));
    expect(all).to.be.instanceOf(TimeoutError);
    expect(all.message).to.match(/^Timeout: 2 of 3 acks/);
    const status = await c.status(full);
    expect(status).to.deep.include({ logWritable: false });
    expect(status.logAppendsFailed).to.be.greaterThan(0);
    // Reads go on, from its own copy (no refused record applied), and its heartbeats keep it UP.
    expect((await viaReplica1.local(key, full)).value).to.equal('before');
    expect((await viaReplica2.get(key, 'ONE')).coordinator).to.equal(full);
    for (const observer of ['replica-1', 'replica-3', 'replica-4'] as const) expect(await c.sees(observer, full), observer).to.equal(true);
    // As a coordinator it refuses puts: their hints could not be made durable.
    const refused = await rejection(viaReplica2.put(20, big('through the full one'), 'ONE'));
    expect(refused).to.be.instanceOf(UnavailableError);
    expect(refused.message).to.match(/^Unavailable: replica-2's disk is full/);
    const shown = await c.kvc(['status', '--coordinator', full]);
    expect(shown.stdout).to.match(/log: \d+ bytes? in \d+ records? \(DISK FULL: not writable, acking no writes\), \d+ appends? refused for lack of space/);

    rmSync(filler);
    await waitFor(`${full} to take writes again`, async () => (await c.status(full)).logWritable, 15_000, 200);
    // The writes it refused land by themselves (its own retry, and replica-1's hint).
    await waitFor(`${full} to hold the write made at ALL while it was full`, async () => (await viaReplica1.local(key, full)).value === big('at ALL while full'), 15_000, 200);
    const after = await viaReplica2.put(key, 'after', 'ALL');
    expect(after.coordinator).to.equal(full);
    const log = c.log(full);
    expect(log.match(/disk-full: /g), 'said once').to.have.length(1);
    expect(log).to.match(/disk-full: log append failed \(no space for \d+ log records \(ENOSPC/);
    expect(log).to.match(/disk-ok: log appends succeed again after \d+ ms/);
    expect((await c.processes()).find((p) => p.name === full)!.restarts, 'no restart').to.equal(restartsBefore);
    expect(acked.coordinator).to.equal('replica-1');

    // Nothing half-written in its log: a restart replays every record, drops no damaged bytes.
    await c.pm2('restart', full);
    await c.waitUntilServing();
    expect((await viaReplica1.local(key, full)).value).to.equal('after');
    const replayed = c.log(full).split('\n').filter((l) => / log-replayed: /.test(l)).at(-1) ?? '';
    expect(replayed).to.match(/replayed \d+ records/);
    expect(replayed).to.not.match(/damaged/);
    expect(c.log(full)).to.not.match(/log-damaged/);
  });
});
