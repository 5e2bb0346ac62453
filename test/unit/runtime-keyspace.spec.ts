// A real replica (real UDP on loopback, real log files) refuses to start on data written under the
// other partitioner, changes nothing of it, and starts again on it under the right one.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { KvClient } from '../../src/client/client.js';
import { startReplica, type Replica } from '../../src/io/runtime.js';

async function freePorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function toml(ports: number[], partitioner: 'byte-ordered' | 'hashed'): string {
  return [
    `partitioner = "${partitioner}"`, 'replication_factor = 1', 'repair_mode = "both"', 'read_repair_blocking = true',
    'data_dir = "data"', 'cookie_file = "cookie"', 'gossip_interval_ms = 20', 'down_after_ms = 300',
    'write_timeout_ms = 2000', 'read_timeout_ms = 2000', 'max_hint_window_ms = 60000', 'hint_sweep_interval_ms = 100', 'anti_entropy_interval_ms = 0',
    'value_bytes_max = 60000', 'max_clock_skew_ms = 500', '',
    ...ports.map((port, i) => `[[nodes]]\nname = "replica-${i + 1}"\nhost = "127.0.0.1"\nport = ${port}\n`),
  ].join('\n');
}

describe('io/runtime: a replica and the partitioner its data was written under', function () {
  this.timeout(20_000);
  let dir: string;
  let replica: Replica | null = null;

  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-keyspace-')); });
  afterEach(async () => {
    await replica?.stop();
    replica = null;
    rmSync(dir, { recursive: true, force: true });
  });

  async function writeOne(configPath: string, key: number | string): Promise<void> {
    replica = await startReplica({ configPath, name: 'replica-1', logger: pino({ level: 'silent' }) });
    const client = await KvClient.open({ configPath });
    try {
      await client.put(key, 'kept', 'ONE');
    } finally {
      await client.close();
    }
    await replica.stop();
    replica = null;
  }

  /** Every non-empty log file, by name (a refused start may leave an empty new segment, nothing more). */
  const logFiles = (dataDir: string) => Object.fromEntries(readdirSync(dataDir).filter((f) => f !== 'generation').sort()
    .map((f) => [f, readFileSync(join(dataDir, f)).toString('hex')]).filter(([, hex]) => hex !== ''));

  for (const [written, other, key, why] of [
    ['byte-ordered', 'hashed', 17, /its log holds integer key 17, written under the byte-ordered partitioner, but nodes.toml says partitioner = "hashed"/],
    ['hashed', 'byte-ordered', 'user:42', /its log holds text key user:42, written under the hashed partitioner, but nodes.toml says partitioner = "byte-ordered"/],
  ] as const) {
    it(`data written ${written}: refused under ${other}, untouched, served again under ${written}`, async () => {
      const ports = await freePorts(1);
      const configPath = join(dir, 'nodes.toml');
      writeFileSync(configPath, toml(ports, written));
      await writeOne(configPath, key);
      const dataDir = join(dir, 'data', 'replica-1');
      const before = logFiles(dataDir);

      writeFileSync(configPath, toml(ports, other));
      let refused: Error | null = null;
      try {
        replica = await startReplica({ configPath, name: 'replica-1', logger: pino({ level: 'silent' }) });
      } catch (e) {
        refused = e as Error;
      }
      expect(refused?.name).to.equal('KeySpaceMismatchError');
      expect(refused?.message).to.match(/^replica-1: refusing to start: /).and.match(why);
      expect(logFiles(dataDir)).to.deep.equal(before);

      writeFileSync(configPath, toml(ports, written));
      replica = await startReplica({ configPath, name: 'replica-1', logger: pino({ level: 'silent' }) });
      expect(replica.node.store.read(key)?.value).to.equal('kept');
    });
  }
});
