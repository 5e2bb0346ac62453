// --profile-alloc: bytes allocated per operation, per process and by function. V8's sampling heap
// profiler, told to keep the samples of objects the GC has already collected, estimates every byte
// allocated while it runs (not only what is still alive): garbage is exactly what this measures.
// Each replica runs by hand with alloc-preload.ts loaded (SIGUSR2 starts sampling, the next one
// writes the profile); the bench process samples itself, as the client, over the same window.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AllocSampler, type SamplingProfile } from './alloc-sampler.js';
import { repoRoot, sleep, type Cluster } from './cluster.js';
import { shortUrl, startReplicaByHand } from './profile.js';
import { formatRate, table } from './report.js';

/** A replica writes its profile within moments of the second SIGUSR2; give up after this. */
const profileWriteTimeoutMs = 15_000;

export interface AllocProfiles {
  /** For RunPlan.onWindow: every process samples exactly the measured window. */
  onWindow(edge: 'start' | 'end'): void;
  /** Each replica's profile and the client's (this process), over `ops` operations. */
  finish(ops: number): Promise<AllocSummary[]>;
}

/** Every replica taken out of pm2 and run by hand with the sampler loaded; this process samples itself as the client. */
export async function startAllocProfiles(cluster: Cluster, tempDir: string, log: (line: string) => void): Promise<AllocProfiles> {
  const dir = join(tempDir, 'alloc');
  mkdirSync(dir, { recursive: true });
  const preload = join(repoRoot, 'tools', 'bench', 'alloc-preload.ts');
  const replicas: { name: string; signal: () => boolean; file: string }[] = [];
  for (const name of cluster.names) {
    const file = join(dir, `${name}.json`);
    const child = await startReplicaByHand(cluster, name, tempDir, 'alloc', ['--import', 'tsx', '--import', preload], { RINGKV_ALLOC_PROFILE: file }, log);
    replicas.push({ name, signal: () => child.proc.kill('SIGUSR2'), file });
  }
  const client = new AllocSampler();
  let clientProfile: SamplingProfile | null = null;
  let open = false;
  return {
    onWindow: (edge) => {
      if (edge === 'start' && !open) {
        open = true;
        for (const r of replicas) r.signal();
        client.start();
      } else if (edge === 'end' && open && clientProfile === null) {
        clientProfile = client.stop();
        for (const r of replicas) r.signal();
      }
    },
    finish: async (ops) => {
      if (clientProfile === null) throw new Error('--profile-alloc: the measured window never closed');
      const deadline = Date.now() + profileWriteTimeoutMs;
      const summaries: AllocSummary[] = [];
      for (const r of replicas) {
        while (!existsSync(r.file) && Date.now() < deadline) await sleep(100);
        if (!existsSync(r.file)) throw new Error(`--profile-alloc: ${r.name} wrote no profile to ${r.file} within ${profileWriteTimeoutMs} ms`);
        summaries.push(summarizeAlloc(r.name, readSamplingProfile(r.file), ops));
      }
      summaries.push(summarizeAlloc('client (bench)', clientProfile, ops));
      return summaries;
    },
  };
}

export interface AllocSummary {
  process: string;
  totalBytes: number;
  bytesPerOp: number;
  functions: { fn: string; where: string; bytes: number; bytesPerOp: number; percent: number }[];
}

/** Self bytes per function (name and place) over the whole tree; `ops` operations shared them. */
export function summarizeAlloc(processName: string, profile: SamplingProfile, ops: number, top = 12): AllocSummary {
  const byFunction = new Map<string, number>();
  let totalBytes = 0;
  const walk = (n: SamplingProfile['head']) => {
    totalBytes += n.selfSize;
    if (n.selfSize > 0) {
      const key = `${n.callFrame.functionName || '(anonymous)'}\u0000${placeOf(n.callFrame.url, n.callFrame.lineNumber)}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const perOp = (b: number) => (ops > 0 ? b / ops : 0);
  const functions = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, bytes]) => {
    const [fn, where] = k.split('\u0000') as [string, string];
    return { fn, where, bytes, bytesPerOp: perOp(bytes), percent: totalBytes > 0 ? (bytes / totalBytes) * 100 : 0 };
  });
  return { process: processName, totalBytes, bytesPerOp: perOp(totalBytes), functions };
}

export function readSamplingProfile(path: string): SamplingProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as SamplingProfile;
}

export function allocText(summaries: readonly AllocSummary[], ops: number): string {
  const kb = (b: number) => `${(b / 1024).toFixed(2)} KB`;
  const all = summaries.reduce((a, s) => a + s.bytesPerOp, 0);
  const perProcess = table([['process', 'per op', 'in the window'], ...summaries.map((s) => [s.process, kb(s.bytesPerOp), `${(s.totalBytes / 1e6).toFixed(1)} MB`]), ['all processes', kb(all), '']]);
  const lines = [`bytes allocated per operation on the JS heap (V8's sampling heap profiler, collected objects included; the contents of Buffers and typed arrays live outside it and are not counted; ${formatRate(ops)} operations in the measured window)`, ...perProcess.map((l) => `  ${l}`)];
  for (const s of summaries) {
    lines.push(`${s.process}: where its ${kb(s.bytesPerOp)} per op are allocated (self bytes)`);
    lines.push(...table([['per op', '%', 'function', 'where'], ...s.functions.map((f) => [kb(f.bytesPerOp), f.percent.toFixed(1), f.fn, f.where])], new Set([2, 3])).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

function placeOf(url: string, line: number): string {
  return url === '' ? '(native)' : `${shortUrl(url)}:${line + 1}`;
}
