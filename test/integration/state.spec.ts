// `kvc state --json` on the real cluster: every replica's own view, merged. During `pm2 stop
// replica-3` every survivor names it DOWN, the hint held for it shows where it is held, and the
// runtime's figures (rates, p99) come with each answer.
import { expect } from 'chai';
import type { ClusterView } from '../../src/cli/cluster-state.js';
import { Cluster, downAfterMs, waitFor } from './harness.js';

describe('integration: kvc state on the real cluster', function () {
  this.timeout(60_000);
  let cluster: Cluster;

  before(async function () {
    this.timeout(40_000);
    cluster = await Cluster.start();
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
  });

  async function state(): Promise<{ code: number | null; view: ClusterView }> {
    const r = await cluster.kvc(['state', '--json']);
    return { code: r.code, view: JSON.parse(r.stdout) as ClusterView };
  }

  it('during pm2 stop replica-3, every survivor\'s view names it DOWN; the hint for it is counted where held; back, nobody does', async () => {
    const all = await state();
    expect(all.code).to.equal(0);
    expect(all.view.unreachable).to.deep.equal([]);
    expect(all.view.downBy).to.deep.equal({});
    for (const a of all.view.replicas) {
      expect(a.state!.figures, `${a.name}: the runtime's figures`).to.not.equal(null);
      expect(a.state!.links.filter((l) => l.name !== a.name).every((l) => l.heartbeatAgeMs !== null && l.heartbeatAgeMs < downAfterMs)).to.equal(true);
    }

    await cluster.stop('replica-3');
    try {
      const stoppedAt = Date.now();
      const down = await waitFor('every survivor to see replica-3 DOWN in kvc state', async () => {
        const s = await state();
        return s.view.downBy['replica-3']?.length === 3 ? s : undefined;
      }, 2 * downAfterMs + 2_000, 100);
      expect(down.code, 'a view with one replica silent is still a view').to.equal(0);
      expect(down.view.unreachable).to.deep.equal(['replica-3']);
      expect([...down.view.downBy['replica-3']!].sort()).to.deep.equal(['replica-1', 'replica-2', 'replica-4']);
      expect(Object.keys(down.view.downBy)).to.deep.equal(['replica-3']);
      expect(down.view.ranges.filter((r) => r.down.includes('replica-3')).map((r) => `${r.first}..${r.last}`)).to.deep.equal(['0..63', '64..127', '128..191']);
      expect(Date.now() - stoppedAt).to.be.below(2 * downAfterMs + 2_000);

      expect((await cluster.kvc(['put', '150', 'for later', '--cl', 'QUORUM', '--coordinator', 'replica-1'])).code).to.equal(0);
      const held = await state();
      expect(held.view.views.find((v) => v.observer === 'replica-1' && v.subject === 'replica-3')!.hintsHeld).to.equal(1);
      const text = await cluster.kvc(['state']);
      expect(text.stdout).to.contain('DOWN replica-3: seen DOWN by replica-1, replica-2, replica-4');
    } finally {
      await cluster.start('replica-3');
    }
    await waitFor('nobody to see anyone DOWN', async () => Object.keys((await state()).view.downBy).length === 0, 10_000, 200);
  });
});
