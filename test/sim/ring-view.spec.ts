// `kvc ring` and `kvc ring plan` read the ring from a replica's status: here the status of the real
// Node in the simulator, healthy and with a replica crashed.
import { expect } from 'chai';
import type { StatusReport } from '../../src/core/messages.js';
import { changeFromArgs, planJson, planOf, planText, ringFromStatus, ringJson, ringText } from '../../src/cli/ring-view.js';
import { BadInputError, InvalidRequestError } from '../../src/client/client.js';
import { SimCluster } from '../../tools/sim/cluster.js';

function statusOf(sim: SimCluster, node: number): StatusReport {
  const reply = sim.request(node, { t: 'status', id: 1 });
  if (reply?.t !== 'status.ok') expect.fail(`no status from node ${node}: ${JSON.stringify(reply)}`);
  return reply.status;
}

describe('kvc ring, from a replica\'s status', () => {
  it('shows epoch 0, the nodes.toml ring: every member with its address, state, UP/DOWN and the slots it owns and holds', () => {
    const sim = new SimCluster({ seed: 5, nodes: 4, replicationFactor: 3 });
    sim.runFor(500);
    const live = ringFromStatus(statusOf(sim, 1), sim.config);
    expect(live.reportedBy).to.equal('replica-2');
    expect(ringText(live).split('\n')).to.deep.equal([
      'ring at epoch 0 (the nodes.toml ring), as replica-2 reports it; replication factor 3; no change in flight',
      `  replica-1  ${sim.addresses[0]}  normal   UP    owns 0..63; holds 192 slots: 0..63, 128..255`,
      `  replica-2  ${sim.addresses[1]}  normal   UP    owns 64..127; holds 192 slots: 0..127, 192..255`,
      `  replica-3  ${sim.addresses[2]}  normal   UP    owns 128..191; holds 192 slots: 0..191`,
      `  replica-4  ${sim.addresses[3]}  normal   UP    owns 192..255; holds 192 slots: 64..255`,
      'slots 0..255 are the keys of the default byte-ordered ring; a member owns a range and holds copies of the RF-1 ranges before it',
    ]);
    const json = ringJson(live);
    expect(json).to.deep.include({ ok: true, epoch: 0, replicationFactor: 3, change: null });
    expect((json.members as { name: string; up: boolean }[]).map((m) => [m.name, m.up])).to.deep.equal([['replica-1', true], ['replica-2', true], ['replica-3', true], ['replica-4', true]]);
  });

  it('plans a join against it, and a plan that needs a crashed replica says a commit would be refused, naming it', () => {
    const sim = new SimCluster({ seed: 6, nodes: 4, replicationFactor: 3 });
    sim.runFor(500);
    const join = changeFromArgs({ op: 'join', name: 'replica-5', host: '127.0.0.1', port: 7105 });
    const healthy = ringFromStatus(statusOf(sim, 0), sim.config);
    const p = planOf(healthy, join);
    expect(planJson(healthy, p)).to.deep.include({ ok: true, basedOnEpoch: 0, commitWouldBeRefused: false, copiesTotal: p.copiesTotal });
    const text = planText(healthy, p);
    expect(text).to.match(/^plan: join replica-5 \(127\.0\.0\.1:7105\), based on epoch 0 \(the nodes\.toml ring\), as replica-1 reports it; nothing changes until it is committed$/m);
    expect(text).to.match(/^ {2}replica-5 {2}joining {2} {2}0 -> 153 {2}owns none -> 205\.\.255$/m);
    expect(text).to.match(/^warnings: none$/m);

    sim.crash(3);
    sim.runFor(Math.max(sim.config.downAfterMs * 2, 1_000));
    const degraded = ringFromStatus(statusOf(sim, 0), sim.config);
    expect([...degraded.down]).to.deep.equal(['replica-4']);
    expect(ringText(degraded)).to.match(/replica-4 .* DOWN /);
    const refusedPlan = planText(degraded, planOf(degraded, join));
    expect(refusedPlan).to.match(/^WOULD REFUSE COMMIT: replica-4 is DOWN: needed the source of slots 205\.\.255, to receive slots 52\.\.63, to hold each step's epoch before the next$/m);
    expect(refusedPlan).to.match(/^a commit would be refused \(1 reason above\)$/m);
    // With replica-4 dead, `remove` is the change that fits, and it needs no one else.
    expect(planOf(degraded, changeFromArgs({ op: 'remove', name: 'replica-4' })).warnings.filter((w) => w.blocksCommit)).to.deep.equal([]);
  });

  it('refuses a status it can not read as this ring: another placement, or a member this nodes.toml lacks', () => {
    const sim = new SimCluster({ seed: 8, nodes: 4, replicationFactor: 3 });
    sim.runFor(300);
    const s = statusOf(sim, 0);
    const swapped = { ...s, ring: s.ring.map((r, i) => (i === 0 ? { ...r, replicas: [r.replicas[0]!, r.replicas[2]!, r.replicas[1]!] } : r)) };
    expect(() => ringFromStatus(swapped, sim.config)).to.throw(InvalidRequestError, 'replica-1 reports slots 0..63 on replica-1, replica-3, replica-2, not slot 0 on replica-1, replica-2, replica-3 as the equal-range ring of its members has it');
    const twice = { ...s, ring: s.ring.map((r, i) => (i === 1 ? { ...r, replicas: ['replica-1', ...r.replicas.slice(1)] } : r)) };
    expect(() => ringFromStatus(twice, sim.config)).to.throw(InvalidRequestError, 'replica-1 reports a ring kvc can not read: replica-1 is a member already');
    const fewer = { ...sim.config, nodes: sim.config.nodes.slice(0, 3) };
    expect(() => ringFromStatus(s, fewer)).to.throw(InvalidRequestError, 'replica-1 reports member replica-4, which this nodes.toml does not list: kvc needs the cluster\'s own nodes.toml');
  });

  it('refuses bad words before asking anyone, and a change the ring can not make with its reason', () => {
    expect(() => changeFromArgs({ op: 'join', name: 'replica-5', host: '0.0.0.0', port: 7105 })).to.throw(BadInputError, /--host: expected an IPv4 address or a hostname/);
    expect(() => changeFromArgs({ op: 'join', name: 'replica-5', host: '127.0.0.1', port: Number.NaN })).to.throw(BadInputError, /--port: expected an integer in 1..65535/);
    const sim = new SimCluster({ seed: 7, nodes: 3, replicationFactor: 3 });
    sim.runFor(300);
    const live = ringFromStatus(statusOf(sim, 0), sim.config);
    expect(() => planOf(live, changeFromArgs({ op: 'leave', name: 'replica-7' }))).to.throw(BadInputError, 'ring plan leave replica-7: replica-7 is not a member (members: replica-1, replica-2, replica-3)');
  });
});
