// Ready means serving, on real processes under pm2: a restarted replica tells pm2 'ready' only
// once every write sent from then on is served (core/restart-wait.ts). `pm2 restart` then writing
// through it at once, a put in flight across its restart, and `npm run reload` under QUORUM load
// from clients pinned to each replica, with pm2's own events saying when it counted each one up.
import type { Socket } from 'node:dgram';
import { join } from 'node:path';
import { expect } from 'chai';
import { KvClient, KvError } from '../../src/client/client.js';
import type { ClientReply, Message } from '../../src/core/messages.js';
import type { Key, Stamp } from '../../src/core/types.js';
import { Codec } from '../../src/io/codec.js';
import { loadCredential } from '../../src/io/credentials.js';
import { clientKeys } from '../../src/io/keys.js';
import { Cluster, rawSocket, replicaNames, replicasOf, sleep, waitFor, type Pm2Event, type ReplicaName } from './harness.js';

/** The refusal of a write the previous process may have stamped (coordinator.ts): it may have been applied. */
const maxClockSkewMs = 1_500;
const mayHaveRunBeforeRestart = / restarted \(generation \d+\) after this (put|del) may have reached its previous process; it may or may not have been applied/;

describe('integration: a restarted replica is ready only once it serves writes', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  const paused = new Set<number>();
  const sockets: Socket[] = [];

  before(async function () {
    this.timeout(40_000);
    // A wait-out of 3 s from the stop (2 × the bound) leaves a one-shot kvc the time to start and show it.
    cluster = await Cluster.start({ maxClockSkewMs });
  });

  after(async function () {
    this.timeout(30_000);
    for (const pid of paused) process.kill(pid, 'SIGCONT');
    for (const s of sockets) s.close();
    await cluster?.teardown();
  });

  it('pm2 restart replica-2 returns once it serves writes: kvc status said "starting" meanwhile, and twenty QUORUM puts through it at once all succeed', async () => {
    const c = await cluster.client('replica-2');
    await c.put(1, 'before the restart', 'QUORUM');
    const restarted = cluster.pm2('restart', 'replica-2');
    // The new process answers status from its start; it serves writes 2 × max_clock_skew_ms later.
    await waitFor('replica-2 to be in its wait-out', async () => (await cluster.status('replica-2')).writesServedInMs > 0, 20_000, 20);
    const shown = await cluster.kvc(['status', '--coordinator', 'replica-2']);
    expect(shown.stdout.split('\n')[1]).to.match(/^starting: serves writes in \d+ ms \(restarted: /);
    await restarted;
    expect((await cluster.status('replica-2')).writesServedInMs, 'pm2 restart returned before the wait-out ended').to.equal(0);

    const keys = Array.from({ length: 20 }, (_, i) => (i * 13) % 256);
    const results = await Promise.allSettled(keys.map((k) => c.put(k, `after the restart ${k}`, 'QUORUM')));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failed, failed.join('\n')).to.deep.equal([]);
    for (const r of results) if (r.status === 'fulfilled') expect(r.value.coordinator).to.equal('replica-2');
    const log = cluster.log('replica-2');
    expect(log).to.include(`(2 × max_clock_skew_ms ${maxClockSkewMs})`);
    expect(log).to.match(/starting: restarted: serves writes in \d+ ms \(2 × max_clock_skew_ms \d+\): writes sent before \d+ \(its previous process.s clean stop at \d+ \+ the clock bound\)/);
    expect(log).to.match(/serving: serving writes, \d+ ms after the start of generation \d+/);
  });

  it('a put in flight to replica-2 across its restart (killed, restarted by pm2; sent before, retransmitted after) is answered Timeout and applied once', async () => {
    const key: Key = 128; // on replica-3, replica-4 and replica-1: replica-2 only coordinates it
    expect(replicasOf(key)).to.deep.equal(['replica-3', 'replica-4', 'replica-1']);
    const codec = new Codec(clientKeys(loadCredential(join(cluster.dir, 'data', 'credentials'))), 60_000);
    const client = await rawSocket(codec);
    sockets.push(client.socket);
    const port = cluster.ports[1]!;
    const procs = await cluster.processes();
    const pidOf = (name: ReplicaName) => procs.find((p) => p.name === name)!.pid;
    const oldPid = pidOf('replica-2');
    const sentAtMs = Date.now();
    const put: Message = { t: 'put', id: 2_222, key, value: 'in flight across the restart', level: 'QUORUM', sentAtMs, deadlineMs: sentAtMs + 20_000 };
    const datagram = codec.encode(put);
    try {
      // The replicas hold the fan-out unread until the old process is killed, so it stamps the put
      // and never hears an ack; pm2 restarts it. Resumed at once after the kill, the replicas take
      // the fan-out: a pause much longer would make the heartbeats queued with it look stale (the
      // clock of replica-2 "behind" by the pause) and the fan-out would be refused.
      for (const name of replicasOf(key)) { process.kill(pidOf(name), 'SIGSTOP'); paused.add(pidOf(name)); }
      client.socket.send(datagram, port, '127.0.0.1');
      await sleep(100);
      process.kill(oldPid, 'SIGKILL');
    } finally {
      for (const pid of paused) process.kill(pid, 'SIGCONT');
      paused.clear();
    }
    await sleep(100);
    expect(client.replies, 'answered before the restart').to.deep.equal([]);
    await waitFor('pm2 to restart replica-2 and count it up', async () => {
      const p = (await cluster.processes()).find((x) => x.name === 'replica-2');
      return p !== undefined && p.status === 'online' && p.pid > 0 && p.pid !== oldPid;
    }, 20_000, 100);
    // A client's retransmission: the same request (id, sentAtMs), sealed anew under the next counter, as
    // KvClient sends it (the same bytes again would be refused as a duplicate by the replay window).
    client.socket.send(codec.encode(put), port, '127.0.0.1');
    const answer = await waitFor('the new process to answer the retransmission', () => client.replies[0], 10_000);
    expect(answer).to.deep.include({ t: 'fail', error: 'Timeout' });
    expect((answer as Extract<ClientReply, { t: 'fail' }>).message).to.match(mayHaveRunBeforeRestart);

    // The replicas took the old process's fan-out: the put landed, stamped once.
    const reader = await cluster.client('replica-1');
    const stamps = await waitFor('every replica of key 128 to hold the put', async () => {
      const held = await Promise.all(replicasOf(key).map((r) => reader.local(key, r)));
      return held.every((h) => h.value === 'in flight across the restart') ? held.map((h) => h.stamp) : false;
    }, 10_000, 100);
    expect(new Set(stamps.map((s) => JSON.stringify(s))).size, 'one stamp on every replica').to.equal(1);
    const stamp = stamps[0] as Stamp;
    expect(stamp[0], 'stamped by the old process, before the kill').to.be.below(sentAtMs + 100);

    client.socket.send(codec.encode(put), port, '127.0.0.1'); // retransmitted once more: the same answer, nothing stamped
    await waitFor('the answer to the second retransmission', () => client.replies[1], 10_000);
    expect(client.replies[1]).to.deep.equal(answer);
    await sleep(500);
    for (const r of replicasOf(key)) expect((await reader.local(key, r)).stamp, r).to.deep.equal(stamp);
    const got = await reader.get(key, 'QUORUM');
    expect([got.value, got.stamp]).to.deep.equal(['in flight across the restart', stamp]);
    expect((await cluster.status('replica-2')).droppedDatagrams['before-restart']).to.equal(1);
  });

  it('npm run reload under QUORUM load from clients pinned to each replica: no replica pm2 counts as up refuses a write', async () => {
    await cluster.waitUntilServing();
    const bus = await cluster.pm2Events();
    const clients = await Promise.all(replicaNames.map((n) => KvClient.open({ configPath: cluster.configPath, coordinator: n })));
    const ops: LoadOp[] = [];
    let running = true;
    const load = clients.map(async (c, i) => {
      const coordinator = replicaNames[i]!;
      for (let n = 0; running; n++) {
        const key = (i * 64 + (n % 16) * 4 + 1) % 256; // keys of every range, through one coordinator
        const op: LoadOp = { coordinator, kind: n % 2 === 0 ? 'put' : 'get', sentAtMs: Date.now(), doneAtMs: 0, error: null, message: '' };
        try {
          if (op.kind === 'put') await c.put(key, `${coordinator} ${n}`, 'QUORUM');
          else await c.get(key, 'QUORUM');
        } catch (e) {
          if (!(e instanceof KvError)) throw e;
          op.error = e.kind;
          op.message = e.message;
        }
        op.doneAtMs = Date.now();
        ops.push(op);
        if (op.error !== null) await sleep(20); // a stopped coordinator refuses at once: do not spin
      }
    });
    let reloadStartMs = 0;
    try {
      await sleep(500);
      reloadStartMs = Date.now();
      const reload = await cluster.startScript(['--restart']); // npm run reload, after its build
      expect(reload.code, reload.stderr).to.equal(0);
      expect(reload.stdout).to.match(/^ringkv: 4 replicas serving here/m);
      await sleep(500);
    } finally {
      running = false;
      await Promise.all(load);
      await Promise.all(clients.map((c) => c.close()));
      await bus.close();
    }

    const counts = countByKind(ops, downWindows(bus.events, reloadStartMs));
    console.log(`      reload under load: ${ops.length} requests through 4 pinned coordinators; ${JSON.stringify(counts.summary)}`);
    expect(counts.refusedWhileUp, counts.refusedWhileUp.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(counts.noResponseWhileUp, counts.noResponseWhileUp.slice(0, 5).join('\n')).to.deep.equal([]);
    // Every pinned client was served by its own coordinator after pm2 had counted it up again.
    for (const name of replicaNames) {
      const online = counts.onlineAtMs.get(name);
      expect(online, `pm2 counted ${name} up again`).to.be.a('number');
      expect(ops.some((o) => o.coordinator === name && o.kind === 'put' && o.error === null && o.sentAtMs > online!), `${name} served a put after its reload`).to.equal(true);
    }
  });
});

interface LoadOp { coordinator: ReplicaName; kind: 'put' | 'get'; sentAtMs: number; doneAtMs: number; error: string | null; message: string }

/**
 * When pm2 did not count each replica as up during the reload: from the moment it began to stop it
 * (the previous replica's 'online', as the reload goes one at a time, or the reload's start) to its
 * own 'online' (sent by pm2 on kvd's 'ready').
 */
function downWindows(events: readonly Pm2Event[], reloadStartMs: number): Map<ReplicaName, { fromMs: number; toMs: number }> {
  const windows = new Map<ReplicaName, { fromMs: number; toMs: number }>();
  let fromMs = reloadStartMs;
  for (const e of events) {
    if (e.event !== 'online' || windows.has(e.name)) continue;
    windows.set(e.name, { fromMs, toMs: e.atMs });
    fromMs = e.atMs;
  }
  return windows;
}

/** Every failed request of the load, by what it was: expected while its coordinator was down, or not. */
function countByKind(ops: readonly LoadOp[], windows: Map<ReplicaName, { fromMs: number; toMs: number }>) {
  const summary: Record<string, number> = { ok: 0 };
  const refusedWhileUp: string[] = [];
  const noResponseWhileUp: string[] = [];
  const add = (what: string) => { summary[what] = (summary[what] ?? 0) + 1; };
  for (const o of ops) {
    if (o.error === null) { add('ok'); continue; }
    const w = windows.get(o.coordinator);
    const overlapsDown = w !== undefined && o.sentAtMs <= w.toMs && o.doneAtMs >= w.fromMs;
    const sentWhileDown = w !== undefined && o.sentAtMs >= w.fromMs && o.sentAtMs <= w.toMs;
    const line = `${o.kind} via ${o.coordinator} sent ${o.sentAtMs}, answered ${o.doneAtMs} (down ${w?.fromMs}..${w?.toMs}): ${o.message}`;
    if (o.error === 'NoResponse') {
      if (overlapsDown) add('NoResponse while its coordinator was down');
      else noResponseWhileUp.push(line);
    } else if (sentWhileDown) {
      add(`${o.error} from its coordinator before pm2 counted it up`);
    } else if (overlapsDown && o.error === 'Timeout' && mayHaveRunBeforeRestart.test(o.message)) {
      add('Timeout: in flight across its coordinator\'s restart (may have run)');
    } else {
      refusedWhileUp.push(line);
    }
  }
  return { summary, refusedWhileUp, noResponseWhileUp, onlineAtMs: new Map([...windows].map(([n, w]) => [n, w.toMs])) };
}
