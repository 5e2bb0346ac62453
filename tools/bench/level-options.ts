// --cl, --read-cl and --write-cl, as the bench and the chaos run both take them.
import type { Argv } from 'yargs';
import { levels, type Level } from '../../src/core/types.js';

const levelChoices = levels as readonly string[];

export function levelOptions<T>(y: Argv<T>) {
  return y
    .option('cl', { choices: levelChoices, describe: 'consistency level of reads and writes (default QUORUM)' })
    .option('read-cl', { choices: levelChoices, describe: 'level of reads (overrides --cl)' })
    .option('write-cl', { choices: levelChoices, describe: 'level of writes (overrides --cl)' });
}

/** The levels the parsed options ask for: --read-cl / --write-cl, else --cl, else QUORUM. */
export function levelsOf(a: { cl?: string; 'read-cl'?: string; 'write-cl'?: string }): { readLevel: Level; writeLevel: Level } {
  const cl = (a.cl ?? 'QUORUM') as Level;
  return { readLevel: (a['read-cl'] ?? cl) as Level, writeLevel: (a['write-cl'] ?? cl) as Level };
}
