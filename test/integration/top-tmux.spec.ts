// `kvc top` in a real terminal: tmux (its own server socket, so no session of anyone else is
// touched) runs it against a real cluster. The screen shows four replicas answering and no alarm;
// after `pm2 stop replica-3` it shows replica-3 DOWN as seen by every survivor within a few redraws;
// `q` quits with status 0 and the normal screen back. The tmux server and the cluster are stopped
// even when the test fails.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { Cluster, downAfterMs, sleep } from './harness.js';
import { topRedrawMs } from '../../src/cli/top.js';

function hasTmux(): boolean {
  try { execFileSync('tmux', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe('kvc top in tmux', function () {
  this.timeout(90_000);
  const socket = `ringkv-test-${process.pid}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  let cluster: Cluster | undefined;

  before(async function () {
    if (!hasTmux()) this.skip(); // .ci/run installs it
    cluster = await Cluster.start();
  });
  after(async () => {
    try { tmux('kill-server'); } catch { /* not started, or already gone */ }
    await cluster?.teardown();
  });

  async function screenUntil(what: string, probe: (screen: string) => boolean, timeoutMs: number): Promise<string> {
    const started = Date.now();
    for (;;) {
      const screen = tmux('capture-pane', '-p', '-t', 'top');
      if (probe(screen)) return screen;
      if (Date.now() - started > timeoutMs) throw new Error(`kvc top: timed out after ${timeoutMs} ms waiting for ${what}; the screen:\n${screen}`);
      await sleep(100);
    }
  }

  it('draws the cluster, shows a stopped replica DOWN from every survivor, and quits on q', async () => {
    const argv = cluster!.kvcArgv(['top']).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    // The shell around it prints kvc's exit status on the normal screen and keeps the pane open to read it.
    tmux('new-session', '-d', '-s', 'top', '-x', '140', '-y', '60', `${argv}; echo "kvc top exited with $?"; sleep 600`);
    const healthy = await screenUntil('four replicas answering', (s) => /4 replicas, 4 answered/.test(s), 10_000);
    expect(healthy).to.contain('alarms: none');
    expect(healthy).to.contain('ring: every range has all its replicas up');
    expect(healthy).to.contain('(q quits; redrawn every 1 s)');

    await cluster!.stop('replica-3');
    const down = await screenUntil('replica-3 DOWN', (s) => s.includes('DOWN replica-3: seen DOWN by replica-1, replica-2, replica-4'), 2 * downAfterMs + 3 * topRedrawMs + 5_000);
    expect(down).to.match(/4 replicas, 3 answered; no answer from replica-3/);
    expect(down).to.contain('! replica-3 DOWN (seen by replica-1, replica-2, replica-4)');
    expect(down).to.contain('ring: 3 ranges short of replicas');

    tmux('send-keys', '-t', 'top', 'q');
    const after = await screenUntil('kvc top to quit', (s) => s.includes('kvc top exited with'), 5_000);
    expect(after).to.contain('kvc top exited with 0');
    expect(after, 'the normal screen is back').to.not.contain('who sees whom');
  });
});
