// `--baseline etcd`: a three-member etcd on 127.0.0.1 (temp data dirs, own ports) driven through the
// etcd3 npm client with the same closed loop: puts for writes; serializable gets for reads at ONE,
// linearizable ones for every other level. Every member fsyncs its WAL, as ringkv's replicas do.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import type { Level } from '../../src/core/types.js';
import { spawnTracked, type Child } from './children.js';
import type { Target } from './driver.js';
import type { WatchedProcess } from './proc.js';

const host = '127.0.0.1';
const memberCount = 3;
const readyTimeoutMs = 30_000;
const readyPollMs = 200;
/** Per-call deadline, as ringkv's client has one (write/read timeout + slack). */
const callDeadlineMs = 5_000;

export interface EtcdLayout {
  tempDir: string;
  /** Client ports portBase..+2, peer ports portBase+10..+12. */
  portBase: number;
  /** Members the load is spread over (1..3), like ringkv's coordinators. */
  lanes: number;
  readLevel: Level;
  etcdBin: string;
}

/** Finds etcd; installs Debian's etcd-server when running as root, else says how to. */
export function ensureEtcd(bin: string, log: (line: string) => void): string {
  if (works(bin)) return bin;
  if (bin !== 'etcd') throw new Error(`etcd baseline: ${bin} does not run (${bin} --version failed)`);
  if (process.getuid?.() !== 0) {
    throw new Error('etcd baseline: no etcd on PATH. Install it with `sudo apt-get update && sudo apt-get install -y etcd-server etcd-client` (Debian/Ubuntu), or pass --etcd-bin PATH');
  }
  log('etcd is not on PATH: apt-get update && apt-get install -y etcd-server etcd-client');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', 'etcd-server', 'etcd-client']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) throw new Error(`etcd baseline: apt-get ${args.join(' ')} failed (exit ${r.status})`);
  }
  // The package may start a system etcd on the default ports (2379/2380); ours uses its own ports, so it is left alone.
  if (!works(bin)) throw new Error('etcd baseline: etcd-server installed, but `etcd --version` still fails');
  return bin;
}

function works(bin: string): boolean {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startEtcd(layout: EtcdLayout): Promise<EtcdTarget> {
  const members = Array.from({ length: memberCount }, (_, i) => ({
    name: `etcd-${i + 1}`, clientPort: layout.portBase + i, peerPort: layout.portBase + 10 + i, dataDir: join(layout.tempDir, `etcd-${i + 1}`),
  }));
  const initialCluster = members.map((m) => `${m.name}=http://${host}:${m.peerPort}`).join(',');
  const children: Child[] = [];
  const clients: Etcd3[] = [];
  try {
    for (const m of members) {
      mkdirSync(m.dataDir, { recursive: true, mode: 0o700 });
      children.push(spawnTracked(m.name, layout.etcdBin, [
        '--name', m.name, '--data-dir', m.dataDir,
        '--listen-client-urls', `http://${host}:${m.clientPort}`, '--advertise-client-urls', `http://${host}:${m.clientPort}`,
        '--listen-peer-urls', `http://${host}:${m.peerPort}`, '--initial-advertise-peer-urls', `http://${host}:${m.peerPort}`,
        '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'ringkv-bench',
        '--logger', 'zap', '--log-level', 'warn',
      ], { logFile: join(layout.tempDir, `${m.name}.log`), stopSignal: 'SIGTERM' }));
    }
    for (const m of members.slice(0, Math.max(1, Math.min(layout.lanes, memberCount)))) {
      clients.push(new Etcd3({ hosts: `http://${host}:${m.clientPort}`, defaultCallOptions: () => ({ deadline: Date.now() + callDeadlineMs }) }));
    }
    await waitReady(members.map((m) => `http://${host}:${m.clientPort}`), children);
    return new EtcdTarget(children, clients, members.slice(0, clients.length).map((m) => m.name), layout.readLevel);
  } catch (e) {
    for (const c of clients) c.close();
    await Promise.all(children.map((c) => c.stop()));
    throw e;
  }
}

/** Every member answers status and knows the leader; then one put goes through. */
async function waitReady(urls: string[], children: Child[]): Promise<void> {
  const probe = urls.map((hosts) => new Etcd3({ hosts, defaultCallOptions: () => ({ deadline: Date.now() + 1_000 }) }));
  const deadline = Date.now() + readyTimeoutMs;
  let last = '';
  try {
    while (Date.now() < deadline) {
      for (const c of children) {
        if (c.proc.exitCode !== null) throw new Error(`${c.name} exited with code ${c.proc.exitCode} during start; see its log in the temp dir`);
      }
      try {
        const statuses = await Promise.all(probe.map((c) => c.maintenance.status()));
        if (statuses.every((s) => s.leader !== '0')) {
          await probe[0]!.put('bench/ready').value('1');
          return;
        }
        last = 'no leader yet';
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await new Promise((r) => setTimeout(r, readyPollMs));
    }
    throw new Error(`etcd not ready within ${readyTimeoutMs} ms: ${last}`);
  } finally {
    for (const c of probe) c.close();
  }
}

export class EtcdTarget implements Target {
  readonly name = 'etcd';
  private readonly serializable: boolean;

  constructor(private readonly children: Child[], private readonly clients: Etcd3[], readonly lanes: readonly string[], readLevel: Level) {
    this.serializable = readLevel === 'ONE';
  }

  async processes(): Promise<WatchedProcess[]> {
    return this.children.map((c) => ({ name: c.name, pid: c.pid }));
  }

  read(lane: number, key: number): Promise<string | null> {
    return this.clients[lane]!.get(`k/${key}`).serializable(this.serializable).string();
  }

  async write(lane: number, key: number, value: string): Promise<void> {
    await this.clients[lane]!.put(`k/${key}`).value(value);
  }

  notes(): Record<string, unknown> {
    return { reads: this.serializable ? 'serializable' : 'linearizable', members: this.children.map((c) => c.name) };
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.children.map((c) => c.stop()));
  }
}
