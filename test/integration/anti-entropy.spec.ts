// Replicas that converge by themselves, on real processes: anti-entropy heals a replica whose hint
// holder is gone, deletes win over the values a down replica still holds, `kvc repair` heals at
// once, and tombstones survive kill -9. Keys 128..191 live on replica-3, replica-4 and replica-1;
// replica-2 coordinates them without holding a copy, so its hints are the only record of a miss.
import { expect } from 'chai';
import { Cluster, replicasOf, waitFor, type ReplicaName } from './harness.js';

const antiEntropyIntervalMs = 1_000;

interface LocalJson { ok: boolean; found: boolean; deleted?: boolean; value: string | null; stamp: number[] | null }

async function local(cluster: Cluster, key: number, node: ReplicaName): Promise<LocalJson> {
  const r = await cluster.kvc(['local', String(key), '--node', node, '--json']);
  expect(r.code, r.stdout + r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as LocalJson;
}

/** What replica-3 must hold: a value, or null for a tombstone. */
async function holdsAll(cluster: Cluster, node: ReplicaName, expected: Map<number, string | null>): Promise<boolean> {
  for (const [key, value] of expected) {
    const got = await local(cluster, key, node);
    if (value === null ? got.deleted !== true : got.value !== value) return false;
  }
  return true;
}

describe('integration: anti-entropy, deletes and kvc repair (pm2, UDP)', function () {
  this.timeout(90_000);

  describe(`hinted-handoff mode, anti-entropy every ${antiEntropyIntervalMs} ms`, () => {
    let cluster: Cluster;
    before(async function () {
      this.timeout(40_000);
      cluster = await Cluster.start({ repairMode: 'hinted-handoff', antiEntropyIntervalMs });
    });
    after(async function () {
      this.timeout(30_000);
      await cluster?.teardown();
    });

    it('replica-3 missed writes and a delete; their hint holder is stopped for good; replica-3 converges with no client traffic', async () => {
      const c = await cluster.client('replica-2');
      for (const key of [130, 131, 132]) expect(replicasOf(key)).to.deep.equal(['replica-3', 'replica-4', 'replica-1']);
      await c.put(132, 'doomed', 'ALL');
      await cluster.stop('replica-3');
      await waitFor('replica-2 to see replica-3 DOWN', async () => !(await cluster.sees('replica-2', 'replica-3')), 3_000);
      const expected = new Map<number, string | null>([[130, 'written while replica-3 was down'], [131, 'also missed'], [132, null]]);
      await c.put(130, 'written while replica-3 was down', 'QUORUM');
      await c.put(131, 'also missed', 'QUORUM');
      expect(await c.del(132, 'QUORUM')).to.include({ deleted: true, coordinator: 'replica-2' });
      await waitFor('replica-2 to hold 3 hints for replica-3', async () => (await cluster.status('replica-2')).peers[2]!.hintsPending === 3, 2_000);
      await c.close();

      await cluster.stop('replica-2'); // the only holder of those hints
      const startedAt = Date.now();
      await cluster.start('replica-3');
      // No request from here on but `kvc local`, which is not coordinated.
      await waitFor('replica-3 to hold every write and the delete it missed', () => holdsAll(cluster, 'replica-3', expected), 2 * antiEntropyIntervalMs + 3_000, 100);
      const tookMs = Date.now() - startedAt;
      console.log(`      replica-3 converged ${tookMs} ms after pm2 start, with its hint holder stopped`);
      const logs = cluster.log('replica-3') + cluster.log('replica-4') + cluster.log('replica-1');
      expect(logs).to.match(/anti-entropy: anti-entropy with replica-(3|4|1) \(keys [0-9., ]+\): sent \d+.*received \d+/);
      await cluster.start('replica-2');
    });

    it('replicas that agree log nothing, and kvc status counts the rounds per peer', async () => {
      await waitFor('every replica to see every peer UP', async () => (await cluster.status('replica-1')).peers.every((p) => p.up), 5_000);
      await new Promise((r) => setTimeout(r, 2 * antiEntropyIntervalMs + 500));
      const status = await cluster.kvc(['status', '--coordinator', 'replica-1']);
      expect(status.code).to.equal(0);
      expect(status.stdout).to.match(/anti-entropy every 1000 ms:/);
      expect(status.stdout).to.match(/replica-2: last round \S+ \(\d+ s ago\); \d+ rounds?, keys repaired: \d+ sent, \d+ received/);
      const json = JSON.parse((await cluster.kvc(['status', '--json', '--coordinator', 'replica-1'])).stdout) as { peers: { name: string; antiEntropy: { rounds: number } }[] };
      for (const p of json.peers.filter((x) => x.name !== 'replica-1')) expect(p.antiEntropy.rounds, p.name).to.be.greaterThan(0);
    });
  });

  describe('read-repair mode, periodic anti-entropy off: kvc repair and deletes', () => {
    let cluster: Cluster;
    before(async function () {
      this.timeout(40_000);
      cluster = await Cluster.start({ repairMode: 'read-repair', antiEntropyIntervalMs: 0 });
    });
    after(async function () {
      this.timeout(30_000);
      await cluster?.teardown();
    });

    it('kvc repair --node replica-3 heals the stale replica before it answers; with replica-4 stopped it exits 1 naming it', async () => {
      const c = await cluster.client('replica-1');
      await c.put(140, 'old', 'ALL');
      await cluster.stop('replica-3');
      await waitFor('replica-1 to see replica-3 DOWN', async () => !(await cluster.sees('replica-1', 'replica-3')), 3_000);
      await c.put(141, 'missed', 'QUORUM');
      await c.del(140, 'QUORUM');
      await cluster.start('replica-3');
      await waitFor('replica-3 to serve', async () => (await cluster.kvc(['local', '1', '--node', 'replica-3', '--json'])).code === 0, 10_000);
      expect(await local(cluster, 140, 'replica-3')).to.include({ found: true, value: 'old' });

      const r = await cluster.kvc(['repair', '--node', 'replica-3', '--json']);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      const report = JSON.parse(r.stdout) as { ok: boolean; node: string; peers: { name: string; reached: boolean; sent: number; received: number }[] };
      expect(report).to.include({ ok: true, node: 'replica-3' });
      expect(report.peers.map((p) => p.name).sort()).to.deep.equal(['replica-1', 'replica-2', 'replica-4']);
      expect(report.peers.reduce((n, p) => n + p.received, 0), JSON.stringify(report)).to.equal(2);
      // Already there when the command returns.
      expect(await local(cluster, 140, 'replica-3')).to.include({ found: false, deleted: true, value: null });
      expect(await local(cluster, 141, 'replica-3')).to.include({ found: true, value: 'missed' });
      expect(cluster.log('replica-3')).to.match(/anti-entropy: anti-entropy with replica-(4|1) \(keys [^)]*\): sent 0, received [12]/);

      await cluster.stop('replica-4');
      await waitFor('replica-3 to see replica-4 DOWN', async () => !(await cluster.sees('replica-3', 'replica-4')), 3_000);
      const partial = await cluster.kvc(['repair', '--node', 'replica-3']);
      expect(partial.code).to.equal(1);
      expect(partial.stdout).to.match(/repair on replica-3: replica-4 could not be repaired/);
      expect(partial.stdout).to.match(/replica-4: not reached: DOWN/);
      await cluster.start('replica-4');
      await c.close();
    });

    it('deleted keys stay deleted through kill -9 of every replica', async () => {
      await waitFor('every replica to see every peer UP', async () => (await cluster.status('replica-2')).peers.every((p) => p.up), 10_000);
      const del = await cluster.kvc(['put', '17', 'to be deleted', '--cl', 'ALL', '--coordinator', 'replica-2']);
      expect(del.code, del.stderr).to.equal(0);
      const d = await cluster.kvc(['del', '17', '--cl', 'ALL', '--coordinator', 'replica-2', '--json']);
      expect(d.code, d.stderr).to.equal(0);
      const deleted = JSON.parse(d.stdout) as Record<string, unknown>;
      expect(deleted).to.include({ ok: true, key: 17, deleted: true, coordinator: 'replica-2' });
      expect(deleted.stamp).to.be.an('array').with.length(3);

      const killed = await cluster.kill9All();
      await cluster.waitUntilRestarted(killed);
      await cluster.waitUntilServing();
      for (const n of replicasOf(17)) {
        const got = await local(cluster, 17, n);
        expect(got, n).to.include({ found: false, deleted: true, value: null });
        expect(got.stamp, n).to.deep.equal(deleted.stamp);
      }
      const get = await cluster.kvc(['get', '17', '--cl', 'ALL', '--json']);
      expect(JSON.parse(get.stdout)).to.include({ ok: true, found: false, value: null });
      const text = await cluster.kvc(['get', '17']);
      expect(text.stdout).to.match(/^17 not found/);
      const shell = await cluster.kvc([], 'put 18 x ALL\ndel 18 ALL\nget 18 ALL\ndel,18,ONE\n');
      expect(shell.code, shell.stdout + shell.stderr).to.equal(0);
      const lines = shell.stdout.trim().split('\n');
      expect(lines).to.have.length(4);
      expect(lines[1]).to.match(/^DELETED 18 \(stamp /);
      expect(lines[2]).to.match(/^18 not found/);
      expect(lines[3]).to.match(/^DELETED 18/);
    });
  });
});
