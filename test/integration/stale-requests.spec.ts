// Requests that know their age, on real processes: a coordinator paused (SIGSTOP) with a put in its
// socket buffer, and a captured client datagram sent again later. Neither may overwrite a write
// acknowledged after its client gave up. Key 10 lives on replica-1, -2 and -3; replica-4 only
// coordinates it, so pausing replica-4 costs the key no replica.
import { expect } from 'chai';
import type { Socket } from 'node:dgram';
import { join } from 'node:path';
import { NoResponseError } from '../../src/client/client.js';
import type { Message } from '../../src/core/messages.js';
import { Codec } from '../../src/io/codec.js';
import { clientKeys } from '../../src/io/keys.js';
import { loadCredential } from '../../src/io/credentials.js';
import { Cluster, rawSocket, rejection, replicasOf, waitFor, type ReplicaName } from './harness.js';

const key = 10;

describe('integration: stale requests (paused coordinator, replayed datagram)', function () {
  this.timeout(90_000);
  let cluster: Cluster;
  let paused: number | null = null;
  const sockets: Socket[] = [];

  before(async () => {
    cluster = await Cluster.start();
    expect(replicasOf(key)).to.deep.equal(['replica-1', 'replica-2', 'replica-3']);
  });

  after(async () => {
    if (paused !== null) process.kill(paused, 'SIGCONT');
    for (const s of sockets) s.close();
    await cluster?.teardown();
  });

  async function pidOf(name: ReplicaName): Promise<number> {
    const p = (await cluster.processes()).find((x) => x.name === name);
    if (p === undefined || p.pid <= 0) throw new Error(`${name} is not running`);
    return p.pid;
  }

  async function everyReplicaHolds(value: string): Promise<void> {
    const reader = await cluster.client('replica-1');
    for (const r of replicasOf(key)) expect((await reader.local(key, r)).value, r).to.equal(value);
  }

  it('a put to a paused coordinator gets NoResponse; a second client\'s acked write stays after SIGCONT', async () => {
    const pid = await pidOf('replica-4');
    const a = await cluster.client('replica-4', 1_500);
    const b = await cluster.client('replica-1');
    await b.put(key, 'before', 'ALL');

    process.kill(pid, 'SIGSTOP');
    paused = pid;
    const gaveUp = await rejection(a.put(key, 'given up', 'QUORUM'));
    expect(gaveUp).to.be.instanceOf(NoResponseError);
    const acked = await b.put(key, 'acked while replica-4 was paused', 'QUORUM');
    expect(acked.coordinator).to.equal('replica-1');

    process.kill(pid, 'SIGCONT');
    paused = null;
    // replica-4 reads its socket buffer: the put and its retransmissions, all past their deadline.
    const status = await waitFor('replica-4 to refuse the expired put', async () => {
      const s = await cluster.status('replica-4');
      return (s.droppedDatagrams.expired ?? 0) > 0 ? s : false;
    }, 10_000);
    expect(status.clientRequestsInFlight).to.equal(0);
    expect(cluster.log('replica-4')).to.match(/dropped: dropped \d+ datagrams since the last report \(totals: .*expired \d+/);
    const got = await b.get(key, 'QUORUM');
    expect(got.value).to.equal('acked while replica-4 was paused');
    expect(got.stamp).to.deep.equal(acked.stamp);
    await everyReplicaHolds('acked while replica-4 was paused');
  });

  it('a captured client datagram sent again is refused as a duplicate within and after its deadline, and never re-stamped', async () => {
    const codec = new Codec(clientKeys(loadCredential(join(cluster.dir, 'data', 'credentials'))), 60_000);
    const to = cluster.ports[0]!; // replica-1
    const sentAtMs = Date.now();
    const put: Message = { t: 'put', id: 4242, key, value: 'captured', level: 'QUORUM', sentAtMs, deadlineMs: sentAtMs + 3_000 };
    const datagram = codec.encode(put);
    const client = await rawSocket(codec);
    const forger = await rawSocket(codec);
    sockets.push(client.socket, forger.socket);

    client.socket.send(datagram, to, '127.0.0.1');
    const first = await waitFor('the first answer', () => client.replies[0], 5_000);
    expect(first.t).to.equal('put.ok');
    const newer = await (await cluster.client('replica-2')).put(key, 'newer', 'QUORUM');

    // The same datagram again, from its own address and from another: its sender session's replay
    // window has seen its counter, so both are refused unanswered before they are even decoded.
    // (A retransmission is sealed anew, with a new counter, and is answered from the coordinator's cache.)
    const duplicates = async () => (await cluster.status('replica-1')).droppedDatagrams.duplicate ?? 0;
    const before = await duplicates();
    client.socket.send(datagram, to, '127.0.0.1');
    forger.socket.send(datagram, to, '127.0.0.1');
    await waitFor('replica-1 to refuse both copies', async () => (await duplicates()) >= before + 2, 5_000);
    await everyReplicaHolds('newer');

    // After its deadline: refused, unanswered, still nothing written.
    await waitFor('the deadline to pass', () => Date.now() > sentAtMs + 3_000, 10_000);
    client.socket.send(datagram, to, '127.0.0.1');
    await waitFor('replica-1 to refuse the late copy', async () => (await duplicates()) >= before + 3, 5_000);
    expect(client.replies, 'no second answer').to.have.length(1);
    expect(forger.replies).to.deep.equal([]);
    const got = await (await cluster.client('replica-3')).get(key, 'QUORUM');
    expect(got.value).to.equal('newer');
    expect(got.stamp).to.deep.equal(newer.stamp);
    await everyReplicaHolds('newer');
  });
});
