// Runs the seeded cluster simulator: `npm run sim -- --seed S` replays one seed; `--seeds N` runs N
// seeds from --seed. Exits 1 when any seed fails, printing the command that replays it; exits 2
// with one line on a bad argument, having run nothing.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { partitioners, type PartitionerName } from '../src/core/keyspace.js';
import { nodesMax } from '../src/core/limits.js';
import { repairModes, type RepairMode } from '../src/core/types.js';
import { clockModes, replayCommand, runSeed, summarize, type ClockMode } from './sim/workload.js';

/** Seeds are mixed with 32-bit constants: keep them where that is exact. */
const seedMax = 2 ** 31 - 1;
const seedsMax = 10_000_000;
const keysMax = 1_000_000;
const faultMsMax = 600_000;
const exitBadArgs = 2;

function refuse(line: string): never {
  console.error(`npm run sim: ${line} (npm run sim -- --help shows the usage)`);
  process.exit(exitBadArgs);
}

/** The raw text of an option as typed, for the error line (yargs has already made it a number). */
function typed(name: string): string {
  const argv = hideBin(process.argv);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return 'nothing';
  const a = argv[i]!;
  return JSON.stringify(a.includes('=') ? a.slice(a.indexOf('=') + 1) : (argv[i + 1] ?? ''));
}

function integer(name: string, value: number | undefined, min: number, max: number, why = ''): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) refuse(`--${name}: expected an integer in ${min}..${max}${why}, got ${typed(name)}`);
}

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run sim --')
  .option('seed', { type: 'number', default: 1, describe: 'first seed' })
  .option('seeds', { type: 'number', default: 1, describe: 'how many seeds, from --seed' })
  .option('mode', { choices: repairModes, describe: 'repair mode (default: from the seed)' })
  .option('nodes', { type: 'number', describe: 'cluster size (default: from the seed)' })
  .option('rf', { type: 'number', describe: 'replication factor (default: from the seed)' })
  .option('fault-ms', { type: 'number', default: 3000, describe: 'virtual ms of workload under faults' })
  .option('clocks', { choices: clockModes, describe: 'exact | skewed (within max_clock_skew_ms, drifting) | bad (one clock jumps far) (default: from the seed)' })
  .option('partitioner', { choices: partitioners, default: 'byte-ordered' as const, describe: 'byte-ordered: 6 keys of 0..255; hashed: text keys on the hashed ring (--keys)' })
  .option('keys', { type: 'number', describe: 'hashed: how many text keys (default 2000); half the operations go to 6 of them' })
  .option('verbose', { type: 'boolean', default: false, describe: 'print every node log line of each seed' })
  .strict()
  .fail((msg, err) => refuse(msg ?? (err instanceof Error ? err.message : String(err))))
  .parse();

integer('seed', argv.seed, 0, seedMax);
integer('seeds', argv.seeds, 1, seedsMax);
if (argv.seed + argv.seeds - 1 > seedMax) refuse(`--seed ${argv.seed} --seeds ${argv.seeds}: the last seed would pass ${seedMax}`);
integer('nodes', argv.nodes, 1, nodesMax);
integer('rf', argv.rf, 1, argv.nodes ?? nodesMax, argv.nodes === undefined ? '' : ' (at most --nodes)');
integer('fault-ms', argv['fault-ms'], 0, faultMsMax);
integer('keys', argv.keys, 6, keysMax);
if (argv.keys !== undefined && argv.partitioner !== 'hashed') refuse('--keys: only with --partitioner hashed (byte-ordered runs use 6 keys of 0..255)');
if (argv.rf !== undefined && argv.nodes === undefined && argv.rf > 3) {
  refuse(`--rf ${argv.rf}: the seed may draw 3 nodes; give --nodes too (at least ${argv.rf})`);
}

const started = Date.now();
let failed = 0;
for (let seed = argv.seed; seed < argv.seed + argv.seeds; seed++) {
  const r = runSeed({ seed, mode: argv.mode as RepairMode | undefined, nodes: argv.nodes, replicationFactor: argv.rf, faultMs: argv['fault-ms'], clocks: argv.clocks as ClockMode | undefined,
    partitioner: argv.partitioner as PartitionerName, keys: argv.keys });
  if (argv.verbose) for (const line of r.log) console.log(line);
  if (r.failures.length > 0 || argv.seeds === 1 || argv.verbose) console.log(summarize(r));
  if (r.failures.length > 0) {
    failed++;
    for (const f of r.failures.slice(0, 10)) console.log(`  ${f}`);
    console.log(`  replay: ${replayCommand(seed, r)} --verbose`);
  }
}
console.log(`${argv.seeds - failed} passed, ${failed} failed (${argv.seeds} seeds from ${argv.seed}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failed > 0 ? 1 : 0);
