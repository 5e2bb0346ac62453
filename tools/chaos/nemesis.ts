// Carries out the plan on real processes: kill -9 and SIGSTOP/SIGCONT by pid (from pm2), pm2
// stop/start by name, partitions and loss through this run's nft table. Every fault is undone at
// the end of its band; anything still in force when the run stops (Ctrl-C, an error) is undone by
// the cleanup handlers (SIGCONT before the pm2 daemon is killed; the nft table deleted).
import { performance } from 'node:perf_hooks';
import { onCleanup, shutdownSignal } from '../bench/cleanup.js';
import type { Cluster } from '../bench/cluster.js';
import { cutRules, lossRules, type NftTable } from './nft.js';
import type { Band } from './schedule.js';

/** A band as it happened: ms since the run started, and what went wrong doing it. */
export interface FaultRecord {
  kind: Band['kind'];
  label: string;
  startMs: number;
  endMs: number;
  error: string | null;
}

export class Nemesis {
  /** SIGCONT for each paused pid, also registered for cleanup. */
  private readonly paused = new Map<number, () => void>();
  private readonly stopped = new Set<string>();
  private rulesInForce = false;
  readonly records: FaultRecord[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly nft: NftTable | null,
    private readonly t0: number,
    private readonly log: (line: string) => void,
  ) {}

  private port(name: string): number {
    const n = this.cluster.config.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`nemesis: no replica ${name}`);
    return n.port;
  }

  private async pidOf(name: string): Promise<number> {
    const p = (await this.cluster.replicaPids()).find((x) => x.name === name);
    if (p === undefined) throw new Error(`${name} is not online under pm2`);
    return p.pid;
  }

  /** Runs every band at its time; stops early (healing what is in force) when the run is interrupted. */
  async run(bands: readonly Band[]): Promise<void> {
    for (const b of bands) {
      if (!(await this.sleepUntil(b.startS))) break;
      const rec: FaultRecord = { kind: b.kind, label: b.label, startMs: this.now(), endMs: this.now(), error: null };
      this.records.push(rec);
      try {
        await this.begin(b);
        // The band starts when the fault is in force (finding a pid through pm2 takes a while).
        rec.startMs = this.now();
        this.log(`${(rec.startMs / 1000).toFixed(1)} s: ${b.label}`);
      } catch (e) {
        rec.error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
        this.log(`${(rec.startMs / 1000).toFixed(1)} s: ${b.label}: could not start: ${rec.error}`);
      }
      // Interrupted: the cleanup handlers undo what is in force (and may have already).
      if (!(await this.sleepUntil(b.endS))) break;
      try {
        await this.end(b);
      } catch (e) {
        rec.error ??= `undo: ${e instanceof Error ? e.message.split('\n')[0]! : String(e)}`;
        this.log(`${b.label}: could not undo: ${rec.error}`);
      }
      rec.endMs = this.now();
      if (shutdownSignal.aborted) break;
    }
  }

  async begin(b: Band): Promise<void> {
    switch (b.kind) {
      case 'kill': {
        const pids = await Promise.all(b.targets.map((t) => this.pidOf(t)));
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        return; // pm2 restarts it; the replica replays its log.
      }
      case 'stop':
        for (const t of b.targets) this.stopped.add(t);
        await this.cluster.pm2(['stop', ...b.targets]);
        return;
      case 'pause': {
        const pids = await Promise.all(b.targets.map((t) => this.pidOf(t)));
        for (const pid of pids) this.pause(pid);
        return;
      }
      case 'partition':
        await this.setRules(cutRules(b.cuts.map(([from, to]) => ({ from: this.port(from), to: this.port(to) }))));
        return;
      case 'loss':
        await this.setRules(lossRules(this.cluster.config.nodes.map((n) => n.port), b.lossPercent));
        return;
    }
  }

  async end(b: Band): Promise<void> {
    switch (b.kind) {
      case 'kill':
        return;
      case 'stop':
        for (const t of b.targets) {
          await this.cluster.pm2(['start', t]);
          this.stopped.delete(t);
        }
        return;
      case 'pause':
        this.resumeAll();
        return;
      case 'partition':
      case 'loss':
        await this.clearRules();
        return;
    }
  }

  /** Undoes whatever is still in force: resumes paused replicas, starts stopped ones, clears the rules. */
  async healAll(): Promise<void> {
    this.resumeAll();
    for (const t of [...this.stopped]) {
      await this.cluster.pm2(['start', t]);
      this.stopped.delete(t);
    }
    await this.clearRules();
  }

  private pause(pid: number): void {
    const resume = () => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone already: nothing to resume.
      }
    };
    const forget = onCleanup({ what: `SIGCONT pid ${pid}`, run: async () => resume(), runSync: resume });
    process.kill(pid, 'SIGSTOP');
    this.paused.set(pid, () => { resume(); forget(); });
  }

  private resumeAll(): void {
    for (const [pid, resume] of this.paused) {
      resume();
      this.paused.delete(pid);
    }
  }

  private async setRules(rules: string[]): Promise<void> {
    if (this.nft === null) throw new Error('packet faults need nft (not usable here)');
    this.rulesInForce = true;
    await this.nft.set(rules);
  }

  private async clearRules(): Promise<void> {
    if (this.nft === null || !this.rulesInForce) return;
    await this.nft.clear();
    this.rulesInForce = false;
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  /** false when interrupted first. */
  private async sleepUntil(s: number): Promise<boolean> {
    const ms = s * 1000 - this.now();
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const onAbort = () => { clearTimeout(timer); resolve(); };
        const timer = setTimeout(() => { shutdownSignal.removeEventListener('abort', onAbort); resolve(); }, ms);
        shutdownSignal.addEventListener('abort', onAbort, { once: true });
      });
    }
    return !shutdownSignal.aborted;
  }
}
