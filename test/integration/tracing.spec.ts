// `--trace --json` on the real cluster, for the stories a trace is for (repair_mode "both", so hints
// and read repair both run; anti-entropy off, so nothing else heals a replica): key 150 and 151
// live on replica-3, replica-4 and replica-1.
import { expect } from 'chai';
import { Cluster, replicasOf, waitFor } from './harness.js';

interface JsonEvent { kind: string; activity: string; source: string; peer?: string; why?: string; n?: number; m?: number; nodes?: string[]; down?: string[] }
interface JsonTrace { session: string; coordinator: string; decision: string; durationUs: number; events: JsonEvent[] }

/** The kinds in order, each with its source and the other party: what the assertions read. */
function steps(t: JsonTrace): string[] {
  return t.events.map((e) => [e.kind, e.source, e.peer ?? ''].filter((x) => x !== '').join(' '));
}

describe('integration: tracing on the real cluster (kvc --trace --json)', function () {
  this.timeout(90_000);
  let cluster: Cluster;

  before(async function () {
    this.timeout(40_000);
    cluster = await Cluster.start({ repairMode: 'both' });
    expect(replicasOf(150)).to.deep.equal(['replica-3', 'replica-4', 'replica-1']);
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
  });

  async function traced(args: string[]): Promise<{ code: number | null; out: Record<string, unknown>; trace: JsonTrace }> {
    const r = await cluster.kvc([...args, '--trace', '--json']);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out.trace, r.stdout).to.be.an('object');
    return { code: r.code, out, trace: out.trace as JsonTrace };
  }

  it('a QUORUM put with replica-3 stopped: the hint stored for it, both writes acked, answered at ack 2; then a read at ALL repairs the stale replica-3', async () => {
    await cluster.stop('replica-3');
    try {
      await waitFor('replica-1 and replica-2 to see replica-3 DOWN', async () => !(await cluster.sees('replica-1', 'replica-3')) && !(await cluster.sees('replica-2', 'replica-3')), 5_000);
      const put = await traced(['put', '150', 'while replica-3 was down', '--cl', 'QUORUM', '--coordinator', 'replica-1']);
      expect(put.code).to.equal(0);
      const t = put.trace;
      expect(steps(t).slice(0, 5)).to.deep.equal(['replicas replica-1', 'stamped replica-1', 'hint replica-1 replica-3', 'sent replica-1 replica-4', 'sent replica-1 replica-1']);
      expect(t.events[0]!.down).to.deep.equal(['replica-3']);
      expect(t.events.filter((e) => e.kind === 'ack').map((e) => e.peer).sort()).to.deep.equal(['replica-1', 'replica-4']);
      for (const r of ['replica-1', 'replica-4']) {
        const own = t.events.filter((e) => e.source === r && ['received', 'applied', 'durable', 'replied'].includes(e.kind)).map((e) => e.kind);
        expect(own, `${r}'s own steps`).to.deep.equal(['received', 'applied', 'durable', 'replied']);
      }
      expect(t.decision).to.equal('answered');
      expect(t.events.at(-1)).to.include({ kind: 'answered', n: 2, m: 2 });
      expect((await cluster.status('replica-1')).peers.find((p) => p.name === 'replica-3')!.hintsPending).to.equal(1);

      // Key 151 written through replica-2, which holds no copy: only its hint knows, and it is stopped before replica-3 returns.
      const put151 = await cluster.kvc(['put', '151', 'only the hint knows', '--cl', 'QUORUM', '--coordinator', 'replica-2', '--json']);
      expect(put151.code, put151.stdout).to.equal(0);
      await cluster.stop('replica-2');
      await cluster.start('replica-3');
      await waitFor('replica-1 to see replica-3 UP', () => cluster.sees('replica-1', 'replica-3'), 10_000);
      const local = JSON.parse((await cluster.kvc(['local', '151', '--node', 'replica-3', '--json'])).stdout) as { found: boolean };
      expect(local.found, 'replica-3 is stale for key 151').to.equal(false);

      const get = await traced(['get', '151', '--cl', 'ALL', '--coordinator', 'replica-1']);
      expect(get.code).to.equal(0);
      expect(get.out).to.include({ found: true, value: 'only the hint knows' });
      const g = get.trace;
      expect(steps(g).slice(0, 4)).to.deep.equal(['replicas replica-1', 'sent replica-1 replica-3', 'sent replica-1 replica-4', 'sent replica-1 replica-1']);
      expect(g.events.filter((e) => e.kind === 'read-reply').map((e) => e.peer).sort()).to.deep.equal(['replica-1', 'replica-3', 'replica-4']);
      expect(steps(g).slice(-8)).to.deep.equal([
        'stale replica-1 replica-3', 'sent replica-1 replica-3', 'received replica-3 replica-1', 'applied replica-3', 'durable replica-3',
        'replied replica-3 replica-1', 'repair-ack replica-1 replica-3', 'answered replica-1',
      ]);
      expect(g.events.find((e) => e.kind === 'sent' && e.why === 'read-repair')?.peer).to.equal('replica-3');
      const healed = JSON.parse((await cluster.kvc(['local', '151', '--node', 'replica-3', '--json'])).stdout) as { value: string };
      expect(healed.value, 'repaired before the answer').to.equal('only the hint knows');
    } finally {
      await cluster.start('replica-3');
      await cluster.start('replica-2');
    }
    await cluster.waitUntilServing();
  });

  it('a put at ALL while replica-4 is paused (seen UP, silent): retransmissions, a hint for it, Timeout with the 2 acks received', async () => {
    const shell = cluster.shell(['--json', '--coordinator', 'replica-1']);
    const pid = (await cluster.processes()).find((p) => p.name === 'replica-4')!.pid;
    try {
      expect(JSON.parse(await shell.send('tracing on'))).to.deep.equal({ ok: true, tracing: true });
      process.kill(pid, 'SIGSTOP');
      const out = JSON.parse(await shell.send('put 152 "nobody home" ALL')) as { ok: boolean; error: string; acks: number; required: number; trace: JsonTrace };
      expect(out).to.include({ ok: false, error: 'Timeout', acks: 2, required: 3 });
      const t = out.trace;
      expect(steps(t).slice(0, 5)).to.deep.equal(['replicas replica-1', 'stamped replica-1', 'sent replica-1 replica-3', 'sent replica-1 replica-4', 'sent replica-1 replica-1']);
      expect(t.events.filter((e) => e.kind === 'ack').map((e) => e.peer).sort()).to.deep.equal(['replica-1', 'replica-3']);
      expect(t.events.some((e) => e.kind === 'resent' && e.peer === 'replica-4'), 'sent again to the silent replica').to.equal(true);
      expect(steps(t).slice(-2)).to.deep.equal(['hint replica-1 replica-4', 'timeout replica-1']);
      expect(t.events.at(-1)!.nodes!.sort()).to.deep.equal(['replica-1', 'replica-3']);
      expect(t.durationUs).to.be.at.least(999_000);
    } finally {
      process.kill(pid, 'SIGCONT');
      await shell.end();
    }
  });

  it('kvc repair --trace: one round per peer, then the decision; the table is printed without --json', async () => {
    const r = await traced(['repair', '--node', 'replica-2']);
    expect(r.code).to.equal(0);
    expect(r.trace.events.filter((e) => e.kind === 'repair-round').map((e) => e.peer).sort()).to.deep.equal(['replica-1', 'replica-3', 'replica-4']);
    expect(r.trace.decision).to.equal('repaired');
    const text = await cluster.kvc(['get', '150', '--coordinator', 'replica-2', '--trace']);
    expect(text.code).to.equal(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).to.match(/^150 = "while replica-3 was down"/);
    expect(lines[2]).to.match(/^Tracing session: [0-9a-f-]{36}$/);
    expect(lines[4]).to.match(/^ activity +\| timestamp +\| source +\| source_elapsed$/);
    expect(lines[6]).to.match(/^ get key 150 at QUORUM from 127\.0\.0\.1:\d+ +\| \d\d:\d\d:\d\d\.\d{6} \| replica-2 \| +0$/);
    expect(lines.filter((l) => l.startsWith(' Request complete'))).to.have.length(1);
  });
});
