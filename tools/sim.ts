// Runs the seeded cluster simulator: `npm run sim -- --seed S` replays one seed; `--seeds N` runs N
// seeds from --seed. Exits 1 when any seed fails, printing the command that replays it.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { repairModes, type RepairMode } from '../src/core/types.js';
import { clockModes, replayCommand, runSeed, summarize, type ClockMode } from '../test/sim/workload.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run sim --')
  .option('seed', { type: 'number', default: 1, describe: 'first seed' })
  .option('seeds', { type: 'number', default: 1, describe: 'how many seeds, from --seed' })
  .option('mode', { choices: repairModes, describe: 'repair mode (default: from the seed)' })
  .option('nodes', { type: 'number', describe: 'cluster size (default: from the seed)' })
  .option('rf', { type: 'number', describe: 'replication factor (default: from the seed)' })
  .option('fault-ms', { type: 'number', default: 3000, describe: 'virtual ms of workload under faults' })
  .option('clocks', { choices: clockModes, describe: 'exact | skewed (within max_clock_skew_ms, drifting) | bad (one clock jumps far) (default: from the seed)' })
  .option('verbose', { type: 'boolean', default: false, describe: 'print every node log line of each seed' })
  .strict()
  .parse();

const started = Date.now();
let failed = 0;
for (let seed = argv.seed; seed < argv.seed + argv.seeds; seed++) {
  const r = runSeed({ seed, mode: argv.mode as RepairMode | undefined, nodes: argv.nodes, replicationFactor: argv.rf, faultMs: argv['fault-ms'], clocks: argv.clocks as ClockMode | undefined });
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
