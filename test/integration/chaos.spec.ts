// A short `npm run chaos` against a real temporary cluster: about 30 s of faults, two kinds, and
// every check must pass. Then nothing it started may be left: no pm2 daemon or temp dir, no nft
// table. Partitions need nft (root or CAP_NET_ADMIN); without it the run leaves them out, saying so.
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { nftUnusable, tableName } from '../../tools/chaos/nft.js';
import { repoRoot } from './harness.js';

const chaosSeconds = 30;
const portBaseMin = 30_000;
const portBaseMax = 39_000;
/** Start, 30 s of faults, healing, convergence and the checks; generous for a busy 2-core machine. */
const runMs = 240_000;

async function udpPortsFree(ports: number[]): Promise<boolean> {
  const sockets = ports.map(() => createSocket('udp4'));
  try {
    await Promise.all(sockets.map((s, i) => new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(ports[i], '127.0.0.1', () => resolve());
    })));
    return true;
  } catch {
    return false;
  } finally {
    for (const s of sockets) try { s.close(); } catch { /* never bound */ }
  }
}

async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = portBaseMin + 10 * Math.floor((Math.random() * (portBaseMax - portBaseMin)) / 10);
    if (await udpPortsFree([1, 2, 3, 4].map((i) => base + i))) return base;
  }
  throw new Error('no free UDP port range for the chaos cluster');
}

function nftTables(): string {
  try {
    return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

describe('integration: npm run chaos (a short run must pass every check)', function () {
  this.timeout(runMs + 30_000);
  let child: ReturnType<typeof spawn> | null = null;
  let outDir = '';

  after(async () => {
    // Interrupted (a mocha timeout): SIGTERM lets the run undo everything it started.
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const c = child;
      await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); });
    }
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
  });

  it(`survives ${chaosSeconds} s of kill -9 and partitions with no lost, stale, invented or twice-applied write, none taking effect after its client gave up, and cleans up`, async () => {
    const nftProblem = await nftUnusable();
    const faults = nftProblem === null ? 'kill,partition' : 'kill,pause';
    if (nftProblem !== null) console.log(`      (partitions left out: ${nftProblem}; running kill,pause instead)`);
    outDir = mkdtempSync(join(tmpdir(), 'ringkv-chaos-it-'));
    const args = ['--import', 'tsx', 'tools/chaos.ts', '--seconds', String(chaosSeconds), '--faults', faults, '--seed', '12', '--bounded-indeterminate',
      '--no-build', '--port-base', String(await freePortBase()), '--out', outDir];
    const proc = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    const shown = `exit ${code}\n--- stdout\n${stdout}\n--- stderr (tail)\n${stderr.slice(-4_000)}`;
    expect(code, shown).to.equal(0);
    expect(stdout, shown).to.match(/^chaos: PASS: [\d,]+ ops/m);
    for (const check of ['acknowledged writes never lost', 'W\\+R>RF reads never stale', 'no invented values', 'every replica converged', 'writes applied once']) {
      expect(stdout, shown).to.match(new RegExp(`^  PASS ${check}:`, 'm'));
    }
    // The faults happened: each band is listed with no error starting or undoing it.
    const bands = stdout.split('\n').filter((l) => /^\s+[\d.]+ –\s+[\d.]+ s {2}/.test(l));
    expect(bands.length, shown).to.be.at.least(2);
    for (const b of bands) expect(b, shown).not.to.match(/could not|\(/);
    expect(existsSync(join(outDir, 'history.jsonl'))).to.equal(true);
    expect(existsSync(join(outDir, 'timeline.svg'))).to.equal(true);
    // Nothing left behind: its temp dir (pm2 home, data) and its nft table are gone.
    const pm2Home = /PM2_HOME=(\S+)\)/.exec(stderr)?.[1];
    expect(pm2Home, shown).to.be.a('string');
    expect(existsSync(pm2Home!), `${pm2Home} still exists`).to.equal(false);
    expect(nftTables()).not.to.include(tableName(proc.pid));
  });
});
