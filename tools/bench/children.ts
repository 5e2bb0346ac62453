// Child processes the benchmark owns (echo processes, etcd members, a profiled replica): each is
// registered for cleanup as it is spawned and stopped by its own pid, never by name.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { onCleanup } from './cleanup.js';

/** SIGTERM (or the given signal) first; SIGKILL if the child is still there after this. */
const killGraceMs = 5_000;

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr, when not logged to a file. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnTrackedOptions extends SpawnOptions {
  /** Append stdout and stderr to this file instead of keeping them in memory. */
  logFile?: string;
  /** Signal for a graceful stop (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
}

export function spawnTracked(name: string, command: string, args: string[], opts: SpawnTrackedOptions = {}): Child {
  const proc = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = proc.pid;
  let buffered = '';
  const bufferedMax = 64 * 1024;
  if (opts.logFile !== undefined) {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
  } else {
    const keep = (chunk: Buffer) => { buffered = (buffered + chunk.toString('utf8')).slice(-bufferedMax); };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }
  let alive = true;
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => { alive = false; resolve(code); });
    proc.once('error', () => { alive = false; resolve(null); });
  });
  const stopSignal = opts.stopSignal ?? 'SIGTERM';
  const stop = async (signal: NodeJS.Signals = stopSignal): Promise<void> => {
    if (!alive) return;
    proc.kill(signal);
    const timer = setTimeout(() => { if (alive) proc.kill('SIGKILL'); }, killGraceMs);
    await exited;
    clearTimeout(timer);
  };
  const forget = onCleanup({
    what: `stop ${name} (pid ${pid})`,
    run: () => stop(),
    runSync: () => { if (alive) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } },
  });
  void exited.then(forget);
  return { name, proc, pid, exited, output: () => buffered, stop };
}

/** Resolves when the child prints a line matching `pattern`; rejects if it exits first or after timeoutMs. */
export function waitForLine(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const m = pattern.exec(seen);
      if (m) done(() => resolve(m));
    };
    const timer = setTimeout(() => done(() => reject(new Error(`${child.name}: not ready within ${timeoutMs} ms; it printed: ${tail(seen || child.output())}`))), timeoutMs);
    const done = (then: () => void) => {
      clearTimeout(timer);
      child.proc.stdout?.off('data', onData);
      then();
    };
    child.proc.stdout?.on('data', onData);
    void child.exited.then((code) => done(() => reject(new Error(`${child.name}: exited with code ${code} before it was ready; it printed: ${tail(seen || child.output())}`))));
  });
}

function tail(text: string): string {
  const t = text.trim();
  return t.length > 2_000 ? `…${t.slice(-2_000)}` : t || '(nothing)';
}
