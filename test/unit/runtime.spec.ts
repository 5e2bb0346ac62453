import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import type { ClientReply, Message } from '../../src/core/messages.js';
import { Codec } from '../../src/io/codec.js';
import { clientKeys } from '../../src/io/keys.js';
import { loadOrCreateCookie } from '../../src/io/cookie.js';
import { createLogger, startReplica, type Replica } from '../../src/io/runtime.js';

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
      if (d.ok && 'id' in d.msg) this.waiting.get(d.msg.id)?.(d.msg as ClientReply);
    });
  }

  async request(port: number, msg: Message & { id: number }, deadlineMs = 3_000): Promise<ClientReply> {
    const bytes = this.codec.encode(msg);
    return new Promise((resolve, reject) => {
      const send = () => this.socket.send(bytes, port, '127.0.0.1');
      const retry = setInterval(send, 250);
      const timeout = setTimeout(() => { done(); reject(new Error(`no reply to ${msg.t} ${msg.id} within ${deadlineMs} ms`)); }, deadlineMs);
      const done = () => { clearInterval(retry); clearTimeout(timeout); this.waiting.delete(msg.id); };
      this.waiting.set(msg.id, (reply) => { done(); resolve(reply); });
      send();
    });
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
    const codec = new Codec(clientKeys(loadOrCreateCookie(join(dir, 'cookie'))), valueBytesMax);
    client = new RawClient(codec);

    const put = await client.request(ports[1]!, { t: 'put', id: 1, key: 17, value: 'héllo', level: 'ALL', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
    expect(put).to.include({ t: 'put.ok', id: 1, key: 17, coordinator: 'replica-2' });
    const get = await client.request(ports[2]!, { t: 'get', id: 2, key: 17, level: 'ALL', sentAtMs: Date.now(), deadlineMs: Date.now() + 5_000 });
    expect(get).to.include({ t: 'get.ok', id: 2, key: 17, value: 'héllo', coordinator: 'replica-3' });
    for (const r of replicas) expect(r.node.store.read(17)?.value).to.equal('héllo');
    // Three first starts at once: one of them made the cookie, and said so.
    const made = lines.filter((l) => l.includes('cookie-created:'));
    expect(made, lines.join('')).to.have.length(1);
    expect(made[0]).to.include(`made a new cluster cookie at ${join(dir, 'cookie')}`);

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
    const codec = new Codec(clientKeys(loadOrCreateCookie(join(dir, 'cookie'))), valueBytesMax);
    client = new RawClient(codec);
    client.sendRaw(ports[0]!, Buffer.from('not a datagram of ours'));
    client.sendRaw(ports[0]!, new Codec(clientKeys(Buffer.from('another cluster secret 0123456789')), valueBytesMax).encode({ t: 'status', id: 1 }));
    client.sendRaw(ports[0]!, codec.encode({ t: 'hb', from: 1, gen: 1, counter: 1, hlc: [1, 0, 1], wall: 1, digest: '0a1b2c3d' }));
    const status = await client.request(ports[0]!, { t: 'status', id: 2 });
    expect(status.t).to.equal('status.ok');
    expect(replicas[0]!.node.dropped).to.deep.include({ short: 1, forged: 1, spoofed: 1 });
  });

  it('a second replica of the same name fails to bind before it touches the log', async () => {
    replicas = [await startReplica({ configPath, name: 'replica-2', logger: pino({ level: 'silent' }) })];
    const segmentsBefore = readdirSync(replicas[0]!.dataDir).sort();
    const error = await startRefused('replica-2');
    expect(error.message).to.match(/^replica-2: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    expect(readdirSync(replicas[0]!.dataDir).sort()).to.deep.equal(segmentsBefore);
  });

  it('a replica whose data dir holds data never makes a new cookie: it refuses to start, naming the file', async () => {
    const cookieFile = join(dir, 'cookie');
    const cookie = readFileSync(cookieFile, 'utf8');
    renameSync(cookieFile, `${cookieFile}.away`);
    try {
      const error = await startRefused('replica-3');
      expect(error.name).to.equal('ConfigError');
      expect(error.message).to.equal(`replica-3: no cookie at ${cookieFile}, but ${join(dir, 'data', 'replica-3')} already holds data: `
        + 'copy the cluster\'s cookie there (the same file every replica and kvc read) rather than let this replica make a new one that its peers would refuse');
      expect(existsSync(cookieFile)).to.equal(false);
    } finally {
      renameSync(`${cookieFile}.away`, cookieFile);
    }
    // With the cookie back it starts, on the same secret.
    replicas = [await startReplica({ configPath, name: 'replica-3', logger: pino({ level: 'silent' }) })];
    expect(readFileSync(cookieFile, 'utf8')).to.equal(cookie);
  });

  it('refuses an unknown replica name with a ConfigError', async () => {
    expect((await startRefused('replica-9')).name).to.equal('ConfigError');
  });
});
