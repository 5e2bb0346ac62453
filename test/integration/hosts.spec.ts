// Four hosts and a client machine in network namespaces, set up as the README's "Running on several
// machines" says: one nodes.toml copied to every host and the client, the keyring copied to every replica host and a credential to the client,
// `pm2 start ecosystem.config.js` on each host (which starts only that host's replica). Then QUORUM
// through every coordinator, a host stopped and back, a host cut off both ways and one way, a host
// with another config, a host with another keyring and a client with another cluster's credential. Skipped, saying why, where namespaces
// cannot be made (not root, no ip, no veth).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusReport } from '../../src/core/messages.js';
import { writeBootstrapCredential } from '../../src/io/credentials.js';
import { loadKeyring } from '../../src/io/keyring.js';
import { repoRoot, waitFor } from './harness.js';
import { namespacesUnavailable, NetnsHosts, subnet, type HostSpec } from './netns.js';

const hosts: HostSpec[] = [1, 2, 3, 4].map((i) => ({ name: `host${i}`, address: `${subnet}.${i}`, port: 7100 + i }));
const names = hosts.map((_, i) => `replica-${i + 1}`);

function toml(replicationFactor = 3): string {
  return [
    `replication_factor = ${replicationFactor}`, 'repair_mode = "hinted-handoff"', 'read_repair_blocking = true',
    'data_dir = "data"', 'cookie_file = "data/cookie"', 'gossip_interval_ms = 100', 'down_after_ms = 500',
    'write_timeout_ms = 1000', 'read_timeout_ms = 1000', 'max_hint_window_ms = 10800000', 'hint_sweep_interval_ms = 500', 'anti_entropy_interval_ms = 0',
    'value_bytes_max = 60000', 'max_clock_skew_ms = 500', '',
    ...hosts.map((h, i) => `[[nodes]]\nname = "${names[i]}"\nhost = "${h.address}"\nport = ${h.port}\n`),
  ].join('\n');
}

describe('integration: four hosts in network namespaces, one replica each under its own pm2', function () {
  this.timeout(60_000);
  let net: NetnsHosts | null = null;

  const status = async (coordinator: string): Promise<StatusReport> => {
    const r = await net!.kvc(['status', '--coordinator', coordinator, '--json', '--timeout-ms', '1500']);
    const o = JSON.parse(r.stdout) as StatusReport & { ok: boolean; message?: string };
    if (!o.ok) throw new Error(`status of ${coordinator}: ${o.message}`);
    return o;
  };
  const peer = async (observer: string, name: string) => (await status(observer)).peers.find((p) => p.name === name)!;
  const local = async (key: number, node: string) => JSON.parse((await net!.kvc(['local', String(key), '--node', node, '--json'])).stdout) as { value: string | null };

  /** A cluster's keyring and its admin's credential, made in the test's dir. */
  const secrets = (name: string): { ring: { keyring: string }; admin: { credentials: string } } => {
    const keyring = join(net!.dir, `${name}.keyring`);
    const credentials = join(net!.dir, `${name}.credentials`);
    writeBootstrapCredential(credentials, loadKeyring(keyring, { mayCreate: true }).keyring!.clientRoot);
    return { ring: { keyring }, admin: { credentials } };
  };
  let ours: ReturnType<typeof secrets>;

  before(async function () {
    this.timeout(45_000);
    const why = namespacesUnavailable();
    if (why !== null) {
      console.log(`      skipped: network namespaces cannot be made here (${why}); run as root with iproute2`);
      this.skip();
    }
    net = new NetnsHosts(hosts, `${subnet}.100`);
    net.build();
    ours = secrets('ours');
    // The keyring is made once and copied to every replica host with nodes.toml; the client gets the admin's credential.
    for (const h of hosts) net.install(h.name, toml(), ours.ring);
    net.install('client', toml(), ours.admin);
    await Promise.all(hosts.map((h) => net!.pm2(h.name, 'start', 'ecosystem.config.js')));
    await waitFor('every replica to see every other UP', async () => {
      const all = await Promise.all(names.map(status));
      return all.every((s) => s.peers.every((p) => p.up));
    }, 20_000, 200);
  });

  after(function () {
    this.timeout(30_000);
    net?.teardown();
  });

  it('pm2 on each host starts only the replica whose host is that machine\'s address', async () => {
    for (const [i, h] of hosts.entries()) expect(await net!.apps(h.name)).to.deep.equal([{ name: names[i], status: 'online' }]);
    // On the client machine no replica is local: the ecosystem file refuses, naming the hosts and the machine's addresses.
    const r = await net!.exec('client', [process.execPath, '-e', "require('./ecosystem.config.js')"]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain(`no replica of this file is on this machine; the file's hosts: replica-1 ${subnet}.1`);
    expect(r.stderr).to.contain(`this machine's addresses: 127.0.0.1, ${subnet}.100`);
  });

  it('QUORUM puts and gets through every coordinator, from the client machine', async () => {
    await Promise.all(names.map(async (coordinator, i) => {
      const keys = [0, 64, 128, 192].map((first) => first + i);
      const script = keys.map((k) => `put ${k} "${coordinator} wrote ${k}" QUORUM\nget ${k} QUORUM\n`).join('');
      const r = await net!.kvc(['--coordinator', coordinator, '--json'], script);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean; value?: string });
      expect(lines.filter((l) => !l.ok), r.stdout).to.deep.equal([]);
      expect(lines.filter((_, j) => j % 2 === 1).map((l) => l.value)).to.deep.equal(keys.map((k) => `${coordinator} wrote ${k}`));
    }));
  });

  it('one-shot kvc carries a stamp between runs with --seen or --seen-file: the second write is stamped after the first', async () => {
    const put = async (args: string[]) => {
      const r = await net!.kvc(args);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      return JSON.parse(r.stdout) as { stamp: [number, number, number] };
    };
    const first = await put(['put', '77', 'first', '--coordinator', 'replica-1', '--json']);
    const second = await put(['put', '77', 'second', '--coordinator', 'replica-4', '--json', '--seen', JSON.stringify(first.stamp)]);
    expect(second.stamp[0] > first.stamp[0] || (second.stamp[0] === first.stamp[0] && second.stamp[1] > first.stamp[1])).to.equal(true);
    // --seen-file keeps it between runs without the script handling it.
    const file = join(net!.hostDir('client'), 'seen');
    const third = JSON.parse((await net!.kvc(['put', '78', 'third', '--coordinator', 'replica-2', '--json', '--seen-file', file])).stdout) as { stamp: [number, number, number] };
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.deep.equal(third.stamp);
    const fourth = JSON.parse((await net!.kvc(['get', '78', '--coordinator', 'replica-3', '--json', '--seen-file', file])).stdout) as { value: string };
    expect(fourth.value).to.equal('third');
    const bad = await net!.kvc(['put', '77', 'x', '--seen', 'yesterday']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--seen: expected a stamp like 1763700000123.0@2 or [1763700000123,0,2], got "yesterday"');
  });

  it('a host stopped misses a QUORUM write and gets it as a hint when it is back', async () => {
    await net!.pm2('host3', 'stop', 'replica-3');
    await waitFor('replica-1 to see replica-3 DOWN', async () => !(await peer('replica-1', 'replica-3')).up, 10_000, 200);
    const put = JSON.parse((await net!.kvc(['put', '150', 'while host3 was stopped', '--coordinator', 'replica-1', '--json'])).stdout) as { ok: boolean };
    expect(put.ok).to.equal(true);
    expect((await peer('replica-1', 'replica-3')).hintsPending).to.equal(1);
    await net!.pm2('host3', 'start', 'replica-3');
    await waitFor('replica-3 to hold the write it missed', async () => (await local(150, 'replica-3')).value === 'while host3 was stopped', 15_000, 200);
  });

  it('a host cut off (its link down) is DOWN for the others; healed, it gets what it missed', async () => {
    net!.inside('host4', 'ip', 'link', 'set', 'eth0', 'down');
    await waitFor('replica-1 to see replica-4 DOWN', async () => !(await peer('replica-1', 'replica-4')).up, 10_000, 200);
    const put = JSON.parse((await net!.kvc(['put', '200', 'while host4 was cut off', '--coordinator', 'replica-2', '--json'])).stdout) as { ok: boolean };
    expect(put.ok).to.equal(true);
    net!.inside('host4', 'ip', 'link', 'set', 'eth0', 'up');
    await waitFor('replica-4 to hold the write it missed', async () => (await local(200, 'replica-4')).value === 'while host4 was cut off', 15_000, 200);
  });

  it('a one-way cut (nft on host1 drops what it sends to host2): replica-2 sees replica-1 DOWN, replica-1 still sees replica-2 UP', async function () {
    if (spawnSync('nft', ['--version']).status !== 0) {
      console.log('      skipped: no nft command (apt-get install nftables)');
      this.skip();
    }
    net!.inside('host1', 'nft', 'add table inet ringkv_cut');
    try {
      net!.inside('host1', 'nft', `add chain inet ringkv_cut out { type filter hook output priority 0 ; ip daddr ${subnet}.2 udp dport 7102 drop ; }`);
      await waitFor('replica-2 to see replica-1 DOWN', async () => !(await peer('replica-2', 'replica-1')).up, 10_000, 200);
      expect((await peer('replica-1', 'replica-2')).up).to.equal(true);
      // replica-2 coordinates a QUORUM write of a key replica-1 holds (0..63: replica-1, 2, 3) with the two it still hears.
      const put = JSON.parse((await net!.kvc(['put', '10', 'one-way', '--coordinator', 'replica-2', '--json'])).stdout) as { ok: boolean };
      expect(put.ok).to.equal(true);
    } finally {
      net!.inside('host1', 'nft', 'delete table inet ringkv_cut');
    }
    await waitFor('replica-2 to see replica-1 UP again', async () => (await peer('replica-2', 'replica-1')).up, 10_000, 200);
    await waitFor('replica-1 to hold the write it missed', async () => (await local(10, 'replica-1')).value === 'one-way', 15_000, 200);
  });

  it('a host restarted with another nodes.toml (RF 2) is named as mismatched and gets no replica traffic; fixed, it is back', async () => {
    await net!.pm2('host4', 'stop', 'replica-4');
    net!.install('host4', toml(2), ours.ring);
    await net!.pm2('host4', 'start', 'replica-4');
    await waitFor('replica-1 to name replica-4\'s config as different', async () => (await peer('replica-1', 'replica-4')).configMismatch, 10_000, 200);
    const p = await peer('replica-1', 'replica-4');
    expect(p.up).to.equal(false);
    expect(net!.logs('host1')).to.match(/config-mismatch: peer replica-4 runs another config \(digest [0-9a-f]{8}, ours [0-9a-f]{8}/);
    const text = (await net!.kvc(['status', '--coordinator', 'replica-1'])).stdout;
    expect(text).to.contain('PROBLEM replica-4: another config');
    await net!.pm2('host4', 'stop', 'replica-4');
    net!.install('host4', toml(), ours.ring);
    await net!.pm2('host4', 'start', 'replica-4');
    await waitFor('replica-1 to see replica-4 agree and UP', async () => {
      const q = await peer('replica-1', 'replica-4');
      return q.up && !q.configMismatch;
    }, 10_000, 200);
  });

  it('a host with another keyring: both sides log it within seconds and name each other in status', async () => {
    const other = secrets('other-host');
    await net!.pm2('host3', 'stop', 'replica-3');
    net!.install('host3', toml(), other.ring);
    await net!.pm2('host3', 'start', 'replica-3');
    try {
      await waitFor('replica-1 to name replica-3\'s datagrams forged', async () => (await peer('replica-1', 'replica-3')).forged, 10_000, 200);
      expect(net!.logs('host1')).to.contain("bad-cookie: datagrams from replica-3's address fail authentication: it runs with another keyring");
      await waitFor('replica-3 to log the notices of its peers', async () => net!.logs('host3').includes('says our datagrams fail its authentication'), 10_000, 200);
      // Asked with a credential of replica-3's own keyring, its status names the peers that refuse it.
      net!.install('client', toml(), other.admin);
      const s = await status('replica-3');
      expect(s.peers.filter((p) => p.refusesOurCookie).map((p) => p.name)).to.include('replica-1');
      expect((await net!.kvc(['status', '--coordinator', 'replica-3'])).stdout).to.contain('PROBLEM replica-1: ');
    } finally {
      net!.install('client', toml(), ours.admin);
      await net!.pm2('host3', 'stop', 'replica-3');
      net!.install('host3', toml(), ours.ring);
      await net!.pm2('host3', 'start', 'replica-3');
    }
  });

  it('a client machine with another cluster\'s credential is told so within seconds', async () => {
    const other = secrets('other-client');
    net!.install('client', toml(), other.admin);
    try {
      const r = await net!.kvc(['get', '1', '--coordinator', 'replica-2', '--json', '--timeout-ms', '1500']);
      const o = JSON.parse(r.stdout) as { ok: boolean; error: string; message: string };
      expect(o).to.deep.include({ ok: false, error: 'NoResponse' });
      expect(o.message).to.contain("it says this client's datagrams fail its check");
      // KV_CREDENTIALS takes the default file's place: the cluster's credential given that way, the same client is served.
      const kvc = [process.execPath, join(repoRoot, 'dist/cli/kvc.js'), '--config', join(net!.hostDir('client'), 'nodes.toml')];
      const served = await net!.exec('client', [...kvc, 'get', '1', '--coordinator', 'replica-2', '--json'], undefined, { KV_CREDENTIALS: ours.admin.credentials });
      expect(JSON.parse(served.stdout)).to.deep.include({ ok: true, key: 1 });
    } finally {
      net!.install('client', toml(), ours.admin);
    }
  });
});
