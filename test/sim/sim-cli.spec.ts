// The simulator's command line: bad arguments are refused with one line, having run nothing; a
// fixed option leaves what the seed draws for the others.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { runSeed } from '../../tools/sim/workload.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sim(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools/sim.ts'), ...args], { cwd: repoRoot, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sim: the command line', function () {
  this.timeout(30_000);

  it('refuses a bad argument with one line and exit 2, running no seed', () => {
    for (const [args, line] of [
      [['--seed', 'abc'], 'npm run sim: --seed: expected an integer in 0..2147483647, got "abc"'],
      [['--seeds', '-3'], 'npm run sim: --seeds: expected an integer in 1..10000000, got "-3"'],
      [['--nodes', '0'], 'npm run sim: --nodes: expected an integer in 1..64, got "0"'],
      [['--nodes', '2', '--rf', '5'], 'npm run sim: --rf: expected an integer in 1..2 (at most --nodes), got "5"'],
    ] as const) {
      const r = sim(...args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stdout, args.join(' ')).to.equal('');
      expect(r.stderr, args.join(' ')).to.equal(`${line} (npm run sim -- --help shows the usage)\n`);
    }
  });

  it('fixing the cluster size leaves the seed\'s replication factor and mode', () => {
    const faultMs = 200;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const shape = (r: ReturnType<typeof runSeed>) => [r.nodes, r.replicationFactor, r.mode, r.clocks];
      const drawn = shape(runSeed({ seed, faultMs }));
      const fixed = shape(runSeed({ seed, faultMs, nodes: 5 }));
      expect(fixed[0]).to.equal(5);
      expect(fixed.slice(1), `seed ${seed}`).to.deep.equal(drawn.slice(1));
      const moded = shape(runSeed({ seed, faultMs, mode: 'both' }));
      expect(moded[2]).to.equal('both');
      expect([moded[0], moded[1], moded[3]]).to.deep.equal([drawn[0], drawn[1], drawn[3]]);
    }
  });

  it('the printed replay command (the seed with its whole shape) replays the very same run', () => {
    for (const seed of [7, 286, 1805]) {
      const drawn = runSeed({ seed, faultMs: 500 });
      const replayed = runSeed({ seed, faultMs: 500, nodes: drawn.nodes, replicationFactor: drawn.replicationFactor, mode: drawn.mode, clocks: drawn.clocks });
      expect([replayed.stats, replayed.failures], `seed ${seed}`).to.deep.equal([drawn.stats, drawn.failures]);
    }
  });
});
