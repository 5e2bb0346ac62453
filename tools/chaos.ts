// ringkv under faults on real processes, in the manner of Jepsen: `npm run chaos -- --help`.
//   npm run chaos -- --seconds 120 --faults kill,stop,pause,partition,loss --repair-mode read-repair
// Starts a temporary cluster of its own (ports --port-base+1.., data dir and PM2_HOME in a temp
// dir), runs concurrent clients while a seeded nemesis injects faults, heals, lets the replicas
// converge, and checks the recorded history. Exit 0 only when every check passes; everything it
// started (pm2 daemon, paused processes, nft table, temp dir) is undone at the end, also on Ctrl-C.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KvClient } from '../src/client/client.js';
import type { Level } from '../src/core/types.js';
import { installCleanupHandlers, runMain, shutdownSignal } from './bench/cleanup.js';
import { Cluster, removeAtCleanup, repoRoot } from './bench/cluster.js';
import { checkConverged } from './chaos/check/converged.js';
import { finalState } from './chaos/check/final-state.js';
import { checkInvented } from './chaos/check/invented.js';
import { checkLinearizable } from './chaos/check/linearizable.js';
import { checkLost } from './chaos/check/lost.js';
import { checkAppliedOnce } from './chaos/check/once.js';
import type { CheckResult } from './chaos/check/result.js';
import { acksOf, checkStale } from './chaos/check/stale.js';
import { replicaSets, settleAndRead, type FinalOutcome } from './chaos/final.js';
import { toJsonLines, type Op } from './chaos/history.js';
import { Nemesis } from './chaos/nemesis.js';
import { NftTable, nftUnusable } from './chaos/nft.js';
import { parseChaosOptions, type ChaosOptions } from './chaos/options.js';
import { planFaults, type Band } from './chaos/schedule.js';
import { chaosSvg } from './chaos/svg.js';
import { perSecond, throughputByFault } from './chaos/timeline.js';
import { HistoryRecorder, runClient, spreadKeys } from './chaos/workload.js';
import { textKeys } from './workload-keys.js';
import { withPartitioner } from './bench/cluster.js';
import type { Key } from '../src/core/types.js';

const log = (line: string) => process.stderr.write(`chaos: ${line}\n`);
/** After healing, how long the replicas get to be UP again in every replica's view. */
const healedWithinMs = 30_000;

/** The repair mode and the partitioner are the cluster file's, so every replica starts in them. */
function sourceConfig(o: ChaosOptions, tempDir: string): string {
  const from = resolve(o.config ?? join(repoRoot, 'nodes.toml'));
  const text = readFileSync(from, 'utf8');
  if (!/^\s*repair_mode\s*=/m.test(text)) throw new Error(`${from}: no repair_mode line to set`);
  const path = join(tempDir, 'source.toml');
  const edited = text.replace(/^(\s*repair_mode\s*=\s*).*$/m, (_, head: string) => `${head}${JSON.stringify(o.repairMode)}`);
  writeFileSync(path, withPartitioner(edited, o.partitioner));
  return path;
}

async function main(): Promise<number> {
  const o = await parseChaosOptions();
  installCleanupHandlers();
  const packetFaults: string[] = o.faults.filter((f) => f === 'partition' || f === 'loss');
  if (packetFaults.length > 0) {
    const why = await nftUnusable();
    if (why !== null) throw new Error(`${packetFaults.join(' and ')} need nftables: ${why}. Leave them out with --faults ${o.faults.filter((f) => !packetFaults.includes(f)).join(',') || '""'}`);
  }
  const outDir = resolve(o.out ?? join('chaos-results', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(outDir, { recursive: true });
  const tempDir = mkdtempSync(join(tmpdir(), 'ringkv-chaos-'));
  removeAtCleanup(tempDir);
  const cluster = await Cluster.startTemporary(sourceConfig(o, tempDir), tempDir, o.portBase, log, { build: o.build });
  const nft = packetFaults.length > 0 ? await NftTable.create() : null;
  const coordinators = o.coordinators ?? cluster.names;
  for (const c of coordinators) if (!cluster.names.includes(c)) throw new Error(`--coordinators: no replica ${c} (replicas: ${cluster.names.join(', ')})`);
  const keys: Key[] = o.partitioner === 'hashed' ? textKeys(o.keys) : spreadKeys(o.keys);
  const bands = planFaults({ seed: o.seed, seconds: o.seconds, kinds: o.faults, replicas: cluster.names, leadS: o.leadS, bandS: o.bandS, quietS: o.quietS, lossPercent: o.lossPercent });
  const header = `seed ${o.seed}, ${o.seconds} s, ${o.clients} clients at read ${o.readLevel} / write ${o.writeLevel} through ${coordinators.join(', ')}, ` +
    `${keys.length} ${o.partitioner === 'hashed' ? 'hashed text ' : ''}keys, repair ${o.repairMode}, faults ${o.faults.join(',') || 'none'} (${bands.length} bands)`;
  log(header);

  const clients: KvClient[] = await Promise.all(Array.from({ length: o.clients }, (_, i) => cluster.client(coordinators[i % coordinators.length]!)));
  const t0 = performance.now();
  const rec = new HistoryRecorder(t0);
  const nemesis = new Nemesis(cluster, nft, t0, log);
  const stop = new AbortController();
  shutdownSignal.addEventListener('abort', () => stop.abort(), { once: true });
  const loops = clients.map((c, i) => runClient(i, c, { seed: o.seed, keys, readLevel: o.readLevel, writeLevel: o.writeLevel, readShare: 0.5 }, rec, stop.signal));
  const faults = nemesis.run(bands);
  await new Promise<void>((r) => {
    const timer = setTimeout(r, o.seconds * 1000);
    stop.signal.addEventListener('abort', () => { clearTimeout(timer); r(); }, { once: true });
  });
  stop.abort();
  await Promise.all([...loops, faults]);
  const runMs = rec.now();
  if (shutdownSignal.aborted) return 130;

  log('healing: every fault undone');
  await nemesis.healAll();
  try {
    await cluster.waitServing(healedWithinMs);
  } catch (e) {
    log(`after healing: ${e instanceof Error ? e.message : String(e)}`);
  }
  // Hashed: the keys some operation touched are checked (the others were never written anywhere).
  const checked = o.partitioner === 'hashed' ? [...new Set(rec.ops.map((op) => op.key))] : keys;
  const settled = await settleAndRead(clients[0]!, rec, { keys: checked, repairMode: o.repairMode, convergenceWaitMs: o.convergenceWaitMs }, log);
  await Promise.all(clients.map((c) => c.close()));

  const ops = rec.ops;
  const timing = { boundedIndeterminate: o.boundedIndeterminate };
  const rf = cluster.config.replicationFactor;
  const final = finalState(ops, checked, replicaSets(cluster.config));
  log('checking the history');
  const checkStartedMs = performance.now();
  const checks: CheckResult[] = [
    checkLost(ops, final, timing),
    checkStale(ops, rf, timing),
    checkInvented(ops),
    checkConverged(final),
    checkAppliedOnce(ops),
    checkLinearizable(ops, rf, { ...timing, statesMax: o.statesMax, notPromised: linearizabilityNotPromised(cluster.config, o.readLevel) }),
  ];
  log(`checked ${ops.length.toLocaleString('en-US')} operations in ${((performance.now() - checkStartedMs) / 1000).toFixed(1)} s`);
  const rows = perSecond(ops, runMs / 1000);
  writeFileSync(join(outDir, 'history.jsonl'), toJsonLines(ops));
  writeFileSync(join(outDir, 'timeline.svg'), chaosSvg('ringkv chaos: throughput and latency under faults', header, rows, nemesis.records, ops));
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify({ options: { ...o, argv: undefined }, argv: o.argv, bands, faults: nemesis.records, settled, checks }, null, 2) + '\n');
  if (cluster.pm2Home !== undefined) {
    try {
      cpSync(join(cluster.pm2Home, 'logs'), join(outDir, 'logs'), { recursive: true });
    } catch {
      // No logs written yet: nothing to keep.
    }
  }
  process.stdout.write(reportText(header, ops, runMs, bands, nemesis, settled, checks, outDir));
  return checks.every((c) => c.pass) ? 0 : 1;
}

/** Only blocking read repair keeps a QUORUM read from going back in time while a write is in flight. */
function linearizabilityNotPromised(config: Cluster['config'], readLevel: Level): string | undefined {
  if (config.repairMode === 'hinted-handoff') return 'hinted-handoff mode does no read repair, so one read may see a write in flight and the next not';
  if (!config.readRepairBlocking) return 'read repair is not blocking';
  if (acksOf(readLevel, config.replicationFactor) === 1) return `reads at ${readLevel} answer from one replica, before any repair`;
  return undefined;
}

function reportText(header: string, ops: readonly Op[], runMs: number, bands: readonly Band[], nemesis: Nemesis, settled: FinalOutcome, checks: readonly CheckResult[], outDir: string): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const runOps = ops.filter((x) => x.phase === 'run');
  const count = (k: Op['outcome']) => runOps.filter((x) => x.outcome === k).length;
  const lines = ['', `ringkv chaos: ${header}`, 'faults:'];
  for (const f of nemesis.records) lines.push(`  ${(f.startMs / 1000).toFixed(1).padStart(6)} – ${(f.endMs / 1000).toFixed(1).padStart(6)} s  ${f.label}${f.error ? `  (${f.error})` : ''}`);
  if (bands.length === 0) lines.push('  none');
  lines.push(`operations: ${n(runOps.length)} in ${(runMs / 1000).toFixed(1)} s (ok ${n(count('ok'))}, fail ${n(count('fail'))}, indeterminate ${n(count('indeterminate'))}); successful per second:`);
  lines.push(`  ${throughputByFault(ops, nemesis.records, runMs).map((t) => `${t.kind} ${t.okPerSec.toFixed(0)} (${t.seconds.toFixed(1)} s)`).join(', ')}`);
  lines.push(`after healing: ${settled.convergedAfterMs === null ? 'replicas did not converge within the wait' : `replicas agreed ${n(Math.round(settled.convergedAfterMs))} ms into the final phase`}` +
    `${settled.hintsPendingAtEnd === null ? '' : `, hints pending ${settled.hintsPendingAtEnd}`}; ${n(ops.length - runOps.length)} final reads`);
  lines.push('checks:');
  for (const c of checks) {
    lines.push(`  ${c.applicable ? (c.pass ? 'PASS' : 'FAIL') : 'n/a '} ${c.name}: ${c.figure}`);
    for (const p of c.problems) lines.push(`         ${p}`);
    if (c.more > 0) lines.push(`         … and ${n(c.more)} more`);
  }
  lines.push(`history ${join(outDir, 'history.jsonl')}, timeline ${join(outDir, 'timeline.svg')}, replica logs ${join(outDir, 'logs')}`);
  const verdict = checks.every((c) => c.pass) ? 'PASS' : 'FAIL';
  lines.push(`chaos: ${verdict}: ${n(runOps.length)} ops (ok ${n(count('ok'))}, fail ${n(count('fail'))}, indeterminate ${n(count('indeterminate'))}); ` +
    checks.map((c) => `${c.name} ${c.applicable ? (c.pass ? 'pass' : 'FAIL') : 'n/a'}`).join('; ') +
    `; linearizable ${checks.at(-1)!.figure}`);
  return lines.join('\n') + '\n';
}

await runMain('chaos', main);
