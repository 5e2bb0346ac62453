import { createSocket, type Socket } from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { encodeRecord } from '../../src/core/log-record.js';
import type { ClientReply, Message } from '../../src/core/messages.js';
import { newAcceptor } from '../../src/core/ring/agreement.js';
import { firstRing } from '../../src/core/ring/state.js';
import { encodeAcceptor } from '../../src/core/ring/wire.js';
import { Codec } from '../../src/io/codec.js';
import { loadCredential, type Credential } from '../../src/io/credentials.js';
import { loadKeyring } from '../../src/io/keyring.js';
import { segmentName } from '../../src/io/log-file.js';
import { clientKeys, peerKeys } from '../../src/io/keys.js';
import { createLogger, startReplica, type Replica } from '../../src/io/runtime.js';
import { KvClient } from '../../src/client/client.js';

const names = ['replica-1', 'replica-2', 'replica-3'];
const valueBytesMax = 60_000;

/** Ports the OS reports free right now (bound to port 0, then released). */
async function freePorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function clusterToml(ports: number[]): string {
  return [
    `replication_factor = ${ports.length}`, 'repair_mode = "both"', 'read_repair_blocking = true',
    'data_dir = "data"', 'cookie_file = "cookie"', 'gossip_interval_ms = 20', 'down_after_ms = 300',
    'write_timeout_ms = 2000', 'read_timeout_ms = 2000', 'max_hint_window_ms = 60000', 'hint_sweep_interval_ms = 100', 'anti_entropy_interval_ms = 0',
    `value_bytes_max = ${valueBytesMax}`, 'max_clock_skew_ms = 500', '',
    ...ports.map((port, i) => `[[nodes]]\nname = "${names[i]}"\nhost = "127.0.0.1"\nport = ${port}\n`),
  ].join('\n');
}

/** A raw UDP client: one request, retransmitted until its reply (same id) or the deadline. */
class RawClient {
  private readonly socket = createSocket('udp4');
  private readonly waiting = new Map<number, (reply: ClientReply) => void>();
  constructor(private readonly codec: Codec) {
    this.socket.on('message', (bytes) => {
      const d = this.codec.decode(bytes);
      if (!d.ok || !('id' in d.msg)) return;
      this.onAnyReply(d.msg as ClientReply);
      this.waiting.get(d.msg.id)?.(d.msg as ClientReply);
    });
  }

  async request(port: number, msg: Message & { id: number }, deadlineMs = 3_000): Promise<ClientReply> {
    return new Promise((resolve, reject) => {
      // Sealed anew each time, as a real retransmission is: the same bytes twice are refused as a duplicate.
      const send = () => this.socket.send(this.codec.encode(msg), port, '127.0.0.1');
      const retry = setInterval(send, 250);
      const timeout = setTimeout(() => { done(); reject(new Error(`no reply to ${msg.t} ${msg.id} within ${deadlineMs} ms`)); }, deadlineMs);
      const done = () => { clearInterval(retry); clearTimeout(timeout); this.waiting.delete(msg.id); };
      this.waiting.set(msg.id, (reply) => { done(); resolve(reply); });
      send();
    });
  }

  /** Replies with no request waiting (or any reply at all), for tests that send raw datagrams. */
  onAnyReply: (reply: ClientReply) => void = () => {};

  seal(msg: Message): Buffer {
    return this.codec.encode(msg);
  }

  sendRaw(port: number, bytes: Uint8Array): void {
    this.socket.send(bytes, port, '127.0.0.1');
  }

  close(): void {
    this.socket.close();
  }
}

describe('io/runtime (real UDP on loopback, real log files)', function () {
  this.timeout(20_000);
  let dir: string;
  let configPath: string;
  let ports: number[];
  let replicas: Replica[] = [];
  let client: RawClient | null = null;
  const lines: string[] = [];
  const logger = (name: string) => createLogger(name, (line) => lines.push(line));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-runtime-'));
    ports = await freePorts(names.length);
    configPath = join(dir, 'nodes.toml');
    writeFileSync(configPath, clusterToml(ports));
  });

  afterEach(async () => {
    client?.close();
    client = null;
    await Promise.all(replicas.map((r) => r.stop()));
    replicas = [];
  });

  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const admin = (): Credential => loadCredential(join(dir, 'data', 'credentials'));
  const keyring = () => loadKeyring(join(dir, 'data', 'keyring'), { mayCreate: false }).keyring!;
  async function waitUntil(done: () => boolean, ms = 3_000): Promise<void> {
    for (const until = Date.now() + ms; !done(); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > until) throw new Error(`not within ${ms} ms`);
    }
  }

  /** What starting this replica throws; the test fails if it starts. */
  async function startRefused(name: string): Promise<Error> {
    try {
      replicas.push(await startReplica({ configPath, name, logger: pino({ level: 'silent' }) }));
    } catch (e) {
      return e as Error;
    }
    throw new Error(`${name} started, where it was expected to refuse`);
  }

  it('serves a put then a get at ALL, and a restarted replica replays the write', async () => {
    replicas = await Promise.all(names.map((name) => startReplica({ configPath, name, logger: logger(name) })));
    expect(replicas.map((r) => r.address)).to.deep.equal(ports.map((p) => `127.0.0.1:${p}`));
    client = new RawClient(new Codec(clientKeys(admin()), valueBytesMax));

    const put = await client.request(ports[1]!, { t: 'put', id: 1, key: 17, value: 'héllo', level: 'ALL', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
    expect(put).to.include({ t: 'put.ok', id: 1, key: 17, coordinator: 'replica-2' });
    const get = await client.request(ports[2]!, { t: 'get', id: 2, key: 17, level: 'ALL', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
    expect(get).to.include({ t: 'get.ok', id: 2, key: 17, value: 'héllo', coordinator: 'replica-3' });
    for (const r of replicas) expect(r.node.store.read(17)?.value).to.equal('héllo');
    // Three first starts at once: one of them made the keyring and the admin's credential, and said so.
    const made = lines.filter((l) => l.includes('keyring-created:'));
    expect(made, lines.join('')).to.have.length(1);
    expect(made[0]).to.include(`made a new peer keyring at ${join(dir, 'data', 'keyring')}`);
    expect(made[0]).to.include(`the admin's credential at ${join(dir, 'data', 'credentials')}`);

    await Promise.all(replicas.map((r) => r.stop()));
    replicas = [];
    const again = await startReplica({ configPath, name: 'replica-1', logger: logger('replica-1') });
    replicas = [again];
    expect(again.node.store.read(17)?.value).to.equal('héllo');
    expect(lines.filter((l) => l.includes('replica-1 started:')).at(-1)).to.match(/replayed 1 log record\b/);

    // One readable line per event.
    expect(lines.find((l) => l.includes('started:'))).to.match(/^\S+ INFO  replica-\d started: replica-\d started \(generation \d+\): replayed \d+ log records?/);
    expect(lines.some((l) => / listening: listening on 127\.0\.0\.1:\d+/.test(l))).to.equal(true);
    expect(lines.every((l) => l.endsWith('\n') && l.split('\n').length === 2)).to.equal(true);
    if (process.env.SHOW_LOGS) console.log(lines.join(''));
  });

  it('drops junk, forged and spoofed datagrams, counts them and keeps serving', async () => {
    replicas = [await startReplica({ configPath, name: 'replica-1', logger: pino({ level: 'silent' }) })];
    client = new RawClient(new Codec(clientKeys(admin()), valueBytesMax));
    const hb = (from: number): Message => ({ t: 'hb', from, gen: 1, counter: 1, hlc: [1, 0, from], wall: 1, digest: '0a1b2c3d' });
    client.sendRaw(ports[0]!, Buffer.from('not a datagram of ours'));
    client.sendRaw(ports[0]!, new Codec(clientKeys({ ...admin(), key: Buffer.alloc(32, 1) }), valueBytesMax).encode({ t: 'status', id: 1 }));
    client.sendRaw(ports[0]!, new Codec(clientKeys({ ...admin(), number: 4242 }), valueBytesMax).encode({ t: 'status', id: 1 }));
    // Under the real peer key, but from the test's address (replica-2 is elsewhere) or for another replica.
    client.sendRaw(ports[0]!, new Codec(peerKeys(keyring(), 1), valueBytesMax).encode(hb(1)));
    client.sendRaw(ports[0]!, new Codec(peerKeys(keyring(), 2), valueBytesMax).encode(hb(1)));
    const status = await client.request(ports[0]!, { t: 'status', id: 2 });
    expect(status.t).to.equal('status.ok');
    expect(replicas[0]!.node.dropped).to.deep.include({ short: 1, forged: 1, 'unknown-key': 1, spoofed: 2 });
  });

  it('answers a sealed request dated an hour off with ClockSkew and its clock, at most once a second per address; forged and replayed copies get nothing', async () => {
    replicas = [await startReplica({ configPath, name: 'replica-1', logger: pino({ level: 'silent' }) })];
    client = new RawClient(new Codec(clientKeys(admin()), valueBytesMax));
    const hourMs = 3_600_000;
    const dated = (id: number, sentAtMs: number) => ({ t: 'put' as const, id, key: 17, value: 'skewed', level: 'ONE' as const, sentAtMs, deadlineMs: sentAtMs + 5_000 });
    const expired = await client.request(ports[0]!, dated(1, Date.now() - hourMs));
    expect(expired).to.deep.include({ t: 'fail', id: 1, error: 'ClockSkew', dated: 'expired' });
    expect(Math.abs((expired as { clockMs: number }).clockMs - Date.now())).to.be.below(2_000);
    const future = await client.request(ports[0]!, dated(2, Date.now() + hourMs));
    expect(future).to.deep.include({ t: 'fail', id: 2, error: 'ClockSkew', dated: 'future' });

    const heard: ClientReply[] = [];
    client.onAnyReply = (r) => heard.push(r);
    const captured = client.seal(dated(3, Date.now() - hourMs));
    const forged = new Codec(clientKeys({ ...admin(), key: Buffer.alloc(32, 1) }), valueBytesMax).encode(dated(4, Date.now() - hourMs));
    client.sendRaw(ports[0]!, forged);
    client.sendRaw(ports[0]!, captured);
    client.sendRaw(ports[0]!, captured);
    for (let id = 5; id < 25; id++) client.sendRaw(ports[0]!, client.seal(dated(id, Date.now() - hourMs)));
    await waitUntil(() => (replicas[0]!.node.dropped['expired-limited'] ?? 0) + (replicas[0]!.node.dropped.expired ?? 0) >= 1 + 21);
    await new Promise((r) => setTimeout(r, 100));
    expect(heard.filter((r) => r.id === 4), 'the forgery').to.deep.equal([]);
    expect(heard.length, 'within the per-address budget').to.be.at.most(1);
    expect(replicas[0]!.node.dropped).to.deep.include({ forged: 1, duplicate: 1 });
    expect((replicas[0]!.node.dropped['expired-limited'] ?? 0) + (replicas[0]!.node.dropped.expired ?? 0)).to.equal(1 + 21);
    expect(replicas[0]!.node.store.read(17)?.value).to.not.equal('skewed');
  });

  it('a client credential, even the admin\'s, cannot send replica messages: nothing changes, each is counted', async () => {
    replicas = await Promise.all(names.map((name) => startReplica({ configPath, name, logger: pino({ level: 'silent' }) })));
    client = new RawClient(new Codec(clientKeys(admin()), valueBytesMax));
    // Restarted replicas run no write sent before they started (plus the clock bound): retry until one is served.
    for (let id = 10; (await client.request(ports[0]!, { t: 'put', id, key: 30, value: 'genuine', level: 'ALL', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 })).t !== 'put.ok'; id++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const far = Date.now() + 3_600_000;
    const forbiddenBefore = replicas[0]!.node.dropped.forbidden ?? 0;
    const pulled: ClientReply[] = [];
    client.onAnyReply = (r) => pulled.push(r);
    // Every message says it comes from replica-2, which is where nodes.toml puts it... but the key is a client's.
    client.sendRaw(ports[0]!, client.seal({ t: 'rw', from: 1, gen: 1, id: 1, key: 30, value: 'forged write', stamp: [far, 0, 1] }));
    client.sendRaw(ports[0]!, client.seal({ t: 'hints', from: 1, gen: 1, id: 2, writes: [[30, 'forged hint', [far, 0, 1]], [31, null, [far, 0, 1]]] }));
    client.sendRaw(ports[0]!, client.seal({ t: 'ae.pull', from: 1, gen: 1, id: 3, keys: [30] }));
    client.sendRaw(ports[0]!, client.seal({ t: 'ae', from: 1, gen: 1, id: 4, digests: [[1, 1]] }));
    await waitUntil(() => (replicas[0]!.node.dropped.forbidden ?? 0) === forbiddenBefore + 4);
    const get = await client.request(ports[0]!, { t: 'get', id: 11, key: 30, level: 'ALL', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
    expect(get).to.include({ t: 'get.ok', value: 'genuine' });
    for (const r of replicas) expect(r.node.store.read(30)?.value).to.equal('genuine');
    expect(replicas[0]!.node.store.read(31)).to.equal(undefined);
    expect(pulled.map((r) => r.t)).to.deep.equal(['get.ok']); // no pull data, no acks
  });

  it('a read-only client reads and is refused a put with a clear error; once revoked it is refused everything', async () => {
    replicas = await Promise.all(names.map((name) => startReplica({ configPath, name, logger: pino({ level: 'silent' }) })));
    client = new RawClient(new Codec(clientKeys(admin()), valueBytesMax));
    const atMs = Date.now(); // one change, sent to every replica (as kvc client add does)
    const issued = await Promise.all(ports.map((port, i) => client!.request(port, { t: 'client.set', id: 20 + i, client: 'reader', number: 555, role: 'read', atMs, revoked: false })));
    expect(issued.map((r) => r.t)).to.deep.equal(['client.ok', 'client.ok', 'client.ok']);
    const keys = new Set(issued.map((r) => (r as Extract<ClientReply, { t: 'client.ok' }>).key));
    expect(keys.size).to.equal(1); // every replica derives the same key
    const reader = new RawClient(new Codec(clientKeys({ client: 'reader', number: 555, key: Buffer.from([...keys][0]!, 'hex') }), valueBytesMax));
    try {
      expect(await reader.request(ports[1]!, { t: 'get', id: 1, key: 40, level: 'QUORUM', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 })).to.include({ t: 'get.ok' });
      // Any role may ask a replica's clock (what a client's NoResponse uses to name a clock that disagrees).
      const time = await reader.request(ports[1]!, { t: 'time', id: 5 });
      expect(time).to.include({ t: 'time.ok', node: 'replica-2' });
      expect(Math.abs((time as Extract<ClientReply, { t: 'time.ok' }>).nowMs - Date.now())).to.be.below(1_000);
      const put = await reader.request(ports[1]!, { t: 'put', id: 2, key: 40, value: 'no', level: 'QUORUM', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
      expect(put).to.deep.include({ t: 'fail', error: 'Forbidden', message: 'Forbidden: client "reader" has role read; \'put\' needs role write or admin' });
      const status = await reader.request(ports[1]!, { t: 'status', id: 3 });
      expect(status).to.include({ t: 'fail', error: 'Forbidden' });
      const revokedAtMs = Date.now() + 1;
      await Promise.all(ports.map((port, i) => client!.request(port, { t: 'client.set', id: 30 + i, client: 'reader', number: 0, role: 'read', atMs: revokedAtMs, revoked: true })));
      for (const port of ports) {
        const get = await reader.request(port, { t: 'get', id: 4, key: 40, level: 'ONE', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
        expect(get).to.deep.include({ t: 'fail', error: 'Forbidden', message: 'Forbidden: the credential of client "reader" is revoked (kvc client add issues a new one)' });
      }
      expect(replicas[1]!.node.store.read(40)).to.equal(undefined);
      expect(replicas[1]!.node.dropped).to.deep.include({ forbidden: 2, revoked: 1 });
    } finally {
      reader.close();
    }
  });

  it('rotates the peer key while serving: install, use (refused while a replica is away), remove; traffic flows throughout', async function () {
    this.timeout(30_000);
    replicas = await Promise.all(names.map((name) => startReplica({ configPath, name, logger: pino({ level: 'silent' }) })));
    const admin = await KvClient.open({ configPath, coordinator: 'replica-1', timeoutMs: 1_500 });
    try {
      const old = keyring().use;
      const putAll = async (value: string) => {
        for (let i = 0; ; i++) { // restarted replicas serve writes only from their start on: retry briefly
          try { return await admin.put(50, value, 'ALL'); } catch (e) { if (i > 20) throw e; await new Promise((r) => setTimeout(r, 100)); }
        }
      };
      await putAll('before');
      const installed = await admin.keyringInstall();
      expect(installed.ok).to.equal(true);
      const fresh = installed.keyId;
      expect((await admin.keyringList()).map((a) => [...a.keys].sort())).to.deep.equal(names.map(() => [old, fresh].sort()));

      // replica-3 away: use is refused and sent to nobody.
      const away = replicas.pop()!;
      await away.stop();
      const refused = await admin.keyringUse(fresh);
      expect(refused.ok).to.equal(false);
      expect(refused.refused).to.match(/replica-3 did not answer/);
      expect((await admin.keyringList()).filter((a) => a.ok).map((a) => a.use)).to.deep.equal([old, old]);
      replicas.push(await startReplica({ configPath, name: 'replica-3', logger: pino({ level: 'silent' }) }));

      const used = await admin.keyringUse(fresh);
      expect(used.ok, JSON.stringify(used)).to.equal(true);
      expect(await putAll('after use')).to.include({ key: 50 });
      expect((await admin.get(50, 'ALL')).value).to.equal('after use');
      expect((await admin.keyringRemove(fresh)).refused).to.match(/seals with key/);
      expect((await admin.keyringRemove(old)).ok).to.equal(true);
      expect((await admin.keyringList()).map((a) => [a.keys, a.use])).to.deep.equal(names.map(() => [[fresh], fresh]));
      expect(await putAll('after remove')).to.include({ key: 50 });
      // Durable: what a restart reads.
      expect(keyring()).to.deep.include({ use: fresh });
      expect([...keyring().keys.keys()]).to.deep.equal([fresh]);
      for (const r of replicas) expect(r.node.store.read(50)?.value).to.equal('after remove');
    } finally {
      await admin.close();
    }
  });

  it('a second replica of the same name fails to bind before it touches the log', async () => {
    replicas = [await startReplica({ configPath, name: 'replica-2', logger: pino({ level: 'silent' }) })];
    const segmentsBefore = readdirSync(replicas[0]!.dataDir).sort();
    const error = await startRefused('replica-2');
    expect(error.message).to.match(/^replica-2: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    expect(readdirSync(replicas[0]!.dataDir).sort()).to.deep.equal(segmentsBefore);
  });

  it('a replica whose data dir holds data never makes a new keyring: it refuses to start, naming the file', async () => {
    const keyringFile = join(dir, 'data', 'keyring');
    const ring = readFileSync(keyringFile, 'utf8');
    renameSync(keyringFile, `${keyringFile}.away`);
    try {
      const error = await startRefused('replica-3');
      expect(error.name).to.equal('ConfigError');
      expect(error.message).to.equal(`replica-3: no keyring at ${keyringFile}, but ${join(dir, 'data', 'replica-3')} already holds data: `
        + 'copy the cluster\'s keyring there (the same file every replica reads) rather than let this replica make a new one that its peers would refuse');
      expect(existsSync(keyringFile)).to.equal(false);
    } finally {
      renameSync(`${keyringFile}.away`, keyringFile);
    }
    // With the keyring back it starts, on the same keys.
    replicas = [await startReplica({ configPath, name: 'replica-3', logger: pino({ level: 'silent' }) })];
    expect(readFileSync(keyringFile, 'utf8')).to.equal(ring);
  });

  it('a restarted replica serves reads and status at once, and resolves writesServed (kvd\'s pm2 ready) only 2 × max_clock_skew_ms after the previous stop', async () => {
    const first = await startReplica({ configPath, name: 'replica-1', logger: pino({ level: 'silent' }) });
    await first.writesServed; // a data dir it never had, or one of an earlier test: either way it is there now
    const stopAskedMs = Date.now();
    await first.stop(); // a clean stop: the next start counts its wait from here
    const again = await startReplica({ configPath, name: 'replica-1', logger: logger('replica-1') });
    replicas = [again];
    let servedAtMs: number | null = null;
    void again.writesServed.then(() => { servedAtMs = Date.now(); });
    client = new RawClient(new Codec(clientKeys(admin()), valueBytesMax));
    const status = await client.request(ports[0]!, { t: 'status', id: 40 });
    if (status.t !== 'status.ok') throw new Error(JSON.stringify(status));
    expect(status.status.writesServedInMs).to.be.within(1, 1_000);
    const get = await client.request(ports[0]!, { t: 'get', id: 41, key: 17, level: 'ONE', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
    expect(get.t, JSON.stringify(get)).to.equal('get.ok');
    expect(servedAtMs).to.equal(null);
    expect(again.metrics().writesServedInMs).to.be.greaterThan(0);

    await again.writesServed;
    expect(servedAtMs! - stopAskedMs).to.be.at.least(1_000);
    const after = await client.request(ports[0]!, { t: 'status', id: 42 });
    expect(after.t === 'status.ok' && after.status.writesServedInMs).to.equal(0);
    const mine = lines.filter((l) => l.includes('replica-1 starting:') || l.includes('replica-1 serving:'));
    expect(mine.at(-2)).to.match(/INFO  replica-1 starting: restarted: serves writes in \d+ ms \(2 × max_clock_skew_ms 500\): writes sent before \d+ \(its previous process's clean stop at \d+ \+ the clock bound\)/);
    expect(mine.at(-1)).to.match(/INFO  replica-1 serving: serving writes, \d+ ms after the start of generation \d+/);
  });

  it('a replica whose log holds a ring other than nodes.toml\'s says so at start and places keys by the ring it holds', async () => {
    // A cluster dir of its own, with the cluster's keyring: a data dir holding a log never makes one.
    const own = mkdtempSync(join(tmpdir(), 'ringkv-runtime-ring-'));
    try {
      writeFileSync(join(own, 'nodes.toml'), clusterToml(ports));
      mkdirSync(join(own, 'data', 'replica-1'), { recursive: true });
      copyFileSync(join(dir, 'data', 'keyring'), join(own, 'data', 'keyring'));
      const file = ports.map((port, i) => ({ name: names[i]!, host: '127.0.0.1', port }));
      const held = firstRing([file[1]!, file[0]!, file[2]!], 3); // the same members, another order
      writeFileSync(join(own, 'data', 'replica-1', segmentName(1)), encodeRecord({ t: 'ring', acceptor: encodeAcceptor(newAcceptor(held)) }));
      const replica = await startReplica({ configPath: join(own, 'nodes.toml'), name: 'replica-1', logger: logger('replica-1') });
      replicas = [replica];
      expect(replica.node.ring.ring.members.map((m) => m.name)).to.deep.equal(['replica-2', 'replica-1', 'replica-3']);
      expect(replica.node.ring.replicasForSlot(0), 'slot 0 is owned by the first member of the ring held').to.deep.equal([1, 0, 2]);
      await waitUntil(() => lines.some((l) => l.includes('ring-file:')));
      expect(lines.find((l) => l.includes('ring-file:'))).to.match(/WARN .*replica-1: nodes.toml disagrees with the ring this replica holds \(epoch 0: replica-2, replica-1, replica-3\): the members are in another order\. Following the ring held/);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      replicas = [];
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('refuses an unknown replica name with a ConfigError', async () => {
    expect((await startRefused('replica-9')).name).to.equal('ConfigError');
  });
});
