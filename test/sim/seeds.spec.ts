// A few hundred seeded runs of whole clusters under loss, duplication, delay, partitions, crashes,
// torn log tails, junk datagrams, one-way cuts and skewed, drifting or jumping clocks. A failing seed is printed with the command that replays it.
import { expect } from 'chai';
import { replayCommand, runSeed, summarize } from '../../tools/sim/workload.js';

const seedBase = Number(process.env.SIM_SEED ?? 1);
const seedCount = Number(process.env.SIM_SEEDS ?? 300);

describe(`simulated clusters: ${seedCount} seeds from ${seedBase} (SIM_SEED, SIM_SEEDS to change)`, function () {
  this.timeout(120_000);

  it('keep every acknowledged write, serve fresh QUORUM reads and converge after healing', () => {
    const failed: string[] = [];
    const totals = { ops: 0, crashes: 0, partitions: 0, junk: 0, diskFull: 0, badClocks: 0, skewedClocks: 0 };
    for (let seed = seedBase; seed < seedBase + seedCount; seed++) {
      const r = runSeed({ seed });
      if (r.clocks === 'bad') totals.badClocks++;
      if (r.clocks === 'skewed') totals.skewedClocks++;
      totals.ops += r.stats.ops; totals.crashes += r.stats.crashes; totals.partitions += r.stats.partitions; totals.junk += r.stats.junk; totals.diskFull += r.stats.diskFull;
      if (r.failures.length > 0) failed.push(`${summarize(r)}\n    ${r.failures.slice(0, 3).join('\n    ')}\n    replay: ${replayCommand(seed, r)} --verbose`);
    }
    console.log(`      ${seedCount} seeds: ${totals.ops} client ops, ${totals.crashes} crashes, ${totals.partitions} partitions, ${totals.diskFull} full disks, ${totals.junk} junk datagrams`);
    expect(failed, failed.join('\n')).to.deep.equal([]);
    // The workload must really have exercised the faults it claims to.
    expect(totals.crashes).to.be.greaterThan(seedCount / 2);
    expect(totals.partitions).to.be.greaterThan(seedCount / 2);
    expect(totals.badClocks, 'seeds with a clock jumping beyond the bound').to.be.greaterThan(seedCount / 5);
    expect(totals.skewedClocks, 'seeds with skewed, drifting clocks').to.be.greaterThan(seedCount / 5);
  });
});
