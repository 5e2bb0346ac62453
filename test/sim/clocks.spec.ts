// The two clock incidents, told as scripts on a simulated cluster of four replicas at RF 3 (key 128
// lives on replica-3, replica-4 and replica-1), and a config that differs on one replica.
import { expect } from 'chai';
import { compareStamps } from '../../src/core/hlc.js';
import type { ClientReply, ClientRequest } from '../../src/core/messages.js';
import type { Stamp } from '../../src/core/types.js';
import { SimCluster } from '../../tools/sim/cluster.js';
import { runSeed } from '../../tools/sim/workload.js';

const key = 128;
const [r1, r2, r3, r4] = [0, 1, 2, 3];
const hourMs = 3_600_000;
let nextId = 1;

/** A request's age as a client on the coordinator's own host would give it (the same clock). */
function age(sim: SimCluster, coordinator: number): { sentAtMs: number; deadlineMs: number } {
  const sentAtMs = Math.floor(sim.localNow(coordinator));
  return { sentAtMs, deadlineMs: sentAtMs + 3_000 };
}

function cluster(nodes = 4): SimCluster {
  const sim = new SimCluster({ seed: 7, nodes, replicationFactor: 3 });
  sim.runFor(50);
  return sim;
}

/** A client that carries the newest stamp it was answered with, as KvClient does. */
class StampedClient {
  seen: Stamp | null = null;
  constructor(private readonly sim: SimCluster) {}

  put(coordinator: number, k: number, value: string, level: 'ONE' | 'QUORUM' | 'ALL' = 'QUORUM'): ClientReply | null {
    return this.track(this.sim.request(coordinator, { t: 'put', id: nextId++, key: k, value, level, ...age(this.sim, coordinator), ...this.carried() }));
  }

  get(coordinator: number, k: number): ClientReply | null {
    return this.track(this.sim.request(coordinator, { t: 'get', id: nextId++, key: k, level: 'QUORUM', ...age(this.sim, coordinator), ...this.carried() }));
  }

  private carried(): Pick<ClientRequest & { t: 'get' }, 'seen'> {
    return this.seen === null ? {} : { seen: this.seen };
  }

  private track(reply: ClientReply | null): ClientReply | null {
    if (reply !== null && (reply.t === 'put.ok' || reply.t === 'get.ok') && reply.stamp !== null && (this.seen === null || compareStamps(reply.stamp, this.seen) > 0)) this.seen = reply.stamp;
    return reply;
  }
}

function valueEverywhere(sim: SimCluster, k: number): (string | null | undefined)[] {
  return sim.node(r1).ring.replicasFor(k).map((r) => sim.node(r).store.read(k)?.value);
}

describe('clocks', () => {
  it('a replica 60 s behind: a client\'s later acknowledged write never loses to its earlier one (20 of 20)', () => {
    const sim = cluster();
    // The host came up with its clock a minute behind (a node's clock never runs backwards within a process).
    sim.crash(r4, false);
    sim.setClock(r4, -60_000);
    sim.restart(r4);
    sim.runFor(500);
    let lost = 0;
    let acked = 0;
    for (let i = 0; i < 20; i++) {
      const client = new StampedClient(sim);
      const k = 128 + i; // replicas r3, r4, r1
      expect(client.put(r1, k, `first-${i}`)?.t).to.equal('put.ok');
      const second = client.put(r4, k, `second-${i}`);
      sim.runFor(20);
      if (second?.t !== 'put.ok') {
        // Refused rather than lost: the slow replica says why.
        expect(second?.t).to.equal('fail');
        expect((second as { message: string }).message).to.match(/clock/);
        continue;
      }
      acked++;
      const read = client.get(r2, k);
      if (read?.t !== 'get.ok' || read.value !== `second-${i}`) lost++;
    }
    expect(lost, 'later acknowledged writes lost').to.equal(0);
    // It is the slow replica that knows, and says so in its log and status.
    expect(sim.node(r4).status().clockWarning).to.match(/probably behind/);
    expect(sim.logLines.some((l) => l.includes('replica-4 clock-suspect: CLOCK PROBLEM'))).to.equal(true);
    expect(sim.node(r1).status().peers[r4]).to.deep.include({ clockRefused: true });
    expect(acked + lost).to.be.at.most(20);
  });

  it('with clocks within the bound, a client\'s write through a slower coordinator still wins (the client\'s stamp)', () => {
    const sim = cluster();
    sim.setClock(r1, 240);
    sim.setClock(r4, -240);
    sim.runFor(500);
    for (let i = 0; i < 20; i++) {
      const client = new StampedClient(sim);
      const k = i; // replicas r1, r2, r3: replica-4 coordinates without holding the key, so no replica write moves its clock
      expect(client.put(r1, k, `first-${i}`)?.t).to.equal('put.ok');
      expect(client.put(r4, k, `second-${i}`)?.t).to.equal('put.ok');
      const read = client.get(r2, k);
      expect(read?.t === 'get.ok' && read.value, `key ${k}`).to.equal(`second-${i}`);
    }
  });

  it('a replica 1 h ahead writes at ONE while partitioned: the majority\'s later QUORUM write wins, no clock is dragged, and replay does not re-adopt it', () => {
    const sim = cluster();
    sim.isolate(r3);
    sim.runFor(1_000);
    sim.setClock(r3, hourMs);
    // Partitioned, replica-3 hears no peer and cannot know; its write is acked by itself alone.
    const poisoned = sim.request(r3, { t: 'put', id: nextId++, key, value: 'from the future', level: 'ONE', ...age(sim, r3) });
    expect(poisoned?.t).to.equal('put.ok');
    sim.heal();
    sim.runFor(1_000);
    // The majority refuses its heartbeats, so it is DOWN for them, and it refuses clients itself.
    expect(sim.node(r1).status().peers[r3]).to.deep.include({ up: false, clockRefused: true });
    expect(sim.node(r3).status().clockWarning).to.match(/probably ahead/);
    expect(sim.request(r3, { t: 'get', id: nextId++, key, level: 'ONE', ...age(sim, r3) })).to.deep.include({ t: 'fail', error: 'Unavailable' });
    const refused = sim.request(r3, { t: 'put', id: nextId++, key, value: 'refused', level: 'ONE', ...age(sim, r3) });
    expect(refused?.t === 'fail' && refused.message, 'a write refused for its clock says it was not applied').to.match(/^Unavailable: replica-3: .*\(this put was not applied\)$/);
    const later = sim.request(r1, { t: 'put', id: nextId++, key, value: 'the present', level: 'QUORUM', ...age(sim, r1) });
    expect(later?.t).to.equal('put.ok');
    for (const r of [r1, r2, r4]) {
      const latest = sim.node(r).status();
      expect(latest.clockWarning, sim.config.nodes[r]!.name).to.equal(null);
      expect(sim.node(r).store.read(key)?.value ?? 'none', sim.config.nodes[r]!.name).to.not.equal('from the future');
    }
    expect(sim.logLines.some((l) => /replica-1 clock-skew: peer replica-3's clock is \+\d+ ms from this one's/.test(l))).to.equal(true);
    // Its clock set right (NTP) and the replica restarted: replay keeps the poisoned version out, peers confirm the clock, a snapshot drops it.
    sim.crash(r3, false);
    sim.setClock(r3, 0);
    sim.restart(r3);
    expect(sim.node(r3).store.read(key)?.value ?? 'none').to.not.equal('from the future');
    // The version and the two hints it held for the replicas it could not reach.
    expect(sim.node(r3).status().quarantinedAtReplay).to.equal(3);
    sim.runFor(3_000);
    expect(sim.logLines.some((l) => l.includes('replica-3 clock-skew: a majority of peers agree with this clock'))).to.equal(true);
    // Hinted handoff brings it the present; every replica agrees.
    expect(valueEverywhere(sim, key)).to.deep.equal(['the present', 'the present', 'the present']);
    // A later restart, even an hour later, does not bring the poisoned version back.
    sim.crash(r3, false);
    sim.runFor(10);
    sim.setClock(r3, hourMs + 10_000);
    sim.setClock(r3, 0);
    sim.restart(r3);
    expect(sim.node(r3).store.read(key)?.value).to.equal('the present');
    expect(sim.node(r3).status().quarantinedAtReplay).to.equal(0);
  });

  it('a replica whose heartbeats carry another config digest is shown, and its replica traffic refused', () => {
    const sim = cluster();
    const from = sim.addresses[r2]!;
    const hb = { t: 'hb', from: r2, gen: 9e12, counter: 1, hlc: [sim.now, 0, r2], wall: sim.now, digest: 'deadbeef' };
    sim.inject(r1, from, hb);
    sim.inject(r1, from, { t: 'rw', from: r2, gen: 9e12, id: 1, key: 0, value: 'x', stamp: [sim.now, 0, r2] });
    const status = sim.node(r1).status();
    expect(status.peers[r2]).to.deep.include({ configMismatch: true, up: false });
    expect(status.droppedDatagrams['config-mismatch']).to.equal(1);
    expect(sim.node(r1).store.read(0)).to.equal(undefined);
    expect(sim.logLines.some((l) => l.includes('replica-1 config-mismatch: peer replica-2 runs another config (digest deadbeef'))).to.equal(true);
  });

  it('16 replicas at RF 3 under faults and skewed clocks keep every checker', function () {
    this.timeout(60_000);
    for (const seed of [1, 2, 3]) {
      const r = runSeed({ seed, nodes: 16, replicationFactor: 3, clocks: seed === 3 ? 'bad' : 'skewed' });
      expect(r.failures, r.failures.slice(0, 3).join('\n')).to.deep.equal([]);
      expect(r.stats.acked).to.be.greaterThan(50);
    }
  });
});
