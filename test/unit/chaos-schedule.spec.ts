// The chaos nemesis's plan and its nft rules, without running anything.
import { expect } from 'chai';
import { cutRules, lossRules, rulesScript, tableScript } from '../../tools/chaos/nft.js';
import { faultKinds, parseRange, planFaults, type ScheduleOptions } from '../../tools/chaos/schedule.js';
import { spreadKeys } from '../../tools/chaos/workload.js';

const replicas = ['replica-1', 'replica-2', 'replica-3', 'replica-4'];
const plan = (o: Partial<ScheduleOptions> = {}) => planFaults({
  seed: 5, seconds: 120, kinds: faultKinds, replicas, leadS: 2, bandS: { min: 3, max: 8 }, quietS: { min: 2, max: 4 }, lossPercent: { min: 20, max: 30 }, ...o,
});

describe('chaos fault plan', () => {
  it('is the same for the same seed, and differs for another', () => {
    expect(plan()).to.deep.equal(plan());
    expect(plan({ seed: 6 })).not.to.deep.equal(plan());
  });

  it('starts after the lead, keeps bands apart and inside the run, and uses every chosen kind', () => {
    const bands = plan();
    expect(bands[0]!.startS).to.be.at.least(2);
    for (let i = 1; i < bands.length; i++) expect(bands[i]!.startS).to.be.at.least(bands[i - 1]!.endS + 2 - 0.1);
    for (const b of bands) expect(b.endS).to.be.at.most(120);
    expect(new Set(bands.map((b) => b.kind))).to.deep.equal(new Set(faultKinds));
    expect(plan({ kinds: ['kill', 'loss'] }).every((b) => b.kind === 'kill' || b.kind === 'loss')).to.equal(true);
    expect(plan({ kinds: [] })).to.deep.equal([]);
  });

  it('aims each fault at real replicas: stops one or two, partitions into two sides, loss within its range', () => {
    for (const b of plan({ seconds: 600 })) {
      for (const t of b.targets) expect(replicas).to.include(t);
      if (b.kind === 'stop') expect(b.targets.length).to.be.within(1, 2);
      if (b.kind === 'loss') expect(b.lossPercent).to.be.within(20, 30);
      if (b.kind === 'partition') {
        expect(b.cuts.length).to.be.greaterThan(0);
        // Never a cut within one side.
        for (const [from, to] of b.cuts) expect(b.targets.includes(from)).not.to.equal(b.targets.includes(to));
      }
    }
  });

  it('reads ranges and refuses bad ones with one line', () => {
    expect(parseRange('x', '3-8', { min: 0, max: 100 })).to.deep.equal({ min: 3, max: 8 });
    expect(parseRange('x', '25', { min: 0, max: 100 })).to.deep.equal({ min: 25, max: 25 });
    expect(() => parseRange('loss-percent', '30-20', { min: 0, max: 100 })).to.throw(/--loss-percent/);
    expect(() => parseRange('loss-percent', 'lots', { min: 0, max: 100 })).to.throw(/expected N or MIN-MAX/);
  });

  it('spreads keys over every replica\'s range', () => {
    const keys = spreadKeys(12);
    expect(new Set(keys.map((k) => Math.floor(k / 64)))).to.deep.equal(new Set([0, 1, 2, 3]));
    expect(new Set(keys).size).to.equal(12);
  });
});

describe('chaos nft rules', () => {
  it('cut only the given port pairs on loopback, in a table of the run\'s own', () => {
    expect(cutRules([{ from: 25101, to: 25102 }])).to.deep.equal(['oifname "lo" udp sport 25101 udp dport 25102 drop']);
    expect(tableScript('ringkv_chaos_1')).to.match(/^table inet ringkv_chaos_1 \{/).and.match(/hook output/);
    expect(rulesScript('t', ['r1'])).to.equal('flush chain inet t out\nadd rule inet t out r1\n');
  });

  it('drop a share of datagrams to replica ports, and from them to clients, once each', () => {
    const [toReplica, toClient] = lossRules([1, 2], 25);
    expect(toReplica).to.equal('oifname "lo" udp dport { 1, 2 } numgen random mod 100 < 25 drop');
    expect(toClient).to.equal('oifname "lo" udp sport { 1, 2 } udp dport != { 1, 2 } numgen random mod 100 < 25 drop');
    expect(() => lossRules([1], 101)).to.throw(RangeError);
  });
});
