// ringkv's benchmark, in the style of YCSB and cassandra-stress: `npm run bench -- --help`.
//   npm run bench -- --start --workload W --cl QUORUM --baseline limit --baseline etcd
// Drives the running cluster (nodes.toml), or with --start a temporary one of its own; optional
// baselines run in the same invocation with the same workload: bare UDP echo processes in ringkv's
// layout (`limit`) and a three-member etcd (`etcd`). Everything it starts is stopped at the end.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { installCleanupHandlers, runMain } from './bench/cleanup.js';
import { Cluster, RingkvTarget, removeAtCleanup, repoRoot } from './bench/cluster.js';
import { runClosedLoop, type RunPlan, type RunResult } from './bench/driver.js';
import { ensureEtcd, startEtcd } from './bench/etcd.js';
import { messageSizes, putRecordBytes, startLimit } from './bench/limit.js';
import { parseOptions, opsTimeCapS, type BaselineName, type BenchOptions } from './bench/options.js';
import { heapText, keepProfile, profileText, startProfiledReplica, summarizeHeap, summarizeProfile, type HeapSummary, type ProfiledReplica, type ProfileSummary } from './bench/profile.js';
import { formatRate, opTables, processTable, ratios, runSummary } from './bench/report.js';
import { allocText, startAllocProfiles } from './bench/alloc.js';
import { compareBuilds, compareText } from './bench/compare.js';
import { floorScenario } from './bench/floor.js';
import { shellScenario } from './bench/shell-scenario.js';
import { hintsScenario, restartScenario, type HintsResult, type RestartResult } from './bench/scenarios.js';
import { timelineSvg } from './bench/svg.js';
import { machineCpuSeconds } from './bench/proc.js';
import { allKeys, workloadText } from './bench/workload.js';
import { textKeys } from './workload-keys.js';
import type { Key } from '../src/core/types.js';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<number> {
  const o = await parseOptions();
  installCleanupHandlers();
  if (o.compare !== undefined) {
    const result = await compareBuilds(o.compare, o.rounds, o.argv, log);
    process.stdout.write(`\n${compareText(result)}\n`);
    if (o.json !== undefined) writeOut(o.json, JSON.stringify({ tool: 'ringkv bench --compare', startedAt: new Date().toISOString(), argv: o.argv, ...result }, null, 2) + '\n');
    return 0;
  }
  const busyBeforePercent = await machineBusyPercent();
  // Before anything starts: a missing etcd is found now, not after the ringkv run.
  const etcdBin = o.baselines.includes('etcd') && o.scenario === undefined ? ensureEtcd(o.etcdBin, log) : null;
  const tempDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-'));
  removeAtCleanup(tempDir);
  if (o.scenario === 'floor') {
    const datagramBytes = messageSizes(o.valueBytes, o.readLevel, o.writeLevel, 'replica-1').clientWrite;
    const floor = await floorScenario(tempDir, { samples: 2_000, datagramBytes, recordBytes: putRecordBytes(o.valueBytes), valueBytes: o.valueBytes }, log);
    const q = (x: { p50: number; p99: number }) => `p50 ${x.p50} µs, p99 ${x.p99} µs`;
    process.stdout.write(`\nringkv bench: the floor of one put at a time, each part alone (${floor.samples} samples)\n` +
      `  datagram round trip between two processes on 127.0.0.1: ${q(floor.roundTripUs)}\n` +
      `  O_DSYNC write of one record (fs/promises, a thread-pool trip): ${q(floor.dsyncWriteUs)}\n` +
      `  O_DSYNC write of one record (writeSync on the event loop): ${q(floor.dsyncWriteSyncUs)}\n` +
      `  a QUORUM put needs 2 round trips + 1 durable write: ${floor.putFloorP50Us} µs at the p50s\n` +
      `  on one machine its replicas share the disk: an O_DSYNC write while 2 other processes write: ${q(floor.sharedDiskWriteUs)}\n` +
      `  and a process woken for one request runs cold: a replica write's codec work back to back ${q(floor.codecWarmUs)}, after a 1 ms sleep ${q(floor.codecAfterSleepUs)}\n`);
    const report = { tool: 'ringkv bench', startedAt: new Date().toISOString(), argv: o.argv, machine: { cpus: cpus().length, node: process.version, busyBeforePercent }, scenario: { floor } };
    if (o.json !== undefined) writeOut(o.json, JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  const configPath = resolve(o.config ?? process.env.KV_CONFIG ?? join(repoRoot, 'nodes.toml'));

  const cluster = o.start
    ? await Cluster.startTemporary(configPath, tempDir, o.portBase, log, o.partitioner === undefined ? {} : { partitioner: o.partitioner })
    : await Cluster.existing(configPath);
  if (o.coordinator !== undefined && !cluster.names.includes(o.coordinator)) {
    throw new Error(`--coordinator: no replica ${o.coordinator} in ${cluster.configPath} (replicas: ${cluster.names.join(', ')})`);
  }
  const coordinators = o.coordinator !== undefined ? [o.coordinator] : cluster.names;
  const report: Record<string, unknown> = {
    tool: 'ringkv bench', startedAt: new Date().toISOString(), argv: o.argv,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, busyBeforePercent },
    source: sourceInfo(),
    options: { ...o, argv: undefined }, cluster: { config: cluster.configPath, temporary: cluster.temporary, replicas: cluster.names, replicationFactor: cluster.config.replicationFactor },
  };
  if (o.scenario === 'restart') await runRestartScenario(o, cluster, coordinators, report);
  else if (o.scenario === 'shell') await runShellScenario(o, cluster, coordinators[0]!, tempDir, report);
  else await runWorkload(o, cluster, coordinators, tempDir, etcdBin, report);
  if (o.json !== undefined) writeOut(o.json, JSON.stringify(report, null, 2) + '\n');
  return 0;
}

async function runRestartScenario(o: BenchOptions, cluster: Cluster, coordinators: string[], report: Record<string, unknown>): Promise<void> {
  const restart = await restartScenario(cluster, o, coordinators, log);
  const hints = await hintsScenario(cluster, o, log);
  process.stdout.write(`${scenarioText(o, restart, hints)}\n`);
  report.scenario = { restart, hints };
  if (o.svg !== undefined) {
    writeOut(o.svg, timelineSvg('ringkv restart scenario: writes before the restart, then writes while a replica is down', [
      { label: `fill (${o.writeLevel})`, timeline: restart.writes.timeline }, { label: `writes, ${o.hintReplica} down`, timeline: hints.writes.timeline },
    ]));
  }
}

async function runShellScenario(o: BenchOptions, cluster: Cluster, coordinator: string, tempDir: string, report: Record<string, unknown>): Promise<void> {
  const runs = await shellScenario(cluster, tempDir, { shellLines: o.shellLines, shellRuns: o.shellRuns, valueBytes: o.valueBytes, coordinator, warmupS: o.warmupS }, log);
  const rates = runs.map((r) => r.opsPerSec).sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  process.stdout.write(`\nringkv bench: piped kvc shell, ${o.shellLines.toLocaleString('en-US')} alternating put/get lines at QUORUM via ${coordinator}, ` +
    `wall time from spawn to exit\n${runs.map((r, i) => `  run ${i + 1}: ${r.wallMs.toFixed(0)} ms, ${formatRate(r.opsPerSec)} ops/s, exit ${r.exitCode}`).join('\n')}\n` +
    `  median ${formatRate(median)} ops/s\n`);
  report.scenario = { shell: runs, medianOpsPerSec: median };
}

/** The time of one durable log write, how many records it carried and the time to handle one datagram, as each replica reports them to pm2. */
async function replicaWork(cluster: Cluster): Promise<{ replica: string; logWriteP50Ms: number; logWriteP99Ms: number; recordsPerWrite: number; datagramP50Ms: number; datagramP99Ms: number; text: string }[]> {
  const metrics = await cluster.replicaMetrics();
  return Object.entries(metrics).filter(([, m]) => typeof m['log write p50'] === 'number').map(([replica, m]) => {
    const logWriteP50Ms = Number(m['log write p50']), logWriteP99Ms = Number(m['log write p99']), recordsPerWrite = Number(m['records per log write']);
    const datagramP50Ms = Number(m['datagram handling p50']), datagramP99Ms = Number(m['datagram handling p99']);
    return {
      replica, logWriteP50Ms, logWriteP99Ms, recordsPerWrite, datagramP50Ms, datagramP99Ms,
      text: `${replica}: log write p50 ${logWriteP50Ms.toFixed(3)} ms, p99 ${logWriteP99Ms.toFixed(3)} ms, ${recordsPerWrite} records/write; ` +
        `datagram handled in p50 ${(datagramP50Ms * 1000).toFixed(0)} µs, p99 ${(datagramP99Ms * 1000).toFixed(0)} µs`,
    };
  });
}

/** ringkv first (a broken cluster shows before the baselines spend their time), then each baseline alone on the machine. */
async function runWorkload(o: BenchOptions, cluster: Cluster, coordinators: string[], tempDir: string, etcdBin: string | null, report: Record<string, unknown>): Promise<void> {
  const hashedKeys = cluster.config.partitioner === 'hashed';
  if (hashedKeys && o.baselines.length > 0) throw new Error('--baseline: the baselines speak the byte-ordered protocol; run them without --partitioner hashed');
  if (!hashedKeys && (o.keys ?? 256) > 256) throw new Error(`--keys: at most 256 on the byte-ordered ring (${cluster.configPath}); --start --partitioner hashed for more`);
  const keys: Key[] = hashedKeys ? textKeys(o.keys ?? 256) : allKeys().slice(0, o.keys ?? 256);
  const plan: RunPlan = {
    keys,
    workload: { name: o.workload, distribution: o.distribution, valueBytes: o.valueBytes, seed: o.seed },
    concurrency: o.concurrency, warmupS: o.warmupS, durationS: o.durationS, ops: o.ops, opsTimeCapS, progress: o.progress,
  };
  const keysText = hashedKeys ? `over ${keys.length.toLocaleString('en-US')} hashed text keys` : `keys 0..${keys.length - 1}`;
  const header = `workload ${o.workload} (${workloadText[o.workload]}), ${o.distribution} ${keysText}, ${o.valueBytes}-byte values, ` +
    `read ${o.readLevel} / write ${o.writeLevel}, ${o.concurrency} in flight over ${coordinators.length === 1 ? coordinators[0] : `${coordinators.length} coordinators`}` +
    `${o.clientsPerCoordinator > 1 ? ` (${o.clientsPerCoordinator} clients each)` : ''}, ` +
    `${o.warmupS} s warm-up + ${o.ops === null ? `${o.durationS} s` : `${o.ops.toLocaleString('en-US')} ops`}`;
  log(header);

  const profiled = o.profile !== undefined ? await startProfiledReplica(cluster, o.profile, tempDir, log) : null;
  const alloc = o.profileAlloc ? await startAllocProfiles(cluster, tempDir, log) : null;
  const target = await RingkvTarget.open(cluster, coordinators, o.clientsPerCoordinator, o.readLevel, o.writeLevel,
    profiled ? [{ name: `${profiled.name} (cpu-prof)`, pid: profiled.child.pid }] : []);
  let ringkv: RunResult;
  try {
    ringkv = await runClosedLoop(target, alloc !== null ? { ...plan, onWindow: alloc.onWindow } : plan);
  } finally {
    await target.close();
  }
  log(runSummary(ringkv));
  const work = await replicaWork(cluster);
  if (work.length > 0) {
    log(`each replica's own figures (pm2 metrics, over the last 10-20 s; records per write since start):\n  ${work.map((d) => d.text).join('\n  ')}`);
    report.replicas = work.map(({ text: _, ...figures }) => figures);
  }
  const profile = profiled ? await finishProfile(o, profiled, ringkv) : null;
  const allocated = alloc !== null ? await alloc.finish(ringkv.total.count) : null;
  // The temporary cluster would only idle during the baselines: stop it so each has the machine alone.
  if (cluster.temporary && o.baselines.length > 0) await cluster.pm2(['stop', 'all']);

  const baselines: RunResult[] = [];
  for (const b of o.baselines) {
    baselines.push(await runBaseline(b, o, plan, cluster, coordinators, tempDir, etcdBin));
    log(runSummary(baselines.at(-1)!));
  }

  const out = [
    '', `ringkv bench: ${header}`, '', opTables(ringkv, baselines), '', processTable([ringkv, ...baselines]),
    ...(profile ? ['', profileText(o.profile!, profile.summary, profile.path)] : []),
    ...(profile?.heap ? ['', heapText(o.profile!, profile.heap.summary, profile.heap.path)] : []),
    ...(allocated !== null ? ['', allocText(allocated, ringkv.total.count)] : []),
  ];
  process.stdout.write(out.join('\n') + '\n');

  report.runs = { ringkv, ...Object.fromEntries(baselines.map((b) => [b.target, b])) };
  report.ratios = Object.fromEntries(baselines.map((b) => [b.target, ratios(ringkv, b)]));
  if (profile) report.profile = profile;
  if (allocated !== null) report.allocated = allocated;
  if (o.svg !== undefined) {
    writeOut(o.svg, timelineSvg(`ringkv bench: workload ${o.workload}, ${o.writeLevel === o.readLevel ? o.writeLevel : `read ${o.readLevel}, write ${o.writeLevel}`}, ${o.concurrency} in flight`,
      [ringkv, ...baselines].map((r) => ({ label: r.target, timeline: r.timeline }))));
  }
}

async function runBaseline(b: BaselineName, o: BenchOptions, plan: RunPlan, cluster: Cluster, coordinators: string[], tempDir: string, etcdBin: string | null): Promise<RunResult> {
  if (b === 'limit' || b === 'limit-durable') {
    const sizes = messageSizes(o.valueBytes, o.readLevel, o.writeLevel, coordinators[0]!);
    const lanes = coordinators.length * o.clientsPerCoordinator;
    const replicas = cluster.config.replicationFactor;
    const durable = b === 'limit-durable' ? { dir: tempDir, recordBytes: putRecordBytes(o.valueBytes) } : undefined;
    log(`${b} baseline: ${lanes} echo coordinators + ${replicas} echo replicas, datagram bytes ${JSON.stringify(sizes)}` +
      (durable ? `; each replica appends a ${durable.recordBytes}-byte record per write to an O_DSYNC file in ${tempDir}, one write per turn` : ''));
    const limit = await startLimit({ coordinators: lanes, readLevel: o.readLevel, writeLevel: o.writeLevel, sizes, replicas, portBase: o.portBase + 100, log: durable });
    try {
      return await runClosedLoop(limit, plan);
    } finally {
      await limit.close();
    }
  }
  const lanes = Math.min(3, coordinators.length);
  log(`etcd baseline: 3 members on 127.0.0.1:${o.portBase + 200}-${o.portBase + 202}, load over ${lanes}; reads ${o.readLevel === 'ONE' ? 'serializable' : 'linearizable'}`);
  const etcd = await startEtcd({ tempDir, portBase: o.portBase + 200, lanes, readLevel: o.readLevel, etcdBin: etcdBin ?? ensureEtcd(o.etcdBin, log) });
  try {
    return await runClosedLoop(etcd, plan);
  } finally {
    await etcd.close();
  }
}

interface KeptProfile { path: string; summary: ProfileSummary; heap: { path: string; summary: HeapSummary } | null }

/** Stops the profiled replica, keeps its cpu profile and heap snapshot, and summarizes both over the measured window. */
async function finishProfile(o: BenchOptions, profiled: ProfiledReplica, ringkv: RunResult): Promise<KeptProfile> {
  const raw = await profiled.stop();
  const base = resolve(o.profileOut ?? join('bench-results', `${profiled.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`));
  const kept = keepProfile(raw.cpuProfile, base);
  let heap: KeptProfile['heap'] = null;
  if (raw.heapSnapshot !== null) {
    const heapPath = keepProfile(raw.heapSnapshot, base.replace(/\.cpuprofile$/, '') + '.heapsnapshot');
    heap = { path: heapPath, summary: summarizeHeap(heapPath) };
  }
  return { path: kept, summary: summarizeProfile(kept, ringkv.windowMonoUs), heap };
}

function scenarioText(o: BenchOptions, r: RestartResult, h: HintsResult): string {
  const ms = (v: number | null) => (v === null ? 'never (timed out)' : `${v.toLocaleString('en-US')} ms`);
  return [
    '', `ringkv bench: restart scenario (${o.valueBytes}-byte values, writes at ${o.writeLevel}, ${o.concurrency} in flight)`,
    `restart of ${r.comeBack.replica} after ${r.writes.total.count.toLocaleString('en-US')} writes (${formatRate(r.writes.total.opsPerSec)} ops/s, ${r.writes.total.errorCount} errors):`,
    `  data dir at stop ${(r.dataBytesAtStop / 1e6).toFixed(1)} MB; pm2 stop took ${r.stopMs} ms`,
    `  serving (answers local) ${ms(r.comeBack.fromProcessStartMs)} after its process started, ${ms(r.comeBack.fromPm2StartMs)} after \`pm2 start\` was issued   (target: within 2 s)`,
    `  ${r.replayLine ?? '(no log-replayed line found in the pm2 log)'}`,
    `hints for ${h.replica}, down for ${h.writes.total.count.toLocaleString('en-US')} writes to its ${h.keys} keys (${formatRate(h.writes.total.opsPerSec)} ops/s, ${h.writes.total.errorCount} errors):`,
    `  hints pending on the other replicas before its start: ${h.hintsPendingAtStart}`,
    `  serving ${ms(h.comeBack.fromProcessStartMs)} after its process started (${ms(h.comeBack.fromPm2StartMs)} after \`pm2 start\`)`,
    `  every missed key at its newest acked write ${ms(h.allDeliveredFromProcessStartMs)} after its process started (${ms(h.allDeliveredFromPm2StartMs)} after \`pm2 start\`)   (target: within 2 s)`,
    ...(h.keysBehindAtTimeout > 0 ? [`  ${h.keysBehindAtTimeout} keys still behind when the wait ended`] : []),
    `  hints still pending afterwards: ${h.hintsPendingAfter}`,
    '', processTable([{ ...r.writes, target: 'fill' }, { ...h.writes, target: 'hints' }]),
  ].join('\n');
}

/** What was measured: the commit, files changed since, and a hash of src/ (which kvd was built from). */
function sourceInfo(): Record<string, unknown> {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) hash.update(p.slice(repoRoot.length)).update(readFileSync(p));
    }
  };
  walk(join(repoRoot, 'src'));
  return { commit: git(['rev-parse', 'HEAD']), changed: git(['status', '--porcelain'])?.split('\n').filter((l) => l !== '') ?? null, srcSha256: hash.digest('hex') };
}

/** The machine's CPU use over one second before the run (other work makes every figure noisy). */
async function machineBusyPercent(): Promise<number | null> {
  const a = machineCpuSeconds();
  await new Promise((r) => setTimeout(r, 1_000));
  const b = machineCpuSeconds();
  if (a === null || b === null) return null;
  const busy = (b.busy - a.busy) * 100;
  if (busy > 20) log(`the machine was ${busy.toFixed(0)}% busy (of ${cpus().length * 100}%) before the run: other work makes the figures noisy`);
  return busy;
}

function writeOut(path: string, text: string): void {
  writeFileSync(path, text);
  log(`wrote ${path}`);
}

await runMain('bench', main);
