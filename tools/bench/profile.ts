// --profile NAME: one replica of the temporary cluster run by hand under `node --cpu-prof` instead of
// pm2 (same script and arguments as ecosystem.config.js), and a summary of its profile: the
// functions with the most self time, with their inclusive time, and self time per file.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { spawnTracked, type Child } from './children.js';
import { repoRoot, type Cluster } from './cluster.js';
import { table } from './report.js';
import { sleep } from './cluster.js';

const serveTimeoutMs = 30_000;
/** A heap snapshot of a replica's heap (tens of MB) is written within seconds; give up after this. */
const heapSnapshotTimeoutMs = 60_000;

export interface ProfiledReplica {
  name: string;
  child: Child;
  /** Writes a heap snapshot (SIGUSR2), then stops it (SIGINT: kvd flushes and exits, node writes the profile). */
  stop(): Promise<{ cpuProfile: string; heapSnapshot: string | null }>;
}

export async function startProfiledReplica(cluster: Cluster, name: string, tempDir: string, log: (line: string) => void): Promise<ProfiledReplica> {
  if (!cluster.names.includes(name)) throw new Error(`--profile: no replica ${name} in ${cluster.configPath}`);
  const dir = join(tempDir, 'cpuprof');
  mkdirSync(dir, { recursive: true });
  const child = await startReplicaByHand(cluster, name, tempDir, 'cpu-prof',
    ['--cpu-prof', '--cpu-prof-dir', dir, '--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir', dir], {}, log);
  return {
    name, child,
    stop: async () => {
      const heapSnapshot = await takeHeapSnapshot(child, dir);
      await child.stop('SIGINT');
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error(`--profile: ${name} exited (code ${child.proc.exitCode}) without writing a profile in ${dir}`);
      return { cpuProfile: join(dir, file), heapSnapshot };
    },
  };
}

/**
 * One replica of the cluster taken out of pm2 and run by hand, with the same script and arguments
 * as ecosystem.config.js plus `nodeArgs`; it returns once the cluster serves again.
 */
export async function startReplicaByHand(cluster: Cluster, name: string, tempDir: string, label: string, nodeArgs: string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<Child> {
  await cluster.pm2(['stop', name]);
  const logFile = join(tempDir, `${name}-${label}.log`);
  const child = spawnTracked(`${name} (${label})`, process.execPath, [...nodeArgs, join(repoRoot, 'dist', 'cli', 'kvd.js'), '--config', cluster.configPath, '--name', name],
    { cwd: repoRoot, logFile, stopSignal: 'SIGINT', env: { ...process.env, ...env } });
  log(`${name} now runs by hand under node ${nodeArgs.join(' ')} (pid ${child.pid}, log ${logFile})`);
  await cluster.waitServing(serveTimeoutMs);
  return child;
}

/** SIGUSR2 makes node write a heap snapshot into dir; it is complete once its size stops changing. */
async function takeHeapSnapshot(child: Child, dir: string): Promise<string | null> {
  child.proc.kill('SIGUSR2');
  const deadline = Date.now() + heapSnapshotTimeoutMs;
  let lastSize = -1;
  while (Date.now() < deadline && child.proc.exitCode === null) {
    await sleep(250);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === lastSize) return join(dir, file);
    lastSize = size;
  }
  return null;
}

export function keepProfile(from: string, to: string): string {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  return to;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile { nodes: CpuProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface HotFunction { fn: string; where: string; selfPercent: number; totalPercent: number; selfMs: number }
export interface ProfileSummary {
  durationMs: number;
  samples: number;
  functions: HotFunction[];
  files: { file: string; selfPercent: number }[];
}

/** `window` (monotonic µs, as the profile's own clock) keeps only the samples taken inside it. */
export function summarizeProfile(path: string, window: { start: number; end: number } | null = null, top = 25): ProfileSummary {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  let durationMs = (prof.endTime - prof.startTime) / 1000;
  if (window !== null && prof.samples !== undefined && prof.timeDeltas !== undefined) {
    const hits = new Map<number, number>();
    let t = prof.startTime;
    prof.samples.forEach((id, i) => {
      t += prof.timeDeltas![i] ?? 0;
      if (t >= window.start && t <= window.end) hits.set(id, (hits.get(id) ?? 0) + 1);
    });
    for (const n of prof.nodes) n.hitCount = hits.get(n.id) ?? 0;
    durationMs = (Math.min(window.end, prof.endTime) - Math.max(window.start, prof.startTime)) / 1000;
  }
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const totalHits = prof.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
  const msPerHit = durationMs / totalHits;
  const keyOf = (n: CpuProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    self.set(keyOf(n), (self.get(keyOf(n)) ?? 0) + hits);
    const file = shortUrl(n.callFrame.url) || n.callFrame.functionName;
    files.set(file, (files.get(file) ?? 0) + hits);
  }
  // Inclusive time: each node's subtree, counted once per function even under recursion.
  const root = prof.nodes[0];
  const subtree = new Map<number, number>();
  const sizeOf = (n: CpuProfileNode): number => {
    const known = subtree.get(n.id);
    if (known !== undefined) return known;
    let sum = n.hitCount ?? 0;
    for (const c of n.children ?? []) { const child = byId.get(c); if (child) sum += sizeOf(child); }
    subtree.set(n.id, sum);
    return sum;
  };
  const walk = (n: CpuProfileNode, open: Set<string>) => {
    const k = keyOf(n);
    const fresh = !open.has(k);
    if (fresh) { total.set(k, (total.get(k) ?? 0) + sizeOf(n)); open.add(k); }
    for (const c of n.children ?? []) { const child = byId.get(c); if (child) walk(child, open); }
    if (fresh) open.delete(k);
  };
  if (root) walk(root, new Set());
  const functions = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, hits]) => {
    const [fn, where] = k.split('\u0000') as [string, string];
    return { fn, where, selfPercent: (hits / totalHits) * 100, totalPercent: ((total.get(k) ?? hits) / totalHits) * 100, selfMs: hits * msPerHit };
  });
  const fileList = [...files].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([file, hits]) => ({ file, selfPercent: (hits / totalHits) * 100 }));
  return { durationMs, samples: totalHits, functions, files: fileList };
}

export function profileText(name: string, s: ProfileSummary, savedAt: string): string {
  const rows = [['self %', 'total %', 'function', 'where'], ...s.functions.map((f) => [f.selfPercent.toFixed(1), f.totalPercent.toFixed(1), f.fn, f.where])];
  const fileRows = [['self %', 'file'], ...s.files.map((f) => [f.selfPercent.toFixed(1), f.file])];
  return [
    `cpu profile of ${name} over the measured window: ${(s.durationMs / 1000).toFixed(1)} s, ${s.samples.toLocaleString('en-US')} samples (kept at ${savedAt})`,
    ...table(rows, new Set([2, 3])).map((l) => `  ${l}`),
    'self time by file',
    ...table(fileRows, new Set([1])).map((l) => `  ${l}`),
  ].join('\n');
}

/** node:internal paths as they are; our files relative to the repo; packages by name and file. */
export function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  if (path.startsWith(repoRoot + '/')) return path.slice(repoRoot.length + 1);
  return path.startsWith('/') ? basename(path) : path;
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  totalBytes: number;
  objects: number;
  /** By node type and constructor (or string/code kind): count and self size. */
  top: { kind: string; count: number; selfBytes: number }[];
}

/** Self size per constructor from a .heapsnapshot: what the heap is made of (not who retains it). */
export function summarizeHeap(path: string, top = 20): HeapSummary {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKind = new Map<string, { count: number; selfBytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    const size = snap.nodes[i + sizeAt]!;
    totalBytes += size;
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${snap.strings[snap.nodes[i + nameAt]!] ?? '?'}` : type;
    const k = byKind.get(name) ?? { count: 0, selfBytes: 0 };
    k.count++;
    k.selfBytes += size;
    byKind.set(name, k);
  }
  const sorted = [...byKind].sort((a, b) => b[1].selfBytes - a[1].selfBytes).slice(0, top).map(([kind, v]) => ({ kind, ...v }));
  return { totalBytes, objects: snap.nodes.length / stride, top: sorted };
}

export function heapText(name: string, h: HeapSummary, savedAt: string): string {
  const rows = [['MB', 'count', 'kind'], ...h.top.map((t) => [(t.selfBytes / 1e6).toFixed(1), t.count.toLocaleString('en-US'), t.kind])];
  return [
    `heap of ${name} at the end of the run: ${(h.totalBytes / 1e6).toFixed(1)} MB in ${h.objects.toLocaleString('en-US')} objects (kept at ${savedAt})`,
    ...table(rows, new Set([2])).map((l) => `  ${l}`),
  ].join('\n');
}
