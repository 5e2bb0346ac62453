// The real cluster with partitioner = "hashed": text keys through kvc (one-shot, --json, the
// shell's quoting and comma syntax), the library, and the crash, hint and read-repair stories.
import { expect } from 'chai';
import { Cluster, replicasOf, waitFor } from './harness.js';

/** Text keys whose replicas are exactly these (in ring order), from a stream of user:N keys. */
function keysOn(replicas: readonly string[], count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (replicasOf(`user:${i}`).join() === replicas.join()) out.push(`user:${i}`);
  return out;
}

describe('integration: string keys on the hashed ring', function () {
  this.timeout(60_000);
  let cluster: Cluster;

  before(async function () {
    this.timeout(40_000);
    cluster = await Cluster.start({ partitioner: 'hashed', repairMode: 'both' });
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
  });

  const json = async (args: string[]) => {
    const r = await cluster.kvc([...args, '--json']);
    return { code: r.code, out: JSON.parse(r.stdout) as Record<string, unknown> };
  };

  it('kvc one-shot puts, gets, deletes text keys; --json gives the key as typed; a bad key names the partitioner', async () => {
    expect(await json(['put', 'user:42', 'Ada'])).to.deep.include({ code: 0 });
    expect((await json(['get', 'user:42'])).out).to.include({ ok: true, key: 'user:42', found: true, value: 'Ada' });
    expect((await json(['put', 'naïve 键', 'x'])).out).to.include({ ok: true, key: 'naïve 键' });
    expect((await json(['get', '17'])).out).to.include({ ok: true, key: '17', found: false });
    expect((await json(['del', 'user:42'])).out).to.include({ ok: true, key: 'user:42', deleted: true });
    expect((await json(['get', 'user:42'])).out).to.include({ found: false });
    const bad = await cluster.kvc(['get', '']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/key: expected text of 1\.\.256 UTF-8 bytes \(partitioner hashed\), got an empty key/);
    const status = await cluster.kvc(['status']);
    expect(status.stdout).to.match(/keys: hashed onto 256 slots \(murmur3\)/);
  });

  it('the shell takes quoted keys and the comma syntax', async () => {
    const r = await cluster.kvc([], 'put "user 7" "Ada Lovelace"\nget "user 7"\nput,order:9,a,b,ONE\nget,order:9\n');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^OK "user 7" \(stamp /);
    expect(lines[1]).to.match(/^"user 7" = "Ada Lovelace" \(stamp /);
    expect(lines[2]).to.match(/^OK order:9 /);
    expect(lines[3]).to.match(/^order:9 = "a,b" /);
  });

  it('a stopped replica gets the text keys it missed by hints, with no client request', async () => {
    const keys = keysOn(['replica-2', 'replica-3', 'replica-4'], 20);
    const c = await cluster.client('replica-2');
    await cluster.stop('replica-3');
    let stopped = true;
    try {
      await waitFor('replica-2 to see replica-3 DOWN', async () => !(await cluster.sees('replica-2', 'replica-3')), 3_000);
      for (const k of keys) await c.put(k, `v-${k}`, 'QUORUM');
      expect((await cluster.status('replica-2')).peers.find((p) => p.name === 'replica-3')!.hintsPending).to.equal(keys.length);
      await cluster.start('replica-3');
      stopped = false;
      await waitFor('replica-3 to hold every text key it missed', async () => {
        const seen = await Promise.all(keys.map((k) => json(['local', k, '--node', 'replica-3'])));
        return seen.every((r, i) => r.out.value === `v-${keys[i]}`);
      }, 8_000, 100);
      expect(cluster.log('replica-2')).to.match(/hint-stored: hint stored for replica-3: key user:\d+/);
    } finally {
      if (stopped) await cluster.start('replica-3');
      await c.close();
    }
  });

  it('with the hint holder gone, a read through another coordinator repairs the stale replica', async () => {
    const key = keysOn(['replica-2', 'replica-3', 'replica-4'], 21)[20]; // not one the hint story wrote
    const c2 = await cluster.client('replica-2');
    await cluster.stop('replica-3');
    const stopped = new Set(['replica-3']);
    try {
      await waitFor('replica-2 to see replica-3 DOWN', async () => !(await cluster.sees('replica-2', 'replica-3')), 3_000);
      await c2.put(key!, 'repaired by a read', 'QUORUM');
      await cluster.stop('replica-2'); // the only holder of replica-3's hint
      stopped.add('replica-2');
      await cluster.start('replica-3');
      stopped.delete('replica-3');
      await waitFor('replica-4 to see replica-3 UP', () => cluster.sees('replica-4', 'replica-3'), 10_000);
      expect((await json(['local', key!, '--node', 'replica-3'])).out).to.include({ found: false });
      const got = await json(['get', key!, '--coordinator', 'replica-4']);
      expect(got.out).to.include({ ok: true, key, value: 'repaired by a read' });
      await waitFor('replica-3 to hold the repaired version', async () => (await json(['local', key!, '--node', 'replica-3'])).out.value === 'repaired by a read', 3_000);
      expect(cluster.log('replica-4')).to.match(new RegExp(`read-repair: read repair of key ${key}\\b.*replica-3`));
    } finally {
      for (const name of stopped) await cluster.start(name);
      await c2.close();
    }
  });

  it('kill -9 of every replica loses no acknowledged text key', async () => {
    await cluster.waitUntilServing();
    const c = await cluster.client('replica-1');
    const keys = Array.from({ length: 300 }, (_, i) => `crash:${i}`);
    await Promise.all(keys.map((k) => c.put(k, `acked ${k}`, 'QUORUM')));
    await c.close();
    await cluster.waitUntilRestarted(await cluster.kill9All());
    await cluster.waitUntilServing();
    const again = await cluster.client('replica-1');
    try {
      const got = await Promise.all(keys.map((k) => again.get(k, 'QUORUM')));
      expect(got.filter((g, i) => g.value !== `acked ${keys[i]}`).map((g) => g.key)).to.deep.equal([]);
    } finally {
      await again.close();
    }
  });
});
