// A restarted replica's wait-out on the virtual clock (core/restart-wait.ts): it tells the runtime
// (pm2's 'ready') only once every write sent from then on is served, reads are served meanwhile,
// and a write its previous process may have stamped is still answered Timeout (scenarios.spec.ts
// keeps the story of that one). Key 128 lives on replica-3, replica-4 and replica-1; replica-2 coordinates it.
import { expect } from 'chai';
import type { ClientReply } from '../../src/core/messages.js';
import { SimCluster } from '../../tools/sim/cluster.js';

const key = 128;
const [r1, r2] = [0, 1];
let nextId = 1;

function cluster(): SimCluster {
  const sim = new SimCluster({ seed: 7, nodes: 4, replicationFactor: 3 });
  sim.runFor(50);
  return sim;
}

/** A client request sent at `sentAtMs` by the client's clock, living 3 s. */
function age(sentAtMs: number): { sentAtMs: number; deadlineMs: number } {
  return { sentAtMs: Math.floor(sentAtMs), deadlineMs: Math.floor(sentAtMs) + 3_000 };
}

/** Crashes replica-2 and starts it again at once; returns the new incarnation's generation (its clock at start). */
function restart(sim: SimCluster): number {
  sim.crash(r2, false);
  sim.restart(r2);
  const started = sim.logLines.findLast((l) => l.includes('replica-2 started:'))!;
  return Number(/generation (\d+)/.exec(started)![1]);
}

describe('sim: a restarted replica is ready only once it serves every write', () => {
  it('a fresh replica is ready at its start; a restarted one after 2 × max_clock_skew_ms, with status counting down and the wait logged', () => {
    const sim = cluster();
    const skew = sim.config.maxClockSkewMs;
    expect(sim.servingSince(r2), 'a fresh data dir: ready at start').to.equal(sim.options.startMs);
    expect(sim.node(r2).status().writesServedInMs).to.equal(0);

    const generation = restart(sim);
    expect(sim.servingSince(r2), 'not ready at start').to.equal(null);
    expect(sim.node(r2).status().writesServedInMs).to.equal(2 * skew);
    const starting = sim.logLines.find((l) => l.includes('replica-2 starting:'))!;
    expect(starting).to.include(`serves writes in ${2 * skew} ms (2 × max_clock_skew_ms ${skew})`);
    expect(starting).to.include(`writes sent before ${generation + skew} (its start + the clock bound) may have reached its previous process`);

    sim.runFor(skew);
    expect(sim.servingSince(r2)).to.equal(null);
    expect(sim.node(r2).status().writesServedInMs).to.be.within(skew - 10, skew);
    sim.runUntil(() => sim.servingSince(r2) !== null, 2 * skew);
    expect(sim.servingSince(r2)! - generation, 'ready at the first tick past the wait').to.be.within(2 * skew, 2 * skew + sim.options.tickMs);
    expect(sim.node(r2).status().writesServedInMs).to.equal(0);
    expect(sim.logLines.some((l) => /replica-2 serving: serving writes, \d+ ms after the start of generation/.test(l))).to.equal(true);
    sim.runFor(2 * skew);
    expect(sim.logLines.filter((l) => l.includes('replica-2 serving:')), 'once per process').to.have.length(1);
  });

  it('during the wait reads are answered, a write from a clock ahead is served by its retransmission after it, stamped past the bound', () => {
    const sim = cluster();
    const skew = sim.config.maxClockSkewMs;
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'before', level: 'QUORUM', ...age(sim.now) }), 'put.ok');
    const generation = restart(sim);
    sim.runFor(50);

    const got = ok(sim.request(r2, { t: 'get', id: nextId++, key, level: 'QUORUM', ...age(sim.now) }), 'get.ok');
    expect(got.value).to.equal('before');

    // A client whose clock runs the whole bound ahead: sent "after" the wait-out's start, arriving within it.
    const replies: ClientReply[] = [];
    const client = '127.0.0.4:4200';
    sim.addClient(client, (r) => replies.push(r));
    const ahead = { t: 'put' as const, id: nextId++, key, value: 'from a fast clock', level: 'QUORUM' as const, ...age(generation + skew + 20) };
    sim.clientSend(client, r2, ahead);
    sim.runFor(100);
    expect(replies, 'no answer while writes are not stamped: neither stamped nor refused').to.deep.equal([]);
    expect(sim.node(r2).status().droppedDatagrams.starting).to.equal(1);
    sim.runUntil(() => sim.now >= generation + skew, 2 * skew);
    sim.clientSend(client, r2, ahead); // its retransmission, after the wait-out
    sim.runUntil(() => replies.length > 0, 1_000);
    const put = ok(replies[0]!, 'put.ok');
    expect(put.stamp[0], 'stamped after every stamp the previous process could make').to.be.at.least(generation + skew);
    expect(sim.servingSince(r2), 'served before ready: ready waits for slow clocks').to.equal(null);
  });

  it('once ready, a write sent by a clock the whole bound behind is served; one sent before the restart is still answered Timeout', () => {
    const sim = cluster();
    const skew = sim.config.maxClockSkewMs;
    const before = age(sim.now); // sent before the restart, and (say) lost on its way
    restart(sim);
    sim.runUntil(() => sim.servingSince(r2) !== null, 3 * skew);
    const behind = ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'slow clock', level: 'QUORUM', ...age(sim.now - skew) }), 'put.ok');
    expect(behind.coordinator).to.equal('replica-2');
    const same = ok(sim.request(r2, { t: 'del', id: nextId++, key: 0, level: 'ALL', ...age(sim.now) }), 'del.ok');
    expect(same.coordinator).to.equal('replica-2');
    const old = sim.request(r2, { t: 'put', id: nextId++, key, value: 'maybe stamped before', level: 'QUORUM', ...before });
    expect(old).to.deep.include({ t: 'fail', error: 'Timeout' });
    expect((old as { message: string }).message).to.match(/^Timeout: replica-2 restarted .* may or may not have been applied/);
    expect(sim.node(r1).store.read(key)?.value).to.equal('slow clock');
  });

  it('after a clean stop the wait counts from the stop: stopped longer than 2 × the bound, it is ready at start; a write sent before the stop is still refused', () => {
    const sim = cluster();
    const skew = sim.config.maxClockSkewMs;
    const beforeStop = age(sim.now);
    sim.stopCleanly(r2);
    const stoppedAt = sim.now;
    sim.runFor(300);
    sim.restart(r2);
    expect(sim.node(r2).status().writesServedInMs, 'counted from the stop').to.equal(Math.ceil(stoppedAt) + 1 + 2 * skew - Math.floor(sim.now));
    expect(sim.logLines.findLast((l) => l.includes('replica-2 starting:'))).to.include(`its previous process's clean stop at ${Math.ceil(stoppedAt)}`);
    sim.runUntil(() => sim.servingSince(r2) !== null, 3 * skew);
    expect(sim.servingSince(r2)! - stoppedAt).to.be.within(2 * skew, 2 * skew + sim.options.tickMs + 1);
    const old = sim.request(r2, { t: 'put', id: nextId++, key, value: 'sent before the stop', level: 'QUORUM', ...beforeStop });
    expect((old as { message?: string }).message).to.match(/^Timeout: replica-2 restarted .* may or may not have been applied/);

    sim.stopCleanly(r2);
    sim.runFor(2 * skew + 10);
    sim.restart(r2);
    expect(sim.servingSince(r2), 'stopped longer than the wait: ready at once').to.equal(sim.now);
    expect(sim.node(r2).status().writesServedInMs).to.equal(0);
    ok(sim.request(r2, { t: 'put', id: nextId++, key, value: 'at once', level: 'QUORUM', ...age(sim.now) }), 'put.ok');
    // A crash records no stop: the next start waits from its own start.
    sim.crash(r2, false);
    sim.runFor(2 * skew + 10);
    sim.restart(r2);
    expect(sim.node(r2).status().writesServedInMs).to.equal(2 * skew);
  });
});

function ok<T extends ClientReply['t']>(reply: ClientReply | null, t: T): Extract<ClientReply, { t: T }> {
  expect(reply, 'a reply').to.not.equal(null);
  expect(reply!.t, JSON.stringify(reply)).to.equal(t);
  return reply as Extract<ClientReply, { t: T }>;
}
