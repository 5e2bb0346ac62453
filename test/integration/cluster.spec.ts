// The real cluster, in hinted-handoff mode: four kvd processes under pm2 (the repo's
// ecosystem.config.js), real UDP on 127.0.0.1, driven through KvClient, kvc and raw datagrams.
// One cluster for the whole file; the tests run in order and the destructive ones come last.
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { expect } from 'chai';
import { KvError, UnavailableError } from '../../src/client/client.js';
import type { Message } from '../../src/core/messages.js';
import type { Key, Level } from '../../src/core/types.js';
import { Codec, tagBytes } from '../../src/io/codec.js';
import { loadCredential } from '../../src/io/credentials.js';
import { loadKeyring } from '../../src/io/keyring.js';
import { clientKeys, peerKeys } from '../../src/io/keys.js';
import { Cluster, replicaNames, replicasOf, rejection, sleep, waitFor, type ReplicaName } from './harness.js';

const levels: readonly Level[] = ['ONE', 'TWO', 'THREE', 'QUORUM', 'ALL'];
/** A read level that shares at least one replica with a write at the given level (W + R > RF = 3). */
const overlappingRead: Record<Level, Level> = { ONE: 'ALL', TWO: 'TWO', THREE: 'ONE', QUORUM: 'QUORUM', ALL: 'ONE' };
const stampText = String.raw`\d+\.\d+@\d+`;

describe('integration: the real cluster (pm2, UDP, hinted handoff)', function () {
  this.timeout(60_000);
  let cluster: Cluster;

  before(async function () {
    this.timeout(40_000);
    cluster = await Cluster.start({ repairMode: 'hinted-handoff' });
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
  });

  it('puts and gets at every level through every coordinator (KvClient)', async () => {
    const s = await cluster.status('replica-2');
    expect(s.ring.map((r) => [r.first, r.last, r.replicas])).to.deep.equal([0, 64, 128, 192].map((first) => [first, first + 63, replicasOf(first)]));

    const clients = await Promise.all(replicaNames.map((n) => cluster.client(n)));
    // One key per (coordinator, level), each coordinator's keys in all four ranges: so each is also asked for keys it does not hold.
    const writes = clients.flatMap((c, ci) => levels.map((level, li) => ({
      c, level, key: ((ci + li) % 4) * 64 + ci * levels.length + li + 1, value: `${c.coordinator} wrote at ${level} ✓`,
    })));
    for (const n of replicaNames) expect(writes.some((w) => w.c.coordinator === n && !replicasOf(w.key).includes(n)), n).to.equal(true);

    for (const w of writes) {
      const put = await w.c.put(w.key, w.value, w.level);
      expect(put, `put ${w.key} at ${w.level} via ${w.c.coordinator}`).to.include({ key: w.key, coordinator: w.c.coordinator });
      const got = await w.c.get(w.key, overlappingRead[w.level]);
      expect(got, `get ${w.key} at ${overlappingRead[w.level]} via ${w.c.coordinator} after a put at ${w.level}`)
        .to.deep.include({ key: w.key, found: true, value: w.value, stamp: put.stamp, coordinator: w.c.coordinator });
    }

    // Every write reaches all three replicas, whatever level it was acked at ...
    await waitFor('every replica to hold every write', async () => {
      const copies = await Promise.all(writes.flatMap((w) => replicasOf(w.key).map((r) => clients[0]!.local(w.key, r))));
      return copies.every((l) => writes.some((w) => w.key === l.key && w.value === l.value));
    }, 5_000);
    // ... so now every coordinator reads every key at every level.
    await Promise.all(clients.map(async (c) => {
      for (const w of writes) {
        const got = await Promise.all(levels.map((level) => c.get(w.key, level)));
        got.forEach((g, i) => expect(g, `get ${w.key} at ${levels[i]} via ${c.coordinator}`).to.include({ found: true, value: w.value, coordinator: c.coordinator }));
      }
    }));
  });

  it('the shell on a pipe: one result line per command, both syntaxes', async () => {
    const r = await cluster.kvc(['--coordinator', 'replica-2'], 'put 17 "hello world" QUORUM\nget 17\nget,17,ALL\nput,18,x,ONE\n');
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines, r.stdout).to.have.length(4);
    const put = new RegExp(`^OK 17 \\(stamp (${stampText}), coordinator replica-2\\)$`).exec(lines[0]!);
    expect(put, lines[0]).to.not.equal(null);
    const stamp = put![1]!;
    expect(lines[1]).to.equal(`17 = "hello world" (stamp ${stamp}, coordinator replica-2)`);
    expect(lines[2]).to.equal(`17 = "hello world" (stamp ${stamp}, coordinator replica-2)`);
    expect(lines[3]).to.match(new RegExp(`^OK 18 \\(stamp ${stampText}, coordinator replica-2\\)$`));
    const c = await cluster.client('replica-4');
    expect(await c.get(18, 'ALL')).to.include({ found: true, value: 'x' });
    expect(await c.get(17, 'ALL')).to.include({ found: true, value: 'hello world' });

    // A refused line still answers with one line, and the exit status says input was refused.
    const bad = await cluster.kvc(['--coordinator', 'replica-2'], 'get 256\nget 17 ONE\n');
    expect(bad.code).to.equal(2);
    const badLines = bad.stdout.trimEnd().split('\n');
    expect(badLines, bad.stdout).to.have.length(2);
    expect(badLines[0]).to.match(/^BadInput: key: expected an integer in 0\.\.255, got 256$/);
    expect(badLines[1]).to.equal(`17 = "hello world" (stamp ${stamp}, coordinator replica-2)`);
  });

  it('two shells on two coordinators at once read each other\'s writes', async () => {
    const one = cluster.shell(['--coordinator', 'replica-1']);
    const three = cluster.shell(['--coordinator', 'replica-3']);
    const keysOfOne = [40, 41, 42, 43, 100, 101, 150, 151];
    const keysOfThree = [200, 201, 202, 203, 60, 61, 130, 131];
    const write = async (sh: typeof one, keys: Key[], tag: string, coordinator: string) => {
      for (const k of keys) {
        expect(await sh.send(`put ${k} "${tag} ${k}"`)).to.match(new RegExp(`^OK ${k} \\(stamp ${stampText}, coordinator ${coordinator}\\)$`));
      }
    };
    const read = async (sh: typeof one, keys: Key[], tag: string, coordinator: string) => {
      for (const k of keys) {
        expect(await sh.send(`get ${k}`)).to.match(new RegExp(`^${k} = "${tag} ${k}" \\(stamp ${stampText}, coordinator ${coordinator}\\)$`));
      }
    };
    await Promise.all([write(one, keysOfOne, 'from one', 'replica-1'), write(three, keysOfThree, 'from three', 'replica-3')]);
    await Promise.all([read(one, keysOfThree, 'from three', 'replica-1'), read(three, keysOfOne, 'from one', 'replica-3')]);
    const [endOne, endThree] = await Promise.all([one.end(), three.end()]);
    expect(endOne).to.include({ code: 0, stderr: '' });
    expect(endThree).to.include({ code: 0, stderr: '' });
  });

  it('kvc client add issues a read-only credential on every replica; its put is Forbidden; revoked, every replica refuses it', async () => {
    const file = join(cluster.dir, 'reader.credentials');
    const added = await cluster.kvc(['client', 'add', 'reader', '--role', 'read', '--out', file]);
    expect(added, added.stderr).to.include({ code: 0 });
    expect(added.stdout).to.contain('issued client reader on every replica (replica-1, replica-2, replica-3, replica-4)');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const again = await cluster.kvc(['client', 'add', 'reader', '--role', 'read', '--out', file]);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.contain(`${file} exists already`);

    const admin = await cluster.client('replica-1');
    await admin.put(44, 'readable', 'ALL');
    const asReader = (args: string[]) => cluster.kvc(['--credentials', file, ...args]);
    const got = await asReader(['get', '44', '--json']);
    expect(JSON.parse(got.stdout)).to.deep.include({ ok: true, value: 'readable' });
    const put = await asReader(['put', '44', 'overwritten', '--json']);
    expect(put.code).to.equal(1);
    expect(JSON.parse(put.stdout)).to.deep.include({ ok: false, error: 'Forbidden', message: 'Forbidden: client "reader" has role read; \'put\' needs role write or admin' });
    expect((await asReader(['status'])).stderr).to.contain('Forbidden:');
    expect((await admin.get(44, 'ALL')).value).to.equal('readable');

    const revoked = await cluster.kvc(['client', 'revoke', 'reader']);
    expect(revoked, revoked.stderr).to.include({ code: 0 });
    expect(revoked.stdout).to.contain('revoked client reader on every replica');
    for (const n of replicaNames) {
      const r = await asReader(['get', '44', '--coordinator', n, '--json']);
      expect(JSON.parse(r.stdout), n).to.deep.include({ ok: false, error: 'Forbidden', message: 'Forbidden: the credential of client "reader" is revoked (kvc client add issues a new one)' });
    }
  });

  it('kvc keyring: install, use and remove rotate the peer key on every replica while it serves', async () => {
    const listed = await cluster.kvc(['keyring', 'list', '--json']);
    expect(listed.code, listed.stderr).to.equal(0);
    const old = (JSON.parse(listed.stdout) as { replicas: { use: number }[] }).replicas[0]!.use;
    const installed = await cluster.kvc(['keyring', 'install', '--json']);
    expect(installed.code, installed.stdout + installed.stderr).to.equal(0);
    const fresh = (JSON.parse(installed.stdout) as { keyId: number }).keyId;
    const used = await cluster.kvc(['keyring', 'use', String(fresh)]);
    expect(used.stdout).to.contain(`keyring use ${fresh}: every replica`);
    const refused = await cluster.kvc(['keyring', 'remove', String(fresh)]);
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.contain('refused, sent to no replica');
    expect((await cluster.kvc(['keyring', 'remove', String(old)])).code).to.equal(0);
    const after = await cluster.kvc(['keyring', 'list']);
    expect(after.stdout).to.contain('(all agree)');
    expect(after.stdout).to.contain(`replica-4: keys ${fresh} (in use)`);
    const c = await cluster.client('replica-2');
    await c.put(45, 'under the new key', 'ALL');
    expect((await c.get(45, 'ALL')).value).to.equal('under the new key');
  });

  it('random, truncated and forged datagrams are dropped and counted by reason; replicas keep serving', async () => {
    const before = await cluster.processes();
    const credential = loadCredential(join(cluster.dir, 'data/credentials'));
    const keyring = loadKeyring(join(cluster.dir, 'data/keyring'), { mayCreate: false }).keyring!;
    const codec = new Codec(clientKeys(credential), 60_000);
    const cbor = new Encoder({ mapsAsObjects: true, useRecords: false });
    const tagged = (payload: Uint8Array) => codec.sealPayload(payload);
    const target: Key = 33; // held by replica-1, -2, -3
    const writer = await cluster.client('replica-1');
    await writer.put(target, 'genuine', 'ALL');

    const put = (id: number, value: string): Message => ({ t: 'put', id, key: target, value, level: 'ONE', sentAtMs: Date.now(), deadlineMs: Date.now() + 10_000 });
    const real = codec.encode(put(8, 'cut short'));
    const realPayload = cbor.encode(put(8, 'cut short'));
    const notOurs = (n: number) => { const b = randomBytes(n); b[0] = 0x80 | b[0]!; return b; }; // no version of ours
    const junkFor = (self: number): { reason: string; bytes: Buffer }[] => [
      ...Array.from({ length: 10 }, () => ({ reason: 'short', bytes: randomBytes(randomInt(1, tagBytes + 1)) })),
      { reason: 'short', bytes: real.subarray(0, 20) },
      ...Array.from({ length: 10 }, () => ({ reason: 'version', bytes: notOurs(randomInt(tagBytes + 1, 1_500)) })),
      // A real datagram's header (a key the replica holds) over random bytes.
      ...Array.from({ length: 10 }, () => ({ reason: 'forged', bytes: Buffer.concat([real.subarray(0, 26), randomBytes(randomInt(17, 1_500))]) })),
      { reason: 'forged', bytes: new Codec(clientKeys({ ...credential, key: randomBytes(32) }), 60_000).encode(put(7, 'forged')) },
      { reason: 'forged', bytes: real.subarray(0, real.length - 3) },
      { reason: 'cbor', bytes: tagged(realPayload.subarray(0, realPayload.length - 3)) },
      { reason: 'invalid', bytes: tagged(cbor.encode({ t: 'put', id: 9, key: 999, value: 'no such key', level: 'ONE' })) },
      // A heartbeat under a client's credential is forbidden; under the peer key but from the test's address, spoofed.
      { reason: 'forbidden', bytes: tagged(cbor.encode({ t: 'hb', from: (self + 1) % 4, gen: 1, counter: 1, hlc: [1, 0, (self + 1) % 4], wall: 1, digest: '0a1b2c3d' })) },
      { reason: 'spoofed', bytes: new Codec(peerKeys(keyring, (self + 1) % 4), 60_000).encode({ t: 'hb', from: (self + 1) % 4, gen: 1, counter: 1, hlc: [1, 0, (self + 1) % 4], wall: 1, digest: '0a1b2c3d' }) },
      { reason: 'oversize', bytes: randomBytes(65_100) },
    ];

    const droppedBefore = await Promise.all(replicaNames.map(async (n) => (await cluster.status(n)).droppedDatagrams));
    const socket = await udpSocket();
    const expected: Record<string, number>[] = [];
    try {
      for (const [i, port] of cluster.ports.entries()) {
        const junk = junkFor(i);
        expected.push(countBy(junk.map((j) => j.reason)));
        for (const j of junk) await send(socket, j.bytes, port);
      }
    } finally {
      socket.close();
    }

    const deltas = await waitFor('every replica to count every datagram sent', async () => {
      const now = await Promise.all(replicaNames.map(async (n) => (await cluster.status(n)).droppedDatagrams));
      const d = now.map((counts, i) => delta(droppedBefore[i]!, counts));
      return d.every((x, i) => Object.values(x).reduce((a, b) => a + b, 0) >= Object.values(expected[i]!).reduce((a, b) => a + b, 0)) ? d : false;
    }, 5_000);
    deltas.forEach((d, i) => expect(d, `${replicaNames[i]}: droppedDatagrams by reason`).to.deep.equal(expected[i]));
    const text = await cluster.kvc(['status', '--coordinator', 'replica-2']);
    expect(text.stdout).to.match(/dropped datagrams: .*forged \d+/);
    // The coordinator holds hints for its peers only, and is not listed under its own.
    expect(text.stdout).to.match(/^hints pending: replica-1 \d+, replica-3 \d+, replica-4 \d+$/m);

    // Neither the forged put nor the cut-short one ran.
    for (const r of replicasOf(target)) expect(await writer.local(target, r), r).to.include({ value: 'genuine' });
    // Every replica still serves, as coordinator and as replica, and none crashed on the way.
    for (const n of replicaNames) {
      const c = await cluster.client(n);
      const key = 34 + replicaNames.indexOf(n) * 64;
      await c.put(key, `after junk via ${n}`, 'ALL');
      expect(await c.get(key, 'ALL')).to.include({ value: `after junk via ${n}` });
    }
    expect((await cluster.processes()).map((p) => [p.name, p.pid, p.restarts])).to.deep.equal(before.map((p) => [p.name, p.pid, p.restarts]));
  });

  it('pm2 stop replica-3: ALL is Unavailable, ONE and QUORUM succeed with hints; pm2 start delivers them unasked', async () => {
    const coordinator: ReplicaName = 'replica-1';
    const c = await cluster.client(coordinator);
    await c.put(100, 'before the stop', 'ALL');
    expect((await cluster.status(coordinator)).peers.map((p) => p.hintsPending), 'no hints before the test').to.deep.equal([0, 0, 0, 0]);

    await cluster.stop('replica-3');
    let stopped = true;
    try {
      await waitFor(`${coordinator} to see replica-3 DOWN`, async () => !(await cluster.sees(coordinator, 'replica-3')), 3_000);

      // ALL on keys replica-3 holds: Unavailable, exit status 1, and nothing written.
      const putAll = await cluster.kvc(['put', '100', 'never stored', '--cl', 'ALL', '--json', '--coordinator', coordinator]);
      expect(putAll.code, putAll.stdout + putAll.stderr).to.equal(1);
      const putAllJson = JSON.parse(putAll.stdout) as { ok: boolean; error: string; message: string };
      expect(putAllJson).to.include({ ok: false, error: 'Unavailable' });
      expect(putAllJson.message).to.contain('replica-3');
      const getAll = await cluster.kvc(['get', '20', '--cl', 'ALL', '--json', '--coordinator', coordinator]);
      expect(getAll.code).to.equal(1);
      expect(JSON.parse(getAll.stdout)).to.include({ ok: false, error: 'Unavailable' });
      const viaClient = await rejection(c.put(150, 'never stored either', 'ALL'));
      expect(viaClient).to.be.instanceOf(UnavailableError);
      for (const r of ['replica-2', 'replica-4'] as const) expect(await c.local(100, r), r).to.include({ value: 'before the stop' });

      // ONE and QUORUM succeed; each key replica-3 holds gets one hint, the newest write's.
      const missed = new Map<Key, string>();
      const writes: [Key, string, Level][] = [
        [20, 'q first', 'QUORUM'], [20, 'q second', 'QUORUM'], [100, 'one 100', 'ONE'],
        [150, 'q 150', 'QUORUM'], [60, 'one 60', 'ONE'], [200, 'q 200 (not on replica-3)', 'QUORUM'],
      ];
      for (const [key, value, level] of writes) {
        await c.put(key, value, level);
        if (replicasOf(key).includes('replica-3')) missed.set(key, value);
      }
      for (const [key, value] of missed) expect(await c.get(key, 'QUORUM')).to.include({ value });
      // A ONE put may be acked before the coordinator's hint record is synced: allow it a moment.
      type Peers = { name: string; up: boolean; hintsPending: number; hintsExpired: number }[];
      const peers = await waitFor(`kvc status on ${coordinator} to count ${missed.size} hints for replica-3`, async () => {
        const status = await cluster.kvc(['status', '--json', '--coordinator', coordinator]);
        expect(status.code, status.stdout + status.stderr).to.equal(0);
        const p = (JSON.parse(status.stdout) as { peers: Peers }).peers;
        return p.find((x) => x.name === 'replica-3')?.hintsPending === missed.size ? p : false;
      }, 2_000);
      expect(peers.find((p) => p.name === 'replica-3')).to.deep.include({ name: 'replica-3', up: false, hintsPending: missed.size, hintsExpired: 0 });
      expect(peers.filter((p) => p.name !== 'replica-3').map((p) => p.hintsPending)).to.deep.equal([0, 0, 0]);

      // From here on no client request goes to anyone: only `local`, which is not coordinated.
      const startedMs = Date.now();
      await cluster.start('replica-3');
      stopped = false;
      await waitFor('replica-3 to hold every write it missed', async () => {
        const seen = await Promise.all([...missed.keys()].map((k) => cluster.kvc(['local', String(k), '--node', 'replica-3', '--json'])));
        return seen.every((r, i) => r.code === 0 && (JSON.parse(r.stdout) as { value: string }).value === [...missed.values()][i]);
      }, 8_000, 100);
      const healedMs = Date.now() - startedMs;
      expect(healedMs, 'hints delivered within a few seconds of pm2 start').to.be.below(8_000);
      await waitFor(`${coordinator} to forget the delivered hints`, async () =>
        (await cluster.status(coordinator)).peers.find((p) => p.name === 'replica-3')!.hintsPending === 0, 3_000);

      // Readable pm2 log lines for both ends of the hand-off: the first hint stored gets a line, later
      // ones a summary per second ("hints stored for replica-3: 3 more writes (keys 20, 100, 60); …").
      const hintedKeys = (text: string) => new Set(text.split('\n').filter((l) => / hint-stored: hints? stored for replica-3: /.test(l))
        .flatMap((l) => [...(/: key (\d+) \(/.exec(l)?.slice(1) ?? []), ...(/\(keys ([\d, ]+)\)/.exec(l)?.[1]?.split(', ') ?? [])]).map(Number));
      const log = await waitFor('the hint lines in the pm2 log', () => {
        const text = cluster.log(coordinator);
        const logged = hintedKeys(text);
        return /hints-delivered: hints delivered to replica-3/.test(text) && [...missed.keys()].every((k) => logged.has(k as number)) ? text : false;
      }, 3_000);
      expect(log).to.match(new RegExp(`INFO  replica-1 hint-stored: hint stored for replica-3: key ${[...missed.keys()][0]} \\(${stampText}\\)$`, 'm'));
      expect(hintedKeys(log).has(200), 'no hint for a key replica-3 does not hold').to.equal(false);
      expect(log).to.match(/peer-down: peer replica-3 DOWN/);
      expect(log).to.match(/hints-delivered: hints delivered to replica-3: \d+ \(keys [\d, ]+\); 0 left/);
    } finally {
      if (stopped) await cluster.start('replica-3');
    }
    await cluster.waitUntilServing();
  });

  it('kill -9 of every replica while writing: after pm2 restarts them every acknowledged QUORUM write is read back', async function () {
    this.timeout(90_000);
    const running = await cluster.processes();
    const clients = await Promise.all(replicaNames.map((n) => cluster.client(n, 2_500)));
    /** Per key, every attempt in order. Keys are split between lanes, so each key's writes are sequential. */
    const attempts = new Map<Key, { value: string; acked: boolean }[]>();
    const errors: Record<string, number> = {};
    const lanes = 16;
    const killAtAcks = 200;
    let acked = 0;
    let killing: Promise<void> | null = null;
    let killed = false;

    // Each lane writes until the kill has landed, then finishes the put it has in flight (its client
    // hears the dead coordinator's port refuse, or retransmits to the restarted one) and stops: so
    // most keys' newest acked write is one the replicas only hold in their logs when they come back.
    // A key with no acked write may read what earlier tests left in it.
    const earlier = new Map<Key, string | null>();
    await Promise.all(Array.from({ length: 256 }, async (_, key) => { earlier.set(key, (await clients[0]!.get(key, 'QUORUM')).value); }));
    const lane = async (l: number) => {
      const c = clients[l % clients.length]!;
      const keys = Array.from({ length: 256 / lanes }, (_, i) => i * lanes + l);
      for (let n = 0; !killed; n++) {
        const key = keys[n % keys.length]!;
        const attempt = { value: `lane ${l} attempt ${n} via ${c.coordinator}`, acked: false };
        attempts.set(key, [...(attempts.get(key) ?? []), attempt]);
        try {
          await c.put(key, attempt.value, 'QUORUM');
          attempt.acked = true;
          acked++;
          // Pids taken beforehand, so the kill lands mid-stream, with puts of every lane in flight.
          if (acked >= killAtAcks && killing === null) killing = cluster.kill9All(running).then(() => { killed = true; });
        } catch (e) {
          if (!(e instanceof KvError)) throw e;
          errors[e.name] = (errors[e.name] ?? 0) + 1;
          await sleep(50);
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
    await killing;
    await cluster.waitUntilRestarted(running);
    await cluster.waitUntilServing();
    const attemptCount = [...attempts.values()].reduce((n, a) => n + a.length, 0);
    if (process.env.KV_IT_VERBOSE) console.log({ acked, attempts: attemptCount, keys: attempts.size, errors });
    expect(acked).to.be.at.least(killAtAcks);

    const reader = await cluster.client('replica-2');
    const lost: string[] = [];
    await Promise.all([...attempts].map(async ([key, tries]) => {
      const last = tries.map((t) => t.acked).lastIndexOf(true);
      // The newest acked value, or a later attempt that failed to ack but may have landed.
      const allowed = last < 0 ? [earlier.get(key) ?? null, ...tries.map((t) => t.value)] : tries.slice(last).map((t) => t.value);
      const got = await reader.get(key, 'QUORUM');
      if (!allowed.includes(got.value)) lost.push(`key ${key}: read ${JSON.stringify(got.value)}, expected one of ${JSON.stringify(allowed)}`);
    }));
    expect(lost, `acknowledged writes lost (errors seen: ${JSON.stringify(errors)})`).to.deep.equal([]);

    // Each replica's pm2 log shows its restart replaying the log it had written.
    for (const n of replicaNames) {
      const starts = cluster.log(n).split('\n').filter((l) => / started: .*replayed \d+ log records?/.test(l));
      expect(starts.length, `${n}: started lines`).to.be.at.least(2);
      expect(starts.at(-1)).to.match(/replayed [1-9]\d* log records?/);
    }
  });
});

function udpSocket(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

/** Sends one datagram and waits until it left (so a burst never overruns a socket buffer). */
function send(socket: Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
}

function countBy(reasons: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reasons) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Counters that grew, and by how much. */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v > (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}
