// `kvc ring` and `kvc ring plan` as an operator runs them against a real cluster under pm2.
import { expect } from 'chai';
import { Cluster, downAfterMs, sleep } from './harness.js';

describe('integration: kvc ring and kvc ring plan', function () {
  this.timeout(90_000);
  let cluster: Cluster;
  before(async function () {
    this.timeout(40_000);
    cluster = await Cluster.start();
  });
  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
  });

  it('kvc ring shows epoch 0 with every member, its address, state and ranges; --json the same', async () => {
    const text = await cluster.kvc(['ring']);
    expect(text.code, text.stderr).to.equal(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).to.equal('ring at epoch 0 (the nodes.toml ring), as replica-1 reports it; replication factor 3; no change in flight');
    expect(lines[1]).to.match(new RegExp(`^  replica-1  127\\.0\\.0\\.1:${cluster.ports[0]}\\s+normal   UP    owns 0\\.\\.63; holds 192 slots: 0\\.\\.63, 128\\.\\.255$`));
    const json = await cluster.kvc(['ring', '--json']);
    const ring = JSON.parse(json.stdout) as { ok: boolean; epoch: number; members: { name: string; port: number; owned: { first: number; last: number }[] }[] };
    expect(ring).to.include({ ok: true, epoch: 0 });
    expect(ring.members.map((m) => [m.name, m.port, m.owned])).to.deep.equal(cluster.names.map((n, i) => [n, cluster.ports[i], [{ first: 64 * i, last: 64 * i + 63 }]]));
  });

  it('kvc ring plan join prints the plan and changes nothing; with a member stopped, it names it, and kvc ring asks the next replica', async () => {
    const port = Math.max(...cluster.ports) + 1;
    const planned = await cluster.kvc(['ring', 'plan', 'join', 'replica-5', '--host', '127.0.0.1', '--port', String(port)]);
    expect(planned.code, planned.stderr).to.equal(0);
    expect(planned.stdout).to.match(new RegExp(`^plan: join replica-5 \\(127\\.0\\.0\\.1:${port}\\), based on epoch 0 \\(the nodes\\.toml ring\\), as replica-1 reports it; nothing changes until it is committed$`, 'm'));
    expect(planned.stdout).to.match(/^warnings: none$/m);
    const json = JSON.parse((await cluster.kvc(['ring', 'plan', 'join', 'replica-5', '--host', '127.0.0.1', '--port', String(port), '--json'])).stdout) as { basedOnEpoch: number; copiesTotal: number; commitWouldBeRefused: boolean };
    expect(json).to.include({ basedOnEpoch: 0, commitWouldBeRefused: false });
    expect(json.copiesTotal).to.be.greaterThan(0);
    expect((await cluster.kvc(['ring'])).stdout).to.match(/^ring at epoch 0 /);

    await cluster.stop('replica-1');
    await sleep(downAfterMs * 3);
    const ring = await cluster.kvc(['ring']);
    expect(ring.code, ring.stderr).to.equal(0);
    expect(ring.stdout).to.match(/as replica-2 reports it/);
    expect(ring.stdout).to.match(/^ {2}replica-1 .* DOWN /m);
    const blocked = await cluster.kvc(['ring', 'plan', 'leave', 'replica-2']);
    expect(blocked.code, blocked.stderr).to.equal(0);
    expect(blocked.stdout).to.match(/^WOULD REFUSE COMMIT: replica-1 is DOWN: needed .*to hold each step's epoch before the next$/m);
    const remove = await cluster.kvc(['ring', 'plan', 'remove', 'replica-1', '--json']);
    expect(JSON.parse(remove.stdout)).to.include({ commitWouldBeRefused: false });
    await cluster.start('replica-1');
  });

  it('refuses bad input with one line and exit 2', async () => {
    const unknown = await cluster.kvc(['ring', 'plan', 'leave', 'replica-9']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr.trim()).to.match(/ring plan leave replica-9: replica-9 is not a member \(members: replica-1, replica-2, replica-3, replica-4\)$/);
    const noPort = await cluster.kvc(['ring', 'plan', 'join', 'replica-5', '--host', '127.0.0.1']);
    expect(noPort.code).to.equal(2);
    expect(noPort.stderr).to.match(/Missing required argument: port/);
    // A plan is made whatever its warnings; a remove of a live member says why it would be refused.
    const live = await cluster.kvc(['ring', 'plan', 'remove', 'replica-4']);
    expect(live.code, live.stderr).to.equal(0);
    expect(live.stdout).to.match(/^WOULD REFUSE COMMIT: replica-4 is UP: remove and replace are for a dead member; use leave, which streams its copies from it$/m);
  });
});
