// The real cluster in read-repair mode, set the way an operator would: nodes.toml says
// hinted-handoff and KV_REPAIR=read-repair overrides it for every replica through the ecosystem file.
// A replica that missed writes stays stale until a read through any coordinator heals it.
import { expect } from 'chai';
import { Cluster, replicaNames, replicasOf, sleep, waitFor } from './harness.js';

describe('integration: the real cluster in read-repair mode (KV_REPAIR=read-repair)', function () {
  this.timeout(60_000);
  let cluster: Cluster;

  before(async function () {
    this.timeout(40_000);
    cluster = await Cluster.start({ repairMode: 'hinted-handoff', repairOverride: 'read-repair' });
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
  });

  it('every replica runs in the mode KV_REPAIR asked for', async () => {
    for (const n of replicaNames) expect((await cluster.status(n)).repairMode, n).to.equal('read-repair');
  });

  it('a restarted replica stays stale without hints; one get through a coordinator that does not hold the key heals it', async () => {
    const updated = 100; // replicas 2, 3, 4: replica-1 coordinates without holding it
    const fresh = 101;
    expect(replicasOf(updated)).to.deep.equal(['replica-2', 'replica-3', 'replica-4']);
    expect(replicasOf(fresh)).to.deep.equal(['replica-2', 'replica-3', 'replica-4']);
    const c = await cluster.client('replica-1');
    await c.put(updated, 'old', 'ALL');

    await cluster.stop('replica-3');
    let stopped = true;
    try {
      // Once replica-1 sees it DOWN, the writes below are not even sent to replica-3.
      await waitFor('replica-1 to see replica-3 DOWN', async () => !(await cluster.sees('replica-1', 'replica-3')), 3_000);
      await c.put(updated, 'new', 'QUORUM');
      await c.put(fresh, 'first', 'QUORUM');
      expect((await cluster.status('replica-1')).peers.map((p) => p.hintsPending), 'read-repair mode stores no hints').to.deep.equal([0, 0, 0, 0]);

      await cluster.start('replica-3');
      stopped = false;
      await waitFor('replica-1 to see replica-3 UP', () => cluster.sees('replica-1', 'replica-3'), 10_000);
      const local = async (key: number) => JSON.parse((await cluster.kvc(['local', String(key), '--node', 'replica-3', '--json'])).stdout) as { found: boolean; value: string | null };
      // Stale, and it stays so: nothing is pushed to it without a read.
      for (let i = 0; i < 3; i++) {
        expect(await local(updated), `key ${updated} on replica-3`).to.include({ found: true, value: 'old' });
        expect(await local(fresh), `key ${fresh} on replica-3`).to.include({ found: false, value: null });
        await sleep(300);
      }

      const got = await cluster.kvc(['get', String(updated), '--coordinator', 'replica-1', '--json']);
      expect(got.code).to.equal(0);
      expect(JSON.parse(got.stdout)).to.include({ ok: true, found: true, value: 'new', coordinator: 'replica-1' });
      await waitFor(`replica-3 to hold the new value of key ${updated}`, async () => (await local(updated)).value === 'new', 3_000);
      await waitFor('replica-1 to log the repair', async () => /read-repair: read repair of key 100\b.*replica-3/.test(cluster.log('replica-1')), 3_000);

      const gotFresh = await cluster.kvc(['get', String(fresh), '--coordinator', 'replica-1', '--json']);
      expect(JSON.parse(gotFresh.stdout)).to.include({ ok: true, found: true, value: 'first' });
      await waitFor(`replica-3 to hold key ${fresh}`, async () => (await local(fresh)).value === 'first', 3_000);
    } finally {
      if (stopped) await cluster.start('replica-3');
    }
  });
});
