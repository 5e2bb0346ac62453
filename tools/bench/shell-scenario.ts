// --scenario shell: a piped kvc shell, as a script would run it: `kvc --coordinator replica-1 < lines`
// with alternating put/get lines at QUORUM, timed from spawning the process to its exit (start-up,
// yargs, config and cookie included), after a --warmup of the cluster. Three runs by default; each
// prints ops/s over the wall time.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Cluster } from './cluster.js';

export interface ShellRun { lines: number; wallMs: number; opsPerSec: number; exitCode: number | null; outputLines: number; errorLines: number }

/** `put k v` and `get k` in turn, keys walking 0..255, values of valueBytes. */
export function shellLines(count: number, valueBytes: number): string {
  const value = 'v'.repeat(Math.max(1, valueBytes));
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = Math.floor(i / 2) % 256;
    lines.push(i % 2 === 0 ? `put ${key} ${value}` : `get ${key}`);
  }
  return lines.join('\n') + '\n';
}

export async function shellScenario(cluster: Cluster, tempDir: string, o: { shellLines: number; shellRuns: number; valueBytes: number; coordinator: string; warmupS: number }, log: (line: string) => void): Promise<ShellRun[]> {
  const input = join(tempDir, 'shell-lines.txt');
  writeFileSync(input, shellLines(o.shellLines, o.valueBytes));
  await warmUp(cluster, o, log);
  const runs: ShellRun[] = [];
  for (let i = 0; i < o.shellRuns; i++) {
    const r = await timeShell(cluster, input, o.coordinator, o.shellLines);
    log(`shell run ${i + 1}: ${r.lines} lines in ${r.wallMs.toFixed(0)} ms = ${Math.round(r.opsPerSec)} ops/s (exit ${r.exitCode}, ${r.errorLines} error lines)`);
    runs.push(r);
  }
  return runs;
}

/**
 * The same put/get pattern through the library for warmupS seconds first, as every other figure
 * has its warm-up: a cluster just started runs its first thousands of requests unoptimized by the
 * JIT, which the first shell run would otherwise pay for alone. The kvc processes timed are cold.
 */
async function warmUp(cluster: Cluster, o: { valueBytes: number; coordinator: string; warmupS: number }, log: (line: string) => void): Promise<void> {
  if (o.warmupS <= 0) return;
  const client = await cluster.client(o.coordinator);
  const value = 'v'.repeat(Math.max(1, o.valueBytes));
  let n = 0;
  try {
    for (const endAt = performance.now() + o.warmupS * 1000; performance.now() < endAt; n++) {
      const key = Math.floor(n / 2) % 256;
      if (n % 2 === 0) await client.put(key, value, 'QUORUM');
      else await client.get(key, 'QUORUM');
    }
  } finally {
    await client.close();
  }
  log(`shell warm-up: ${n} alternating put/get requests through the library in ${o.warmupS} s (not timed)`);
}

function timeShell(cluster: Cluster, inputPath: string, coordinator: string, lines: number): Promise<ShellRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'kvc.js'), '--config', cluster.configPath, '--coordinator', coordinator], {
      cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, KV_HISTORY: '' },
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      const outLines = out.split('\n').filter((l) => l !== '');
      resolve({ lines, wallMs, opsPerSec: lines / (wallMs / 1000), exitCode: code, outputLines: outLines.length,
        errorLines: outLines.filter((l) => !/^(OK|put|get|\d+ )/.test(l) && /error|Error|Timeout|Unavailable|NoResponse/.test(l)).length });
    });
    // The whole file at once, as `kvc < file` gives it.
    import('node:fs').then(({ createReadStream }) => createReadStream(inputPath).pipe(child.stdin));
  });
}
