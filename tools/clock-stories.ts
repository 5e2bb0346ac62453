// The two clock incidents on real processes: four kvd on 127.0.0.1 in a temp dir, one of them under
// libfaketime (Debian's faketime package) so its wall clock is off. Prints how many later,
// acknowledged writes were lost, and where clocks ended up.
//   npm run clock-stories -- [--trials 20]
// 1. slow: replica-4 60 s behind; put key K via replica-1, then put K via replica-4, then read K at
//    QUORUM via replica-2. Once with a fresh client per put (like two kvc runs), once with one client
//    (which carries the newest stamp it has seen). Then again with replica-4 400 ms behind (within the bound).
// 2. fast: replica-3 an hour ahead starts alone ("partitioned") and takes a put of key 150 at ONE;
//    the others start; a QUORUM put of 150 via replica-1; what a QUORUM read returns, how far ahead a
//    new stamp of replica-1 is; then replica-3 restarted with its clock right: what it holds.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { KvClient } from '../src/client/client.js';

const argv = await yargs(hideBin(process.argv)).scriptName('npm run clock-stories --')
  .option('trials', { type: 'number', default: 20 }).option('base-port', { type: 'number', default: 31_000 + (process.pid % 2_000) * 4 }).strict().parse();

const repo = resolve(import.meta.dirname, '..');
const faketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
if (!existsSync(faketime)) {
  console.error(`needs ${faketime}: apt-get install faketime`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'ringkv-clocks-'));
const config = join(dir, 'nodes.toml');
const ports = [0, 1, 2, 3].map((i) => argv['base-port'] + i);
writeFileSync(config, [
  'replication_factor = 3', 'repair_mode = "hinted-handoff"', 'read_repair_blocking = true', 'data_dir = "data"', 'cookie_file = "data/cookie"',
  'gossip_interval_ms = 100', 'down_after_ms = 500', 'write_timeout_ms = 1000', 'read_timeout_ms = 1000', 'max_hint_window_ms = 10800000',
  'hint_sweep_interval_ms = 500', 'anti_entropy_interval_ms = 0', 'value_bytes_max = 60000', 'max_clock_skew_ms = 500', '',
  ...ports.map((p, i) => `[[nodes]]\nname = "replica-${i + 1}"\nhost = "127.0.0.1"\nport = ${p}\n`),
].join('\n'));

const running = new Map<string, ChildProcess>();
function start(name: string, offset?: string): void {
  const env: NodeJS.ProcessEnv = { ...process.env, KV_LOG_LEVEL: 'warn' };
  delete env.NODE_OPTIONS;
  if (offset !== undefined) Object.assign(env, { LD_PRELOAD: faketime, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
  const child = spawn(process.execPath, [join(repo, 'dist/cli/kvd.js'), '--config', config, '--name', name], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  running.set(name, child);
}
async function stop(name: string): Promise<void> {
  const child = running.get(name);
  if (child === undefined) return;
  running.delete(name);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const client = (coordinator: string) => KvClient.open({ configPath: config, coordinator });
async function allUp(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    let c: KvClient | null = null;
    try {
      c = await client('replica-1');
      const s = await c.status();
      if (s.peers.every((p) => p.up)) return;
    } catch { /* starting: no cookie yet, or no answer */ } finally {
      await c?.close();
    }
  }
}

try {
  // ---- story 1 --------------------------------------------------------------------------------
  for (const n of [1, 2, 3]) start(`replica-${n}`);
  for (const [offset, label] of [['-60', '60 s behind'], ['-0.4', '400 ms behind, within the bound']] as const) {
  await stop('replica-4');
  start('replica-4', offset);
  await allUp();
  for (const carry of [false, true]) {
    let acked = 0, lost = 0, refused = 0;
    const shared = carry ? await client('replica-1') : null;
    for (let i = 0; i < argv.trials; i++) {
      const key = (carry ? 32 : 0) + i; // keys 0..63 live on replica-1, 2, 3: replica-4 coordinates without holding them
      const c1 = shared ?? await client('replica-1');
      await c1.put(key, `first ${i}`, 'QUORUM');
      const c4 = shared === null ? await client('replica-4') : await KvClient.open({ configPath: config, coordinator: 'replica-4', ...(shared.seen === null ? {} : { seen: shared.seen }) });
      try {
        await c4.put(key, `later ${i}`, 'QUORUM');
        acked++;
        const read = await (await client('replica-2')).get(key, 'QUORUM');
        if (read.value !== `later ${i}`) lost++;
      } catch (e) {
        refused++;
        if (i === 0) console.log(`  (refused: ${(e as Error).message.slice(0, 160)}…)`);
      }
      if (shared === null) await c1.close();
      await c4.close();
    }
    await shared?.close();
    console.log(`slow clock (replica-4 ${label}), ${carry ? 'client carrying its newest stamp' : 'a fresh client per put'}: ` +
      `${acked} of ${argv.trials} later writes acknowledged, ${lost} of them lost; ${refused} refused`);
  }
  }
  for (const name of [...running.keys()]) await stop(name);

  // ---- story 2 --------------------------------------------------------------------------------
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  start('replica-3', '+1h');
  await sleep(800);
  const alone = await client('replica-3');
  const poisoned = await alone.put(150, 'from the future', 'ONE');
  await alone.close();
  console.log(`fast clock: replica-3 (1 h ahead, alone) acked a put of key 150 at ONE, stamp ${poisoned.stamp[0] - Date.now()} ms ahead of true time`);
  for (const n of [1, 2, 4]) start(`replica-${n}`);
  await sleep(1_500);
  const c1 = await client('replica-1');
  const present = await c1.put(150, 'the present', 'QUORUM');
  const read = await c1.get(150, 'QUORUM');
  const fresh = await c1.put(1, 'a new write', 'QUORUM');
  console.log(`  majority QUORUM put via replica-1: stamp ${present.stamp[0] - Date.now()} ms from true time; QUORUM read returns "${read.value}"; ` +
    `a new stamp of replica-1 is ${fresh.stamp[0] - Date.now()} ms from true time`);
  await stop('replica-3');
  start('replica-3');
  await allUp();
  await sleep(1_500);
  const held = await c1.local(150, 'replica-3');
  const c3 = await client('replica-3');
  const after = await c3.put(2, 'after the fix', 'QUORUM');
  console.log(`  replica-3 restarted with its clock right: holds "${held.value}" for key 150; its new stamps are ${after.stamp[0] - Date.now()} ms from true time`);
  await c3.close();
  await c1.close();
} finally {
  for (const name of [...running.keys()]) await stop(name);
  rmSync(dir, { recursive: true, force: true });
}
