// Clusters of 5 and 8 replicas on loopback under pm2: the ring splits 256 keys into 5 or 8 ranges,
// every coordinator serves QUORUM for keys it does and does not hold, and a stopped replica's
// writes reach it as hints when it is back.
import { expect } from 'chai';
import { Ring } from '../../src/core/partitioner.js';
import { Cluster, waitFor } from './harness.js';

for (const size of [5, 8]) {
  describe(`integration: a cluster of ${size} replicas on loopback`, function () {
    this.timeout(60_000);
    let cluster: Cluster;
    const ring = new Ring(size, 3);

    before(async function () {
      this.timeout(45_000);
      cluster = await Cluster.start({ nodes: size });
    });

    after(async function () {
      this.timeout(30_000);
      await cluster?.teardown();
    });

    it('each replica reports the same ring, and QUORUM works through every coordinator for keys in every range', async () => {
      const s = await cluster.status(`replica-${size}`);
      expect(s.ring).to.have.length(size);
      expect(s.ring.map((r) => r.replicas)).to.deep.equal(ring.ranges.map((r) => ring.replicasFor(r.first).map((n) => `replica-${n + 1}`)));
      const clients = await Promise.all(cluster.names.map((n) => cluster.client(n)));
      await Promise.all(clients.map(async (c, i) => {
        for (const range of ring.ranges) {
          const key = range.first + ((i * 7) % (range.last - range.first + 1));
          const value = `${c.coordinator} wrote ${key}`;
          await c.put(key, `${value} (first)`, 'QUORUM');
          await c.put(key, value, 'QUORUM');
        }
      }));
      // Read back through a coordinator other than the writer: the latest write of each key.
      for (let i = 0; i < clients.length; i++) {
        const reader = clients[(i + 1) % clients.length]!;
        for (const range of ring.ranges) {
          const key = range.first + ((i * 7) % (range.last - range.first + 1));
          const got = await reader.get(key, 'QUORUM');
          // Two coordinators may write the same key; the newest write wins either way.
          expect(got.value, `key ${key}`).to.match(/ wrote \d+$/);
        }
      }
    });

    it('a stopped replica misses writes at QUORUM, and gets them as hints when it is back', async () => {
      const stopped = 'replica-2';
      const key = ring.ranges[1]!.first; // owned by replica-2
      await cluster.stop(stopped);
      await waitFor(`replica-1 to see ${stopped} DOWN`, async () => !(await cluster.sees('replica-1', stopped)), 10_000);
      const c = await cluster.client(`replica-${size}`);
      await c.put(key, 'while replica-2 was stopped', 'QUORUM');
      await cluster.start(stopped);
      await waitFor(`${stopped} to hold the write it missed`, async () => {
        const local = await c.local(key, stopped);
        return local.value === 'while replica-2 was stopped';
      }, 15_000, 100);
    });
  });
}
