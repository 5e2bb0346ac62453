// KvClient against fake coordinators: real UDP sockets on 127.0.0.1 that decode with the cluster's
// Codec and answer (or not) as each test scripts them. No replica runs here.
import { spawn } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { KvClient } from '../../src/client/client.js';
import type { ClientReply, ClientRequest, Message, StatusReport } from '../../src/core/messages.js';
import { Codec } from '../../src/io/codec.js';
import type { TraceReport } from '../../src/core/trace.js';
import type { Key } from '../../src/core/types.js';
import { ClientRegistry } from '../../src/io/client-registry.js';
import { writeBootstrapCredential } from '../../src/io/credentials.js';
import { newKeyringText, parseKeyring, type Keyring } from '../../src/io/keyring.js';
import { replicaKeys } from '../../src/io/keys.js';
import type { SealKey } from '../../src/io/seal.js';

const valueBytesMax = 100;
const kvcTs = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'src/cli/kvc.ts');
const dir = mkdtempSync(join(tmpdir(), 'ringkv-client-'));
const keyring = parseKeyring(newKeyringText(), 'a test keyring');
/** A replica of this cluster's keys: it opens the admin's datagrams, and its replies go under that credential. */
function replicaCodec(ring: Keyring): { codec: Codec; replyKey: SealKey } {
  const keys = replicaKeys(ring, ClientRegistry.load(dir, ring.clientRoot), 0);
  return { codec: new Codec(keys, valueBytesMax), replyKey: keys.replyKey(0)! };
}
const { codec, replyKey } = replicaCodec(keyring);

/** Answers a request, or returns null to drop it. `copy` counts the datagrams seen with this id, from 1. */
type Script = (req: ClientRequest, copy: number) => ClientReply | ClientReply[] | null;

class FakeReplica {
  readonly received: ClientRequest[] = [];
  readonly probes: ClientRequest[] = [];
  probeScript: (req: ClientRequest) => ClientReply | null = (req) => ({ t: 'time.ok', id: req.id, nowMs: Date.now(), node: this.name });
  private readonly copies = new Map<number, number>();
  script: Script = () => null;

  private constructor(readonly name: string, readonly socket: Socket) {
    socket.on('message', (datagram, from) => this.receive(datagram, from));
  }

  static async start(name: string): Promise<FakeReplica> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeReplica(name, socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  reset(script: Script): void {
    this.received.length = 0;
    this.copies.clear();
    this.script = script;
  }

  /** Sends any message, sealed by any codec under any key (another cluster's makes a forgery). */
  sendTo(to: RemoteInfo, msg: Message, withCodec = codec, key: SealKey = replyKey): void {
    this.socket.send(withCodec.encode(msg, key), to.port, to.address);
  }

  private receive(datagram: Buffer, from: RemoteInfo): void {
    // The client coalesces the requests of one event-loop turn into one datagram.
    const d = codec.decodeMany(datagram);
    if (!d.ok || d.invalid.length > 0) throw new Error(`fake ${this.name}: undecodable datagram: ${JSON.stringify(d)}`);
    for (const msg of d.msgs) this.handle(msg as ClientRequest, from);
  }

  private handle(req: ClientRequest, from: RemoteInfo): void {
    if (req.t === 'time') { // the client's clock probe, a side channel: answered with the true time unless a script says otherwise
      this.probes.push(req);
      const out = this.probeScript(req);
      if (out !== null) this.sendTo(from, out);
      return;
    }
    this.received.push(req);
    const copy = (this.copies.get(req.id) ?? 0) + 1;
    this.copies.set(req.id, copy);
    const out = this.script(req, copy);
    for (const reply of out === null ? [] : Array.isArray(out) ? out : [out]) this.sendTo(from, reply);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const stamp = [1_732_170_000_000, 0, 0] as const;

/** The obvious answer to each request, as the coordinator named `name`. */
function answer(name: string, store: Map<Key, string> = new Map()): Script {
  return (req) => {
    switch (req.t) {
      case 'get': {
        const value = store.get(req.key) ?? null;
        return { t: 'get.ok', id: req.id, key: req.key, value, stamp: value === null ? null : stamp, coordinator: name };
      }
      case 'put': store.set(req.key, req.value); return { t: 'put.ok', id: req.id, key: req.key, stamp, coordinator: name };
      case 'local': return { t: 'local.ok', id: req.id, key: req.key, value: store.get(req.key) ?? null, stamp: store.has(req.key) ? stamp : null, node: name };
      case 'status': return { t: 'status.ok', id: req.id, status: statusOf(name) };
      case 'del': store.delete(req.key); return { t: 'del.ok', id: req.id, key: req.key, stamp, coordinator: name };
      case 'repair': return { t: 'repair.ok', id: req.id, node: name, peers: [] };
      case 'state': case 'client.set': case 'time': case 'keyring': return null;
    }
  };
}

function statusOf(name: string): StatusReport {
  return {
    node: name, replicationFactor: 2, repairMode: 'both',
    ring: [{ first: 0, last: 127, replicas: ['fake-1', 'fake-2'] }, { first: 128, last: 255, replicas: ['fake-2', 'fake-1'] }],
    antiEntropyIntervalMs: 10_000,
    peers: [{ name: name === 'fake-1' ? 'fake-2' : 'fake-1', up: true, hintsPending: 3, hintsExpired: 0, antiEntropy: { rounds: 0, lastRoundMs: null, keysSent: 0, keysReceived: 0 }, clockOffsetMs: -3, clockRefused: false, configMismatch: false, forged: false, refusesOurCookie: false }],
    keysStored: 2, tombstones: 1, logBytes: 512, logRecords: 4, droppedDatagrams: { forged: 1 }, clientRequestsInFlight: 0, logWritable: true, logAppendsFailed: 0, configDigest: '0a1b2c3d', clockWarning: null, quarantinedAtReplay: 0, writesServedInMs: 0,
  };
}

/** A nodes.toml for the fakes: RF 2, 1 s coordinator timeouts, a small value limit. */
function configText(fakes: FakeReplica[], cookieFile: string): string {
  return [
    'replication_factor = 2', 'repair_mode = "both"', 'read_repair_blocking = true', 'data_dir = "data"', `cookie_file = "${cookieFile}"`,
    'gossip_interval_ms = 200', 'down_after_ms = 1000', 'write_timeout_ms = 1000', 'read_timeout_ms = 1000',
    'max_hint_window_ms = 10800000', 'hint_sweep_interval_ms = 1000', 'anti_entropy_interval_ms = 0', `value_bytes_max = ${valueBytesMax}`, 'max_clock_skew_ms = 500',
    ...fakes.map((f) => `[[nodes]]\nname = "${f.name}"\nhost = "127.0.0.1"\nport = ${f.port}`),
  ].join('\n');
}

async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(Error);
    return e as Error & Record<string, unknown>;
  }
  return expect.fail('expected a rejection');
}

describe('cli/client (against fake coordinators on loopback)', () => {
  let configPath: string;
  let fake1: FakeReplica;
  let fake2: FakeReplica;
  let client: KvClient;

  before(async () => {
    writeBootstrapCredential(join(dir, 'data', 'credentials'), keyring.clientRoot);
    fake1 = await FakeReplica.start('fake-1');
    fake2 = await FakeReplica.start('fake-2');
    configPath = join(dir, 'nodes.toml');
    writeFileSync(configPath, configText([fake1, fake2], 'cookie'));
    client = await KvClient.open({ configPath });
  });

  after(async () => {
    await client.close();
    await fake1.close();
    await fake2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends every request to its coordinator, the first node by default, and reads the replies', async () => {
    fake1.reset(answer('fake-1', new Map([[17, 'hello']])));
    expect(client.coordinator).to.equal('fake-1');
    expect(await client.get(17, 'QUORUM')).to.deep.equal({ key: 17, found: true, value: 'hello', stamp, coordinator: 'fake-1' });
    expect(await client.get(18, 'ONE')).to.deep.equal({ key: 18, found: false, value: null, stamp: null, coordinator: 'fake-1' });
    expect(await client.put('19', 'héllo ✓', 'all')).to.deep.equal({ key: 19, stamp, coordinator: 'fake-1' });
    // Each carries its age: sent now, by the wall clock, with the coordinator's 1 s timeout plus the slack to live.
    const lives = fake1.received.map((r) => ('deadlineMs' in r ? r.deadlineMs - r.sentAtMs : null));
    expect(lives).to.deep.equal([2_000, 2_000, 2_000]);
    for (const r of fake1.received) if ('sentAtMs' in r) expect(Math.abs(r.sentAtMs - Date.now())).to.be.below(5_000);
    expect(fake1.received.map((r) => ({ ...r, id: 0, sentAtMs: 0, deadlineMs: 0 }))).to.deep.equal([
      { t: 'get', id: 0, key: 17, level: 'QUORUM', sentAtMs: 0, deadlineMs: 0 },
      // Every request after the first carries the newest stamp a reply has shown this client.
      { t: 'get', id: 0, key: 18, level: 'ONE', sentAtMs: 0, deadlineMs: 0, seen: stamp },
      { t: 'put', id: 0, key: 19, value: 'héllo ✓', level: 'ALL', sentAtMs: 0, deadlineMs: 0, seen: stamp },
    ]);
    expect(client.seen).to.deep.equal(stamp);
    const ids = fake1.received.map((r) => r.id);
    expect(new Set(ids).size).to.equal(3);
  });

  it('asks the named replica for local and status', async () => {
    fake2.reset(answer('fake-2', new Map([[5, 'five']])));
    expect(await client.local(5, 'fake-2')).to.deep.equal({ key: 5, found: true, deleted: false, value: 'five', stamp, node: 'fake-2' });
    expect(await client.local('6', 'fake-2')).to.deep.equal({ key: 6, found: false, deleted: false, value: null, stamp: null, node: 'fake-2' });
    expect(await client.status('fake-2')).to.deep.equal(statusOf('fake-2'));
    expect(fake2.received.map((r) => r.t)).to.deep.equal(['local', 'local', 'status']);
  });

  it('deletes at a level, and reads a tombstone as not found (local says deleted)', async () => {
    const tombstoned = answer('fake-1', new Map([[7, 'seven']]));
    fake1.reset((req) => (req.t === 'get' && req.key === 9 ? { t: 'get.ok', id: req.id, key: 9, value: null, stamp, coordinator: 'fake-1' }
      : req.t === 'local' && req.key === 9 ? { t: 'local.ok', id: req.id, key: 9, value: null, stamp, node: 'fake-1' } : tombstoned(req, 1)));
    expect(await client.del('7', 'all')).to.deep.equal({ key: 7, deleted: true, stamp, coordinator: 'fake-1' });
    expect(await client.get(7)).to.include({ found: false, value: null });
    expect(await client.get(9)).to.deep.equal({ key: 9, found: false, value: null, stamp, coordinator: 'fake-1' });
    expect(await client.local(9)).to.deep.equal({ key: 9, found: false, deleted: true, value: null, stamp, node: 'fake-1' });
    expect(fake1.received[0]).to.deep.include({ t: 'del', key: 7, level: 'ALL' });
    expect((await rejection(client.del(256))).name).to.equal('BadInputError');
    expect((await rejection(client.del(1, 'FIVE'))).name).to.equal('BadInputError');
  });

  it('asks a replica for a repair and reports whether every peer was reached', async () => {
    fake2.reset((req) => (req.t === 'repair'
      ? { t: 'repair.ok', id: req.id, node: 'fake-2', peers: [{ name: 'fake-1', reached: false, sent: 0, received: 0, error: 'DOWN' }] } : null));
    const r = await client.repair('fake-2');
    expect(r).to.deep.equal({ node: 'fake-2', ok: false, peers: [{ name: 'fake-1', reached: false, sent: 0, received: 0, error: 'DOWN' }] });
    fake2.reset((req) => (req.t === 'repair' ? { t: 'repair.ok', id: req.id, node: 'fake-2', peers: [{ name: 'fake-1', reached: true, sent: 2, received: 1, error: null }] } : null));
    expect((await client.repair('fake-2')).ok).to.equal(true);
  });

  it('asks for a trace only when told (per request, or tracing on for all), and hands back the trace the answer carries, on errors too', async () => {
    const trace: TraceReport = {
      session: 's-1', coordinator: 0, op: 'put', key: 3, level: 'ONE', client: '127.0.0.1:1', startedAtUs: 1_000, durationUs: 20, dropped: 0, sampled: false,
      events: [{ kind: 'answered', src: 0, atUs: 1_020, elapsedUs: 20, n: 1, m: 1, why: 'write' }],
    };
    const plain = answer('fake-1');
    fake1.reset((req, copy) => {
      const asked = 'trace' in req && req.trace === true;
      if (req.t === 'del') return { t: 'fail', id: req.id, error: 'Timeout', message: 'Timeout: 0 of 1 acks', acks: 0, required: 1, ...(asked ? { trace } : {}) };
      const r = plain(req, copy);
      return r !== null && !Array.isArray(r) && asked ? { ...r, trace } as ClientReply : r;
    });
    expect(await client.put(3, 'x', 'ONE')).to.not.have.property('trace');
    expect((await client.put(3, 'x', 'ONE', { trace: true })).trace).to.deep.equal(trace);
    client.tracing = true;
    try {
      expect((await client.get(3, 'ONE')).trace).to.deep.equal(trace);
      expect((await client.get(3, 'ONE', { trace: false })).trace, 'per request wins').to.equal(undefined);
      const e = await rejection(client.del(3, 'ONE'));
      expect(e.name).to.equal('TimeoutError');
      expect(e.trace).to.deep.equal(trace);
    } finally {
      client.tracing = false;
    }
    expect(fake1.received.map((r) => ('trace' in r ? r.trace : undefined))).to.deep.equal([undefined, true, true, undefined, true]);
  });

  it('accepts the reply to a retransmitted request once, and counts the second answer as a duplicate', async () => {
    const before = { ...client.counters };
    // The first copy is "slow": it is answered only when the retransmission arrives, and both copies get an answer.
    const answerAll = answer('fake-1', new Map([[40, 'x']]));
    fake1.reset((req, copy) => {
      if (copy === 1) return null;
      const reply = answerAll(req, copy);
      return copy === 2 && reply !== null && !Array.isArray(reply) ? [reply, reply] : reply;
    });
    expect(await client.get(40, 'ONE')).to.deep.include({ value: 'x' });
    expect(fake1.received.length).to.equal(2);
    expect(fake1.received[1]).to.deep.equal(fake1.received[0]);
    await waitFor(() => client.counters.duplicates > before.duplicates);
    expect(client.counters.accepted - before.accepted).to.equal(1);
    expect(client.counters.duplicates - before.duplicates).to.equal(1);
    expect(client.counters.retransmitted - before.retransmitted).to.equal(1);
  });

  it('retransmits with backoff until answered when the first two requests are lost', async () => {
    fake1.reset((req, copy) => (copy <= 2 ? null : answer('fake-1')(req, copy)));
    expect(await client.put(41, 'v', 'TWO')).to.deep.equal({ key: 41, stamp, coordinator: 'fake-1' });
    // The same request three times (the waits follow the measured round trip, doubling each time).
    expect(fake1.received).to.have.length(3);
    expect(new Set(fake1.received.map((r) => r.id)).size).to.equal(1);
  });

  for (const error of ['Unavailable', 'Timeout', 'Overloaded', 'InvalidRequest', 'Forbidden'] as const) {
    it(`turns a ${error} reply into ${error}Error, keeping its message, acks and required`, async () => {
      fake1.reset((req) => ({ t: 'fail', id: req.id, error, message: `${error}: as the fake says`, acks: 1, required: 2 }));
      const e = await rejection(client.put(42, 'v', 'QUORUM'));
      expect(e.name).to.equal(`${error}Error`);
      expect(e.message).to.equal(`${error}: as the fake says`);
      expect(e.acks).to.equal(1);
      expect(e.required).to.equal(2);
      expect(fake1.received).to.have.length(1);
    });
  }

  it('leaves acks and required undefined when the fail reply has none', async () => {
    fake1.reset((req) => ({ t: 'fail', id: req.id, error: 'Unavailable', message: 'Unavailable: 0 of 2 replicas alive for key 43' }));
    const e = await rejection(client.get(43, 'ALL'));
    expect(e.name).to.equal('UnavailableError');
    expect(e.acks).to.equal(undefined);
    expect(e.required).to.equal(undefined);
  });

  it('turns a ClockSkew reply into ClockSkewError naming the coordinator, expired or future-dated, and the offset of its clock', async () => {
    for (const [dated, offsetMs, text, way] of [['expired', 3_600_000, 'expired', 'ahead of'], ['future', -3_600_000, 'future-dated', 'behind']] as const) {
      fake1.reset((req) => ({ t: 'fail', id: req.id, error: 'ClockSkew', dated, clockMs: Date.now() + offsetMs, message: 'ClockSkew: as the fake says' }));
      const e = await rejection(client.put(42, 'v', 'QUORUM'));
      expect(e.name).to.equal('ClockSkewError');
      expect(e).to.deep.include({ kind: 'ClockSkew', coordinator: 'fake-1', dated });
      expect(Math.abs((e as unknown as { offsetMs: number }).offsetMs - offsetMs)).to.be.below(1_000);
      expect(e.message).to.match(new RegExp(`^ClockSkew: fake-1 refused this put as ${text}: its clock is about 3[56]\\d{5} ms ${way} this client's \\(max_clock_skew_ms 500\\); fix the clock \\(NTP\\) of this host or of fake-1$`));
      expect(fake1.received, 'answered at once, not retransmitted until NoResponse').to.have.length(1);
      expect(e.mayHaveRun).to.equal(false);
    }
    // A retransmitted put refused as expired: its first copy may have been applied, and the error says so.
    fake1.reset((req, copy) => (copy === 1 ? null : { t: 'fail', id: req.id, error: 'ClockSkew', dated: 'expired', clockMs: Date.now() + 600, message: 'ClockSkew: m' }));
    const late = await rejection(client.put(42, 'v', 'QUORUM'));
    expect(late).to.deep.include({ name: 'ClockSkewError', mayHaveRun: true });
    expect(late.message).to.match(/ms ahead of this client's .*; an earlier copy of this put may have been applied$/);
  });

  it('kvc prints a ClockSkew refusal (and --json its date and offset) and exits 1', async () => {
    fake1.reset((req) => ({ t: 'fail', id: req.id, error: 'ClockSkew', dated: 'expired', clockMs: Date.now() + 3_600_000, message: 'ClockSkew: as the fake says' }));
    const kvc = (...args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', kvcTs, '--config', configPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    const plain = await kvc('put', '42', 'v');
    expect(plain.code).to.equal(1);
    expect(plain.stdout + plain.stderr).to.match(/ClockSkew: fake-1 refused this put as expired: its clock is about 3[56]\d{5} ms ahead of this client's \(max_clock_skew_ms 500\); fix the clock \(NTP\) of this host or of fake-1/);
    expect(plain.stdout + plain.stderr).not.to.match(/NoResponse|is it running/);
    const json = await kvc('--json', 'get', '42');
    expect(json.code).to.equal(1);
    const out = JSON.parse(json.stdout) as { ok: boolean; error: string; dated: string; offsetMs: number };
    expect(out).to.deep.include({ ok: false, error: 'ClockSkew', dated: 'expired' });
    expect(Math.abs(out.offsetMs - 3_600_000)).to.be.below(5_000);
  });

  it('fails with NoResponseError at the deadline when nothing answers, having retransmitted', async () => {
    const quick = await KvClient.open({ configPath, timeoutMs: 300 });
    try {
      fake1.reset(() => null);
      const startedAt = performance.now();
      const e = await rejection(quick.get(44, 'ONE'));
      const elapsedMs = performance.now() - startedAt;
      expect(e.name).to.equal('NoResponseError');
      expect(e.message).to.match(/^no reply from fake-1 \(127\.0\.0\.1:\d+\) within the deadline/);
      expect(elapsedMs).to.be.within(290, 900);
      expect(fake1.received.length).to.be.within(3, 5); // sent at 0, ~50, ~150, (~350 is past the deadline)
      expect(quick.inFlight).to.equal(0);
    } finally {
      await quick.close();
    }
  });

  it('refuses bad input with BadInputError, sending nothing', async () => {
    fake1.reset(answer('fake-1'));
    fake2.reset(answer('fake-2'));
    const refusals: [Promise<unknown>, RegExp][] = [
      [client.get(256, 'ONE'), /^key: expected an integer in 0\.\.255, got 256$/],
      [client.get('abc', 'ONE'), /^key: expected an integer in 0\.\.255, got "abc"$/],
      [client.get(1.5, 'ONE'), /^key: expected an integer in 0\.\.255, got 1\.5$/],
      [client.put(1, 'x'.repeat(valueBytesMax + 1), 'ONE'), /^value: 101 bytes in UTF-8, over the cluster's limit of 100/],
      [client.put(1, 'é'.repeat(51), 'ONE'), /^value: 102 bytes in UTF-8/],
      [client.put(1, '\ud800', 'ONE'), /^value: not well-formed Unicode/],
      [client.get(1, 'FIVE'), /^level: expected one of ONE, TWO, THREE, QUORUM, ALL, got "FIVE"$/],
      [client.put(1, 'v', 'THREE'), /^level THREE needs 3 replicas but the replication factor is 2$/],
      [client.local(1, 'replica-9'), /^node: unknown replica "replica-9" \(replicas: fake-1, fake-2\)$/],
      [client.status('replica-9'), /^node: unknown replica "replica-9"/],
      [KvClient.open({ configPath, coordinator: 'replica-9' }), /^coordinator: unknown replica "replica-9" \(replicas: fake-1, fake-2\)$/],
      [KvClient.open({ configPath, timeoutMs: 0 }), /^timeout: expected an integer/],
    ];
    for (const [p, message] of refusals) {
      const e = await rejection(p);
      expect(e.name, e.message).to.equal('BadInputError');
      expect(e.message).to.match(message);
    }
    // A value exactly at the limit goes through; loopback keeps order, so this is the first datagram either fake sees.
    expect(await client.put(1, 'x'.repeat(valueBytesMax), 'TWO')).to.deep.include({ key: 1 });
    expect(fake1.received.map((r) => r.t)).to.deep.equal(['put']);
    expect(fake2.received).to.deep.equal([]);
  });

  it('checks a level against the replication factor without sending', () => {
    expect(client.checkLevel('quorum')).to.equal('QUORUM');
    expect(client.checkLevel('TWO')).to.equal('TWO');
    expect(() => client.checkLevel('THREE')).to.throw(/needs 3 replicas/).with.property('name', 'BadInputError');
  });

  it('holds many requests in flight and matches each reply to its request by id', async () => {
    const store = new Map(Array.from({ length: 64 }, (_, k) => [k, `v${k}`] as [number, string]));
    const held: { req: ClientRequest; reply: ClientReply }[] = [];
    const answerAll = answer('fake-1', store);
    let from: RemoteInfo | undefined;
    fake1.socket.once('message', (_d, r) => { from = r; });
    // Hold every first copy, then answer them all in reverse order; retransmissions are ignored.
    fake1.reset((req, copy) => {
      if (copy === 1) held.push({ req, reply: answerAll(req, copy) as ClientReply });
      return null;
    });
    const results = Promise.all(Array.from({ length: 64 }, (_, k) => client.get(k, 'ONE')));
    await waitFor(() => held.length === 64);
    expect(client.inFlight).to.equal(64);
    for (const { reply } of held.reverse()) fake1.sendTo(from as RemoteInfo, reply);
    const got = await results;
    expect(got.map((r) => r.value)).to.deep.equal(Array.from({ length: 64 }, (_, k) => `v${k}`));
    expect(client.inFlight).to.equal(0);
  });

  it('drops forged replies and replies of the wrong type, then accepts the real one', async () => {
    const before = { ...client.counters.dropped };
    const forger = replicaCodec(parseKeyring(newKeyringText(), 'another cluster\'s keyring'));
    fake1.reset((req, copy) => {
      if (copy > 1) return null;
      const real = answer('fake-1', new Map([[50, 'real']]))(req, copy) as ClientReply;
      return [
        { ...real, value: 'forged' } as ClientReply,
        { t: 'put.ok', id: req.id, key: 50, stamp, coordinator: 'fake-1' },
        { t: 'get', id: req.id, key: 50, level: 'ONE', sentAtMs: 1, deadlineMs: 2 } as unknown as ClientReply,
        real,
      ];
    });
    // The forged copy is sealed under the other cluster's keys, the rest under ours.
    const origSendTo = fake1.sendTo.bind(fake1);
    let n = 0;
    fake1.sendTo = (to, msg) => (n++ === 0 ? origSendTo(to, msg, forger.codec, forger.replyKey) : origSendTo(to, msg));
    try {
      expect(await client.get(50, 'ONE')).to.deep.include({ value: 'real' });
    } finally {
      fake1.sendTo = origSendTo;
    }
    const dropped = client.counters.dropped;
    expect((dropped.forged ?? 0) - (before.forged ?? 0)).to.equal(1);
    expect((dropped.mismatched ?? 0) - (before.mismatched ?? 0)).to.equal(1);
    expect((dropped.unexpected ?? 0) - (before.unexpected ?? 0)).to.equal(1);
  });

  it('a NoResponse from a coordinator whose clock is an hour ahead says so, and by how much', async () => {
    const c = await KvClient.open({ configPath, timeoutMs: 800 });
    try {
      // It refuses every request as expired (unanswered), but answers the clock probe.
      fake1.reset(() => null);
      fake1.probeScript = (req) => ({ t: 'time.ok', id: req.id, nowMs: Date.now() + 3_600_000, node: 'fake-1' });
      fake1.probes.length = 0;
      const e = await rejection(c.get(5, 'ONE'));
      expect(e.name).to.equal('NoResponseError');
      expect(e.message).to.match(/^no reply from fake-1 \(127\.0\.0\.1:\d+\) within the deadline: its clock is about 3600\d{3} ms ahead of this client's \(max_clock_skew_ms 500; it answered a clock probe\), so it takes this client's requests for expired ones/);
      expect(fake1.probes).to.have.length(1);
      // Clocks that agree: the usual message.
      fake1.probeScript = (req) => ({ t: 'time.ok', id: req.id, nowMs: Date.now(), node: 'fake-1' });
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await rejection(c.get(6, 'ONE'))).message).to.match(/within the deadline; is it running\?$/);
    } finally {
      fake1.probeScript = (req) => ({ t: 'time.ok', id: req.id, nowMs: Date.now(), node: 'fake-1' });
      await c.close();
    }
  });

  it('opens against another coordinator by name', async () => {
    const other = await KvClient.open({ configPath, coordinator: 'fake-2' });
    try {
      fake2.reset(answer('fake-2', new Map([[7, 'seven']])));
      expect(other.coordinator).to.equal('fake-2');
      expect(await other.get(7, 'ONE')).to.deep.include({ value: 'seven', coordinator: 'fake-2' });
      expect(fake2.received).to.have.length(1);
    } finally {
      await other.close();
    }
  });

  it('fails open requests with NoResponseError on close, and refuses new ones', async () => {
    const closing = await KvClient.open({ configPath });
    fake1.reset(() => null);
    const pending = closing.get(60, 'ONE');
    await closing.close();
    const e = await rejection(pending);
    expect(e.name).to.equal('NoResponseError');
    expect(e.message).to.equal('client closed before fake-1 answered');
    expect((await rejection(closing.get(60, 'ONE'))).name).to.equal('NoResponseError');
  });

  it('needs a credential: a missing one is a ConfigError saying where it looked and how to get one', async () => {
    const e = await rejection(KvClient.open({ configPath, credentials: join(dir, 'missing', 'credentials') }));
    expect(e.name).to.equal('ConfigError');
    expect(e.message).to.match(new RegExp(`^no credentials at ${join(dir, 'missing', 'credentials')}: .*kvc client add <id> --role`));
    const eConfig = await rejection(KvClient.open({ configPath: join(dir, 'absent.toml') }));
    expect(eConfig.name).to.equal('ConfigError');
  });

  /** A port nothing listens on: bound once to learn a free one, then closed. */
  async function deadPort(): Promise<number> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }

  function configWithDeadFirst(port: number, name: string): string {
    const path = join(dir, `${name}.toml`);
    writeFileSync(path, configText([fake2], 'cookie').replace('[[nodes]]', `[[nodes]]\nname = "dead"\nhost = "127.0.0.1"\nport = ${port}\n\n[[nodes]]`));
    return path;
  }

  it('reports a replica nothing listens for as soon as its host refuses, naming it, well before the deadline', async () => {
    const port = await deadPort();
    const c = await KvClient.open({ configPath: configWithDeadFirst(port, 'dead-first'), timeoutMs: 20_000 });
    try {
      // A 20 s deadline: only the refusal can end this request before mocha's own timeout.
      const e = await rejection(c.get(5, 'ONE'));
      expect(e.name).to.equal('NoResponseError');
      expect(e.message).to.equal(`dead (127.0.0.1:${port}) refused: nothing listens on its port; is it running?`);
    } finally {
      await c.close();
    }
  });

  it("coordinator 'any' passes over a replica that does not answer, says which one served, and stays with it", async () => {
    const port = await deadPort();
    const c = await KvClient.open({ configPath: configWithDeadFirst(port, 'dead-any'), coordinator: 'any', timeoutMs: 20_000 });
    try {
      fake2.reset(answer('fake-2', new Map([[9, 'nine']])));
      expect(await c.get(9, 'ONE')).to.deep.include({ value: 'nine', coordinator: 'fake-2' });
      expect(c.coordinator).to.equal('fake-2');
      expect(await c.put(9, 'neun', 'ONE')).to.deep.include({ coordinator: 'fake-2' });
      // A coordinator's own error is its answer: not retried elsewhere.
      fake2.reset((req) => ({ t: 'fail', id: req.id, error: 'Unavailable', message: 'Unavailable: 1 of 2 alive' }));
      expect((await rejection(c.get(9, 'TWO'))).name).to.equal('UnavailableError');
      expect(fake2.received).to.have.length(1);
    } finally {
      await c.close();
    }
  });

  it("coordinator 'any' with no replica answering names each one", async () => {
    const ports = [await deadPort(), await deadPort()];
    const path = join(dir, 'all-dead.toml');
    writeFileSync(path, configText([], 'cookie') + ports.map((p, i) => `\n[[nodes]]\nname = "dead-${i + 1}"\nhost = "127.0.0.1"\nport = ${p}\n`).join(''));
    const c = await KvClient.open({ configPath: path, coordinator: 'any', timeoutMs: 20_000 });
    try {
      const e = await rejection(c.get(1, 'ONE'));
      expect(e.name).to.equal('NoResponseError');
      expect(e.message).to.equal(`no replica answered: ${ports.map((p, i) => `dead-${i + 1} (127.0.0.1:${p}) refused: nothing listens on its port; is it running?`).join('; ')}`);
    } finally {
      await c.close();
    }
  });

  it('cancelAll fails the requests in flight with CancelledError and the client keeps working', async () => {
    fake1.reset(() => null);
    const pending = client.get(3, 'ONE');
    await waitFor(() => fake1.received.length > 0);
    client.cancelAll('Ctrl-C');
    const e = await rejection(pending);
    expect(e.name).to.equal('CancelledError');
    expect(e.message).to.equal('Ctrl-C before fake-1 answered');
    expect(client.inFlight).to.equal(0);
    fake1.reset(answer('fake-1', new Map([[3, 'three']])));
    expect(await client.get(3, 'ONE')).to.deep.include({ value: 'three' });
  });
});

/** Polls a condition set by socket events; fails after a bound instead of hanging the suite. */
async function waitFor(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > until) expect.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
