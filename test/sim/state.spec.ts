// The `state` answer and its merged view, on a simulated cluster of four replicas at RF 3 (key 128
// on replica-3, replica-4, replica-1): while replica-3 is down every survivor's view names it DOWN,
// the ranges it holds are short of a replica, and the hints waiting for it are counted where held.
import { expect } from 'chai';
import type { StateReport } from '../../src/core/state.js';
import { mergeStates, type ReplicaAnswer } from '../../src/cli/cluster-state.js';
import { renderTop } from '../../src/cli/top.js';
import { dashboardFrame, historyPoint } from '../../src/cli/dashboard.js';
import { SimCluster } from '../../tools/sim/cluster.js';
import { datagramBytesMax, nodesMax, slowRequestsKeptMax } from '../../src/core/limits.js';
import { Codec } from '../../src/io/codec.js';
import { validate } from '../../src/core/messages.js';
import { newKeyringText, parseKeyring } from '../../src/io/keyring.js';
import { peerKeys } from '../../src/io/keys.js';

const [r1, r2, r3] = [0, 1, 2];
let nextId = 1;

function answers(sim: SimCluster, down: number[]): ReplicaAnswer[] {
  return sim.config.nodes.map((n, i) => {
    if (down.includes(i)) return { name: n.name, state: null, error: `no reply from ${n.name}` };
    const reply = sim.request(i, { t: 'state', id: nextId++ });
    expect(reply?.t, n.name).to.equal('state.ok');
    return { name: n.name, state: (reply as { state: StateReport }).state, error: null };
  });
}

describe('state', () => {
  it('while replica-3 is down: every survivor sees it DOWN, its ranges are short of a replica, the hint for it is counted where it is held', () => {
    const sim = new SimCluster({ seed: 42, nodes: 4, replicationFactor: 3, configOverrides: { slowRequestMs: 1 } });
    sim.runFor(500);
    const before = mergeStates(answers(sim, []), 3, sim.now);
    expect(before.downBy).to.deep.equal({});
    expect(before.ranges.every((r) => r.down.length === 0)).to.equal(true);
    const link = before.replicas[r1]!.state!.links[r2]!;
    expect(link.heartbeatAgeMs).to.be.at.most(sim.config.gossipIntervalMs + 20);

    sim.crash(r3);
    sim.runUntil(() => [r1, r2, 3].every((o) => !sim.node(o).status().peers[r3]!.up), 5_000);
    const put = sim.request(r1, { t: 'put', id: nextId++, key: 128, value: 'v', level: 'QUORUM', sentAtMs: Math.floor(sim.now), deadlineMs: Math.floor(sim.now) + 3_000 });
    expect(put?.t).to.equal('put.ok');
    const view = mergeStates(answers(sim, [r3]), 3, sim.now);
    expect(view.unreachable).to.deep.equal(['replica-3']);
    expect(view.downBy).to.deep.equal({ 'replica-3': ['replica-1', 'replica-2', 'replica-4'] });
    expect(view.views.filter((v) => v.subject === 'replica-3' && v.observer !== 'replica-3').map((v) => v.heartbeatAgeMs! > sim.config.downAfterMs)).to.deep.equal([true, true, true]);
    expect(view.ranges.map((r) => [`${r.first}..${r.last}`, r.down, r.quorumLost])).to.deep.equal([
      ['0..63', ['replica-3'], false], ['64..127', ['replica-3'], false], ['128..191', ['replica-3'], false], ['192..255', [], false],
    ]);
    expect(view.views.find((v) => v.observer === 'replica-1' && v.subject === 'replica-3')!.hintsHeld).to.equal(1);
    expect(view.replicas[r1]!.state!.slow.map((s) => [s.op, s.key])).to.deep.equal([['put', 128]]);

    const text = renderTop(view, 200).split('\n');
    expect(text[0]).to.match(/^ringkv \d\d:\d\d:\d\d  4 replicas, 3 answered; no answer from replica-3$/);
    expect(view.down).to.deep.equal(['replica-3']);
    expect(text.slice(1, 5)).to.deep.equal([
      'ALARMS (2):',
      '  ! replica-3 DOWN (seen by replica-1, replica-2, replica-4)',
      '  ! replica-3 unreachable: no reply from replica-3',
      'ring: 3 ranges short of replicas',
    ]);
    expect(text).to.include('  128..191  replica-3! replica-4  replica-1  short 1');
    const row = (name: string) => text.find((l) => l.startsWith(`  ${name}  `) && /self|DOWN|UP/.test(l))!;
    expect(row('replica-1').split(/\s{2,}/).slice(2, 6).map((c) => c.split(' ')[0])).to.deep.equal(['self', 'UP', 'DOWN', 'UP']);
    expect(row('replica-4').split(/\s{2,}/).slice(2, 6).map((c) => c.split(' ')[0])).to.deep.equal(['UP', 'UP', 'DOWN', 'self']);
    expect(text).to.include('  replica-3  no answer: no reply from replica-3');
    expect(text).to.include('  DOWN replica-3: seen DOWN by replica-1, replica-2, replica-4');
    expect(text.find((l) => l.startsWith('  replica-1  ') && l.includes('hint'))).to.equal(undefined);
    expect(text.find((l) => l.startsWith('  replica-1  ') && l.includes('replica-3 1'))).to.not.equal(undefined);
    expect(text.some((l) => /slow requests/.test(l))).to.equal(true);
    expect(renderTop(view, 40).split('\n').every((l) => l.length <= 40), 'no line wider than asked').to.equal(true);
  });

  it(`the state answer of a ${nodesMax}-replica cluster, every slow request and trace kept, fits one datagram`, () => {
    const sim = new SimCluster({ seed: 1, nodes: nodesMax, replicationFactor: 3, configOverrides: { slowRequestMs: 1, traceProbability: 1 } });
    sim.runFor(300);
    for (let key = 0; key < 2 * slowRequestsKeptMax; key++) {
      sim.request(0, { t: 'put', id: nextId++, key, value: 'v', level: 'ALL', sentAtMs: Math.floor(sim.now), deadlineMs: Math.floor(sim.now) + 3_000 });
    }
    const state = sim.node(0).state();
    expect(state.slow).to.have.length(slowRequestsKeptMax);
    expect(state.slowTrace).to.not.equal(null);
    expect(state.sampledTrace).to.not.equal(null);
    const bytes = new Codec(peerKeys(parseKeyring(newKeyringText(), 'a test keyring'), 0), 60_000).encode({ t: 'state.ok', id: 1, state }).length;
    expect(bytes).to.be.below(datagramBytesMax);
  });

  it('under the hashed partitioner, a slow traced request on a text key is in the state answer kvc reads, key as given', () => {
    const sim = new SimCluster({ seed: 5, nodes: 4, replicationFactor: 3, configOverrides: { partitioner: 'hashed', slowRequestMs: 1, traceProbability: 1 } });
    sim.runFor(300);
    const put = sim.request(0, { t: 'put', id: nextId++, key: 'user:42', value: 'Ada', level: 'ALL', sentAtMs: Math.floor(sim.now), deadlineMs: Math.floor(sim.now) + 3_000 });
    expect(put?.t).to.equal('put.ok');
    const checked = validate({ t: 'state.ok', id: 1, state: sim.node(0).state() });
    if (!checked.ok) expect.fail(`kvc would refuse the state answer: ${checked.reason}`);
    const { state } = checked.msg as { state: StateReport };
    expect(state.slow.map((s) => s.key)).to.deep.equal(['user:42']);
    expect(state.slowTrace?.key).to.equal('user:42');
  });

  it('a range with two of its three replicas down has lost its quorum', () => {
    const sim = new SimCluster({ seed: 3, nodes: 4, replicationFactor: 3 });
    sim.runFor(200);
    sim.crash(r3);
    sim.crash(3);
    sim.runUntil(() => !sim.node(r1).status().peers[r3]!.up && !sim.node(r1).status().peers[3]!.up, 5_000);
    const view = mergeStates(answers(sim, [r3, 3]), 3, sim.now);
    expect(view.ranges.filter((r) => r.quorumLost).map((r) => `${r.first}..${r.last}`)).to.deep.equal(['64..127', '128..191']);
    expect(renderTop(view)).to.contain('2 without a quorum');
  });

  it('a replica only kvc cannot reach (its peers see it UP) is not called DOWN: the alarm says where the problem is', () => {
    const sim = new SimCluster({ seed: 5, nodes: 4, replicationFactor: 3 });
    sim.runFor(500);
    const view = mergeStates(answers(sim, [r3]), 3, sim.now);
    expect(view.unreachable).to.deep.equal(['replica-3']);
    expect(view.down).to.deep.equal([]);
    expect(view.ranges.every((r) => r.down.length === 0)).to.equal(true);
    expect(view.alarms).to.deep.equal(['replica-3 unreachable from here, but UP in its peers\' view: no reply from replica-3']);
  });

  it('replica-3 cut off from its peers but not from kvc: DOWN in the cluster\'s view, answering, and the alarm names the partition', () => {
    const sim = new SimCluster({ seed: 8, nodes: 4, replicationFactor: 3 });
    sim.runFor(500);
    const others = [0, 1, 3].map((i) => sim.addresses[i]!);
    sim.partition([sim.addresses[r3]!], others);
    sim.runUntil(() => [r1, r2, 3].every((o) => !sim.node(o).status().peers[r3]!.up) && !sim.node(r3).status().peers[r1]!.up, 5_000);
    const view = mergeStates(answers(sim, []), 3, sim.now);
    expect(view.unreachable).to.deep.equal([]);
    expect(view.down).to.deep.equal(['replica-3']);
    expect(view.downBy['replica-3']).to.deep.equal(['replica-1', 'replica-2', 'replica-4']);
    expect(view.alarms).to.include('replica-3 alone sees replica-1, replica-2, replica-4 DOWN (a partition?)');
    expect(renderTop(view, 200)).to.contain('! replica-3 alone sees replica-1, replica-2, replica-4 DOWN (a partition?)');
  });

  it('the dashboard\'s frame: errors/s from two polls of the same run, slow requests newest first, and each coordinator\'s slow trace as kvc prints it', () => {
    const sim = new SimCluster({ seed: 42, nodes: 4, replicationFactor: 3, configOverrides: { slowRequestMs: 1 } });
    sim.runFor(500);
    const withFigures = (as: ReplicaAnswer[], errors: number): ReplicaAnswer[] => as.map((a) => (a.state === null ? a : {
      ...a, state: { ...a.state, figures: { requestsPerSecond: { get: 2, put: 3, status: 50 }, errors: { Timeout: errors }, coordinatorP99Ms: 1.5, logWriteP50Ms: null, logWriteP99Ms: null } },
    }));
    const first = mergeStates(withFigures(answers(sim, []), 4), 3, 1_000_000);
    expect(historyPoint(first, null).replicas['replica-1']).to.deep.equal({ req: 5, err: null, p99: 1.5 });

    sim.crash(r3);
    sim.runUntil(() => !sim.node(r1).status().peers[r3]!.up, 5_000);
    const put = sim.request(r1, { t: 'put', id: nextId++, key: 128, value: 'v', level: 'QUORUM', sentAtMs: Math.floor(sim.now), deadlineMs: Math.floor(sim.now) + 3_000, trace: true });
    expect(put?.t).to.equal('put.ok');
    const second = mergeStates(withFigures(answers(sim, [r3]), 10), 3, 1_002_000);
    const point = historyPoint(second, first);
    expect(point.replicas['replica-1']).to.deep.equal({ req: 5, err: 3, p99: 1.5 }); // (10 - 4) errors over 2 s
    expect(point.replicas['replica-3']).to.deep.equal({ req: null, err: null, p99: null });

    const frame = dashboardFrame(second, sim.config);
    expect(frame.slow.map((s) => [s.replica, s.op, s.key, s.level])).to.deep.equal([['replica-1', 'put', '128', 'QUORUM']]);
    expect(frame.traces.map((t) => t.replica)).to.deep.equal(['replica-1']);
    const text = frame.traces[0]!.text;
    expect(text).to.match(/^Tracing session: /);
    expect(text).to.contain('hint stored for replica-3 (it is DOWN)');
    expect(text.trimEnd().split('\n').at(-1)).to.match(/^ Request complete +\| /);
    expect(frame.slow[0]!.session).to.equal(frame.traces[0]!.session);
  });
});
