// Command line of `npm run bench -- …`.
import { partitioners, type PartitionerName } from '../../src/core/keyspace.js';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { Level } from '../../src/core/types.js';
import { levelOptions, levelsOf } from './level-options.js';
import { distributions, workloadNames, type Distribution, type WorkloadName } from './workload.js';

export const baselineNames = ['limit', 'limit-durable', 'etcd'] as const;
export type BaselineName = (typeof baselineNames)[number];
export const scenarioNames = ['restart', 'shell', 'floor'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface BenchOptions {
  config: string | undefined;
  start: boolean;
  workload: WorkloadName;
  distribution: Distribution;
  /** How many keys the workload draws from (default: 256); their kind is the cluster's partitioner's. */
  keys: number | undefined;
  /** With --start: the temporary cluster's partitioner. */
  partitioner: PartitionerName | undefined;
  valueBytes: number;
  readLevel: Level;
  writeLevel: Level;
  concurrency: number;
  coordinator: string | undefined;
  clientsPerCoordinator: number;
  durationS: number;
  ops: number | null;
  warmupS: number;
  baselines: BaselineName[];
  scenario: ScenarioName | undefined;
  restartWrites: number;
  restartReplica: string;
  hintWrites: number;
  hintReplica: string;
  shellLines: number;
  shellRuns: number;
  profile: string | undefined;
  profileOut: string | undefined;
  profileAlloc: boolean;
  json: string | undefined;
  svg: string | undefined;
  portBase: number;
  seed: number;
  progress: boolean;
  etcdBin: string;
  /** Run the same bench against this commit and the working tree, interleaved, and print both side by side. */
  compare: string | undefined;
  rounds: number;
  argv: string[];
}

/** A run given --ops still stops after this long. */
export const opsTimeCapS = 900;
/** --keys: a million text keys and then some. */
export const benchKeysMax = 10_000_000;

export async function parseOptions(args = hideBin(process.argv)): Promise<BenchOptions> {
  const a = await levelOptions(yargs(args))
    .scriptName('npm run bench --')
    .usage('$0 [--start] [--workload A|B|C|W] [--cl LEVEL] [--baseline limit] [--baseline etcd] [--scenario restart] …\n\n' +
      'Load-tests ringkv in the style of YCSB: a closed loop of --concurrency requests in flight over the coordinators, ' +
      'then a table per operation (ops/s, p50, p95, p99, p99.9, max, errors) and the CPU and peak RSS of every replica.')
    .option('config', { type: 'string', describe: 'the cluster\'s nodes.toml (default: $KV_CONFIG, else nodes.toml); with --start, the file copied for the temp cluster' })
    .option('start', { type: 'boolean', default: false, describe: 'start a temporary cluster of its own (temp dir, ports --port-base+1.., own PM2_HOME), removed at the end' })
    .option('workload', { alias: 'w', choices: workloadNames, default: 'A' as WorkloadName, describe: 'A 50/50 read/write, B 95/5, C read only, W write only' })
    .option('distribution', { choices: distributions, default: 'uniform' as Distribution, describe: 'key choice over the keys (zipfian: YCSB scrambled, theta 0.99)' })
    .option('keys', { type: 'number', describe: 'how many keys: 0..N-1 of the byte-ordered ring (default all 256), or N text keys on the hashed one (default 256)' })
    .option('partitioner', { choices: partitioners as readonly string[], describe: 'with --start: the temporary cluster\'s partitioner (default: the config\'s)' })
    .option('value-bytes', { type: 'number', default: 100, describe: 'bytes of each written value' })
    .option('concurrency', { alias: 'c', type: 'number', default: 64, describe: 'requests in flight (closed loop)' })
    .option('coordinator', { type: 'string', describe: 'send everything to this replica (default: spread over every replica)' })
    .option('clients-per-coordinator', { type: 'number', default: 1, describe: 'KvClient sockets per coordinator' })
    .option('duration', { alias: 'd', type: 'number', default: 10, describe: 'measured seconds (after the warm-up)' })
    .option('ops', { type: 'number', describe: `measured operations instead of --duration (still stops after ${opsTimeCapS} s)` })
    .option('warmup', { type: 'number', default: 2, describe: 'seconds run first and not counted' })
    .option('baseline', { type: 'array', string: true, default: [] as string[], describe: 'also run: limit (bare UDP echo processes, same layout and sizes), limit-durable (the same, each echo replica appending a log record per write to an O_DSYNC file, one write per turn), etcd (3-member etcd); repeatable' })
    .option('scenario', { choices: scenarioNames, describe: 'restart: restart time after --restart-writes writes, and hint delivery after --hint-writes writes to a stopped replica; ' +
      'shell: wall time of a piped kvc shell (--shell-lines alternating QUORUM put/get lines, process start included) against --coordinator (default replica-1), after --warmup seconds of the same pattern through the library; ' +
      'floor: a datagram round trip and an O_DSYNC write measured alone, no cluster (what one put at a time cannot go under)' })
    .option('restart-writes', { type: 'number', default: 1_000_000, describe: 'restart scenario: writes before the restart' })
    .option('restart-replica', { type: 'string', default: 'replica-1', describe: 'restart scenario: the replica restarted' })
    .option('hint-writes', { type: 'number', default: 100_000, describe: 'restart scenario: writes while --hint-replica is down' })
    .option('hint-replica', { type: 'string', default: 'replica-3', describe: 'restart scenario: the replica stopped for the hints part' })
    .option('shell-lines', { type: 'number', default: 2_000, describe: 'shell scenario: alternating put/get lines piped into one kvc shell' })
    .option('shell-runs', { type: 'number', default: 3, describe: 'shell scenario: kvc processes run one after another' })
    .option('profile', { type: 'string', describe: 'with --start: run this replica by hand under node --cpu-prof during the run, then print its hottest functions' })
    .option('profile-alloc', { type: 'boolean', default: false, describe: 'with --start: bytes allocated per operation in every replica (each run by hand with V8\'s sampling heap profiler) and in the client, by function, over the measured window' })
    .option('profile-out', { type: 'string', describe: 'where to keep the .cpuprofile (default bench-results/<replica>-<time>.cpuprofile)' })
    .option('json', { type: 'string', describe: 'write every figure to this file' })
    .option('svg', { type: 'string', describe: 'draw throughput and p99 per second to this file' })
    .option('port-base', { type: 'number', default: 24100, describe: 'temp cluster on base+1.., echo processes on base+100.., etcd on base+200..' })
    .option('seed', { type: 'number', default: 1, describe: 'seed of the operation and key sequence' })
    .option('progress', { type: 'boolean', default: true, describe: 'live progress bar on stderr (--no-progress to hide)' })
    .option('etcd-bin', { type: 'string', default: 'etcd', describe: 'etcd binary for --baseline etcd' })
    .option('compare', { type: 'string', describe: 'with --start: build this git ref in a temporary worktree and run the same bench against it and the working tree, interleaved (ref, tree, ref, tree, …), then print both and their ratio' })
    .option('rounds', { type: 'number', default: 3, describe: 'with --compare: runs of each side' })
    .check((v) => {
      const positive = (name: string, n: number | undefined, min = 1) => {
        if (n !== undefined && (!Number.isInteger(n) || n < min)) throw new Error(`--${name}: expected an integer >= ${min}, got ${n}`);
      };
      positive('concurrency', v.concurrency);
      positive('clients-per-coordinator', v['clients-per-coordinator']);
      positive('value-bytes', v['value-bytes']);
      positive('ops', v.ops);
      positive('restart-writes', v['restart-writes']);
      positive('hint-writes', v['hint-writes']);
      positive('shell-lines', v['shell-lines']);
      positive('shell-runs', v['shell-runs']);
      positive('rounds', v.rounds);
      if (v.compare !== undefined && !v.start) throw new Error('--compare needs --start (each side runs a temporary cluster of its own build)');
      if (v.compare !== undefined && (v.scenario === 'floor' || v.scenario === 'restart')) throw new Error(`--compare: the ${v.scenario} scenario is not compared (workloads and --scenario shell are)`);
      if (v.compare !== undefined && (v.profile !== undefined || v['profile-alloc'])) throw new Error('--compare and --profile/--profile-alloc: profile one build at a time');
      if (v['profile-alloc'] && !v.start) throw new Error('--profile-alloc needs --start (it runs the temporary cluster\'s replicas by hand)');
      if (v['profile-alloc'] && v.profile !== undefined) throw new Error('--profile-alloc and --profile: one profiler at a time (each slows what the other measures)');
      if (v['profile-alloc'] && v.scenario !== undefined) throw new Error('--profile-alloc measures a workload run, not a scenario');
      positive('port-base', v['port-base'], 1024);
      if (v['port-base'] > 65_000) throw new Error(`--port-base: expected at most 65000, got ${v['port-base']}`);
      if (!(v.duration > 0) || v.duration > opsTimeCapS) throw new Error(`--duration: expected 0 < seconds <= ${opsTimeCapS}, got ${v.duration}`);
      if (!(v.warmup >= 0) || v.warmup > 300) throw new Error(`--warmup: expected 0..300 seconds, got ${v.warmup}`);
      for (const b of v.baseline) if (!(baselineNames as readonly string[]).includes(b)) throw new Error(`--baseline: expected one of ${baselineNames.join(', ')}, got ${b}`);
      if (v.profile !== undefined && !v.start) throw new Error('--profile needs --start (it replaces one replica of the temporary cluster)');
      if (v.partitioner !== undefined && !v.start) throw new Error('--partitioner needs --start (a running cluster has its own)');
      if (v.keys !== undefined && (!Number.isInteger(v.keys) || v.keys < 1 || v.keys > benchKeysMax)) throw new Error(`--keys: expected an integer in 1..${benchKeysMax}, got ${v.keys}`);
      return true;
    })
    .strict()
    .version(false)
    .help()
    .parseAsync();
  return {
    config: a.config, start: a.start, workload: a.workload, distribution: a.distribution, valueBytes: a['value-bytes'],
    keys: a.keys, partitioner: a.partitioner as PartitionerName | undefined,
    ...levelsOf(a),
    concurrency: a.concurrency, coordinator: a.coordinator, clientsPerCoordinator: a['clients-per-coordinator'],
    durationS: a.duration, ops: a.ops ?? null, warmupS: a.warmup,
    baselines: [...new Set(a.baseline as BaselineName[])], scenario: a.scenario,
    restartWrites: a['restart-writes'], restartReplica: a['restart-replica'], hintWrites: a['hint-writes'], hintReplica: a['hint-replica'],
    shellLines: a['shell-lines'], shellRuns: a['shell-runs'],
    profile: a.profile, profileOut: a['profile-out'], profileAlloc: a['profile-alloc'], json: a.json, svg: a.svg, portBase: a['port-base'], seed: a.seed,
    progress: a.progress, etcdBin: a['etcd-bin'], compare: a.compare, rounds: a.rounds, argv: args,
  };
}
