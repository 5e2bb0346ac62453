// `kvc top` and the dashboard draw the cluster snapshot merged from every replica's status: here the
// statuses of the real Nodes in the simulator, healthy, with a replica crashed (and unreachable from
// the viewer), with hints pending for it, and with a replica the viewer cannot reach but its peers can.
import { expect } from 'chai';
import { mergeSnapshot, type ClusterSnapshot, type PollAnswer } from '../../src/cli/cluster-snapshot.js';
import { renderTop } from '../../src/cli/top-view.js';
import type { StatusReport } from '../../src/core/messages.js';
import { SimCluster } from '../../tools/sim/cluster.js';

let nextId = 1;

function statusOf(sim: SimCluster, node: number): StatusReport {
  const reply = sim.request(node, { t: 'status', id: nextId++ });
  if (reply?.t !== 'status.ok') expect.fail(`no status from node ${node}: ${JSON.stringify(reply)}`);
  return reply.status;
}

function put(sim: SimCluster, coordinator: number, key: number): void {
  const now = Math.floor(sim.localNow(coordinator));
  const reply = sim.request(coordinator, { t: 'put', id: nextId++, key, value: `v${key}`, level: 'QUORUM', sentAtMs: now, deadlineMs: now + 2_000 });
  expect(reply?.t, JSON.stringify(reply)).to.equal('put.ok');
}

/** What a poll sees: the status of every running replica except those in `unreachable`, which answer with an error. */
function poll(sim: SimCluster, previous: ClusterSnapshot | null, unreachable: number[] = []): ClusterSnapshot {
  const answers: PollAnswer[] = sim.config.nodes.map((n, i) => (unreachable.includes(i) || !sim.isRunning(i)
    ? { name: n.name, error: 'NoResponse: no answer within 800 ms' }
    : { name: n.name, status: statusOf(sim, i), pollMs: 0.4 }));
  return mergeSnapshot(sim.config, answers, previous, sim.now);
}

function section(lines: string[], title: string): string[] {
  const start = lines.findIndex((l) => l.startsWith(title));
  expect(start, `no section ${title} in\n${lines.join('\n')}`).to.be.at.least(0);
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

describe('kvc top, drawn from the merged statuses of every replica', () => {
  it('healthy: no alarms, every range ok, everyone sees everyone UP', () => {
    const sim = new SimCluster({ seed: 11, nodes: 4, replicationFactor: 3 });
    sim.runFor(1_000);
    const lines = renderTop(poll(sim, null));
    expect(lines).to.include('ALARMS: none');
    expect(section(lines, 'ring (')).to.deep.equal([
      '  range     replicas                       health',
      '  0..63     replica-1 replica-2 replica-3  ok',
      '  64..127   replica-2 replica-3 replica-4  ok',
      '  128..191  replica-3 replica-4 replica-1  ok',
      '  192..255  replica-4 replica-1 replica-2  ok',
    ]);
    expect(section(lines, 'who sees whom')).to.deep.equal([
      '             replica-1  replica-2  replica-3  replica-4',
      '  replica-1  -          UP         UP         UP',
      '  replica-2  UP         -          UP         UP',
      '  replica-3  UP         UP         -          UP',
      '  replica-4  UP         UP         UP         -',
    ]);
    expect(lines).to.include('hints pending: none');
  });

  it('a replica down and unreachable: marked DOWN from every survivor\'s view, its ranges short, the hints for it counted, rates from the reply counters', () => {
    const sim = new SimCluster({ seed: 12, nodes: 4, replicationFactor: 3 });
    sim.runFor(1_000);
    sim.crash(2);
    sim.runFor(sim.config.downAfterMs * 2);
    const before = poll(sim, null);
    const startMs = sim.now;
    for (const key of [1, 2, 3, 70]) put(sim, 0, key); // 0..63 and 64..127 are replicated on replica-3
    sim.runFor(1_000 - (sim.now - startMs));
    const s = poll(sim, before);
    expect(s.down).to.deep.equal(['replica-3']);
    const lines = renderTop(s, { cols: 200 });
    expect(section(lines, 'ALARMS')).to.deep.equal([
      '  ! replica-3 DOWN (seen by replica-1, replica-2, replica-4)',
      '  ! replica-3 unreachable: NoResponse: no answer within 800 ms',
    ]);
    expect(section(lines, 'ring (')).to.deep.equal([
      '  range     replicas                        health',
      '  0..63     replica-1 replica-2 replica-3*  SHORT (2 of 3 live)',
      '  64..127   replica-2 replica-3* replica-4  SHORT (2 of 3 live)',
      '  128..191  replica-3* replica-4 replica-1  SHORT (2 of 3 live)',
      '  192..255  replica-4 replica-1 replica-2   ok',
    ]);
    const matrix = section(lines, 'who sees whom');
    expect(matrix).to.deep.equal([
      '             replica-1  replica-2  replica-3  replica-4',
      '  replica-1  -          UP         DOWN       UP',
      '  replica-2  UP         -          DOWN       UP',
      '  replica-3  ?          ?          -          ?  unreachable: NoResponse: no answer within 800 ms',
      '  replica-4  UP         UP         DOWN       -',
    ]);
    expect(section(lines, 'hints pending')).to.deep.equal(['  replica-1 -> replica-3: 4 pending']);
    const replicas = section(lines, 'replicas');
    expect(replicas[0]).to.match(/^ {2}name +state +poll ms +req\/s +err\/s +errors +in flight +keys +log$/);
    // replica-1 answered the four puts in the second since the first poll.
    expect(replicas[1]).to.match(/^ {2}replica-1 +UP +0\.4 +4\.0 +0\.0 +0 /);
    expect(replicas[3]).to.match(/^ {2}replica-3 +UNREACHABLE +- +- +- +- /);
  });

  it('two replicas of a range down: no quorum, put up front', () => {
    const sim = new SimCluster({ seed: 13, nodes: 4, replicationFactor: 3 });
    sim.runFor(1_000);
    sim.crash(1);
    sim.crash(2);
    sim.runFor(sim.config.downAfterMs * 2);
    const lines = renderTop(poll(sim, null), { cols: 200 });
    const alarms = section(lines, 'ALARMS');
    expect(alarms.slice(0, 2)).to.deep.equal([
      '  ! range 0..63: no quorum (replica-2, replica-3 DOWN)',
      '  ! range 64..127: no quorum (replica-2, replica-3 DOWN)',
    ]);
    expect(section(lines, 'ring (')[1]).to.equal('  0..63     replica-1 replica-2* replica-3*  NO QUORUM (1 of 3 live)');
  });

  it('a replica its peers see UP but the viewer cannot reach is not called DOWN', () => {
    const sim = new SimCluster({ seed: 14, nodes: 4, replicationFactor: 3 });
    sim.runFor(1_000);
    const s = poll(sim, null, [3]);
    expect(s.down).to.deep.equal([]);
    expect(s.ring.every((r) => r.health === 'ok')).to.equal(true);
    expect(section(renderTop(s, { cols: 200 }), 'ALARMS')).to.deep.equal([
      '  ! replica-4 unreachable from here, but UP in its peers\' view: NoResponse: no answer within 800 ms',
    ]);
  });

  it('shows latency quantiles and slow traces when a replica reports them, and cuts lines to the width', () => {
    const sim = new SimCluster({ seed: 15, nodes: 4, replicationFactor: 3 });
    sim.runFor(1_000);
    const s = poll(sim, null);
    s.replicas[0]!.latency = { p50Ms: 0.31, p99Ms: 2.5 };
    s.replicas[0]!.slowTraces = [{ id: 'abc', summary: 'put 17 QUORUM', elapsedMs: 120.5, atMs: s.atMs - 3_000 }];
    const lines = renderTop(s, { cols: 200 });
    const replicas = section(lines, 'replicas');
    expect(replicas[0]).to.match(/p50 ms +p99 ms/);
    expect(replicas[1]).to.match(/ 0\.31 +2\.50 /);
    expect(replicas[2]).to.match(/^ {2}replica-2 .* - +- /);
    expect(section(lines, 'slow traces')).to.deep.equal(['  replica-1 3 s ago 120.5 ms put 17 QUORUM (abc)']);
    for (const l of renderTop(s, { cols: 40 })) expect(l.length).to.be.at.most(40);
  });
});
