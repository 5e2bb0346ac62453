// Command line of `npm run chaos -- …`.
import { partitioners, type PartitionerName } from '../../src/core/keyspace.js';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { repairModes, type Level, type RepairMode } from '../../src/core/types.js';
import { levelOptions, levelsOf } from '../bench/level-options.js';
import { faultKinds, parseRange, type FaultKind, type Range } from './schedule.js';

export interface ChaosOptions {
  seconds: number;
  seed: number;
  clients: number;
  keys: number;
  partitioner: PartitionerName;
  readLevel: Level;
  writeLevel: Level;
  coordinators: string[] | undefined;
  faults: FaultKind[];
  repairMode: RepairMode;
  convergenceWaitMs: number;
  bandS: Range;
  quietS: Range;
  leadS: number;
  lossPercent: Range;
  boundedIndeterminate: boolean;
  statesMax: number;
  portBase: number;
  out: string | undefined;
  build: boolean;
  config: string | undefined;
  argv: string[];
}

export const secondsMax = 3_600;
/** --keys under the hashed partitioner. */
export const hashedKeysMax = 1_000_000;
export const clientsMax = 64;

export async function parseChaosOptions(args = hideBin(process.argv)): Promise<ChaosOptions> {
  const a = await levelOptions(yargs(args))
    .scriptName('npm run chaos --')
    .usage('$0 [--seconds 60] [--faults kill,stop,pause,partition,loss] [--seed N] [--clients 6] [--keys 12] [--cl QUORUM] [--repair-mode M]\n\n' +
      'Starts a temporary cluster (own ports, data dir and PM2_HOME), runs concurrent clients against it while a seeded nemesis ' +
      'kills, stops, pauses, partitions and drops packets, heals, then checks the recorded history: acknowledged writes never lost, ' +
      'W+R>RF reads never stale, no invented values, every replica converged, and per-key linearizability. Exit 0 only if every check passes.')
    .option('seconds', { type: 'number', default: 60, describe: 'length of the faulty part of the run' })
    .option('seed', { type: 'number', describe: 'seed of the fault plan and the operations (default: random, printed)' })
    .option('clients', { type: 'number', default: 6, describe: 'concurrent clients, one operation in flight each' })
    .option('keys', { type: 'number', default: 12, describe: 'keys used: spread evenly over 0..255 (byte-ordered), or that many text keys (hashed)' })
    .option('partitioner', { choices: partitioners as readonly string[], default: 'byte-ordered', describe: 'partitioner of the temporary cluster' })
    .option('coordinators', { type: 'string', describe: 'comma-separated replicas the clients talk to, round robin (default: all)' })
    .option('faults', { type: 'string', default: faultKinds.join(','), describe: `comma-separated fault kinds: ${faultKinds.join(', ')} (empty: none)` })
    .option('repair-mode', { choices: repairModes as readonly string[], default: 'hinted-handoff', describe: 'repair_mode of the temporary cluster' })
    .option('convergence-wait-ms', { type: 'number', default: 15_000, describe: 'after healing, how long replicas get to agree' })
    .option('band-seconds', { type: 'string', default: '3-8', describe: 'length of each fault band, N or MIN-MAX' })
    .option('quiet-seconds', { type: 'string', default: '2-4', describe: 'quiet time between bands, N or MIN-MAX' })
    .option('lead-seconds', { type: 'number', default: 2, describe: 'quiet seconds before the first fault' })
    .option('loss-percent', { type: 'string', default: '20-30', describe: 'packet loss of a loss band, N or MIN-MAX' })
    .option('bounded-indeterminate', { type: 'boolean', default: false, describe: 'a write the client gave up on may take effect only until its deadline (not forever)' })
    .option('states-max', { type: 'number', default: 2_000_000, describe: 'linearizability search: configurations per key before "unknown"' })
    .option('port-base', { type: 'number', default: 25_100, describe: 'the temporary cluster listens on base+1..' })
    .option('out', { type: 'string', describe: 'directory for history.jsonl, timeline.svg and summary.json (default chaos-results/<time>)' })
    .option('build', { type: 'boolean', default: true, describe: 'npm run build first (--no-build when dist/ is fresh)' })
    .option('config', { type: 'string', describe: 'nodes.toml copied for the temporary cluster (default nodes.toml)' })
    .check((v) => {
      const int = (name: string, n: number, min: number, max: number) => {
        if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected an integer in ${min}..${max}, got ${n}`);
      };
      if (!(v.seconds > 0 && v.seconds <= secondsMax)) throw new Error(`--seconds: expected 0 < seconds <= ${secondsMax}, got ${v.seconds}`);
      if (v.seed !== undefined) int('seed', v.seed, 0, 2 ** 32 - 1);
      int('clients', v.clients, 1, clientsMax);
      int('keys', v.keys, 1, v.partitioner === 'hashed' ? hashedKeysMax : 256);
      int('convergence-wait-ms', v['convergence-wait-ms'], 0, 600_000);
      int('states-max', v['states-max'], 1, 100_000_000);
      int('port-base', v['port-base'], 1024, 65_000);
      for (const f of splitList(v.faults)) if (!(faultKinds as readonly string[]).includes(f)) throw new Error(`--faults: unknown kind ${JSON.stringify(f)} (kinds: ${faultKinds.join(', ')})`);
      parseRange('band-seconds', v['band-seconds'], { min: 0.5, max: secondsMax });
      parseRange('quiet-seconds', v['quiet-seconds'], { min: 0, max: secondsMax });
      parseRange('loss-percent', v['loss-percent'], { min: 0, max: 100 });
      if (!(v['lead-seconds'] >= 0)) throw new Error(`--lead-seconds: expected >= 0, got ${v['lead-seconds']}`);
      return true;
    })
    .strict()
    .version(false)
    .help()
    .parseAsync();
  return {
    seconds: a.seconds, seed: a.seed ?? Math.floor(Math.random() * 2 ** 32), clients: a.clients, keys: a.keys, partitioner: a.partitioner as PartitionerName,
    ...levelsOf(a),
    coordinators: a.coordinators === undefined ? undefined : splitList(a.coordinators),
    faults: [...new Set(splitList(a.faults))] as FaultKind[], repairMode: a['repair-mode'] as RepairMode,
    convergenceWaitMs: a['convergence-wait-ms'],
    bandS: parseRange('band-seconds', a['band-seconds'], { min: 0.5, max: secondsMax }),
    quietS: parseRange('quiet-seconds', a['quiet-seconds'], { min: 0, max: secondsMax }),
    leadS: a['lead-seconds'],
    lossPercent: parseRange('loss-percent', a['loss-percent'], { min: 0, max: 100 }),
    boundedIndeterminate: a['bounded-indeterminate'], statesMax: a['states-max'], portBase: a['port-base'],
    out: a.out, build: a.build, config: a.config, argv: args,
  };
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
