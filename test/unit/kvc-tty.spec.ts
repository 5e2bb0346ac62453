// kvc's shell at a real terminal: a pseudo-terminal from util-linux's `script` (Debian's essential
// bsdutils), keys written as a terminal sends them. The coordinator is a UDP socket that never
// answers, so a get stays in flight until Ctrl-C; nothing else runs.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBootstrapCredential } from '../../src/io/credentials.js';
import { expect } from 'chai';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const kvcJs = join(repoRoot, 'dist/cli/kvc.js');
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('kvc shell in a pseudo-terminal', function () {
  this.timeout(20_000);
  let dir: string;
  let silent: Socket;

  before(async function () {
    if (!hasScript) this.skip(); // no util-linux `script`: the readline-level tests (shell.spec.ts) still run
    dir = mkdtempSync(join(tmpdir(), 'ringkv-tty-'));
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    writeBootstrapCredential(join(dir, 'data', 'credentials'), Buffer.alloc(32, 1)); // nobody answers: any key will do
    writeFileSync(join(dir, 'nodes.toml'), [
      'replication_factor = 1', 'repair_mode = "hinted-handoff"', 'read_repair_blocking = true', 'data_dir = "data"', 'cookie_file = "cookie"',
      'gossip_interval_ms = 200', 'down_after_ms = 1000', 'write_timeout_ms = 5000', 'read_timeout_ms = 5000',
      'max_hint_window_ms = 10800000', 'hint_sweep_interval_ms = 1000', 'anti_entropy_interval_ms = 0', 'value_bytes_max = 1000', 'max_clock_skew_ms = 500',
      `[[nodes]]\nname = "silent"\nhost = "127.0.0.1"\nport = ${silent.address().port}\n`,
    ].join('\n'));
  });

  after(() => {
    if (!hasScript) return;
    silent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Ctrl-C cancels the get in flight and the prompt works after; Ctrl-D leaves with exit 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KV_HISTORY: join(dir, 'history') };
    delete env.NODE_OPTIONS;
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(kvcJs)} --config ${JSON.stringify(join(dir, 'nodes.toml'))}`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let shown = '';
    child.stdout.on('data', (d: Buffer) => { shown += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const waitFor = async (text: string, count = 1) => {
      const until = Date.now() + 10_000;
      while (shown.split(text).length - 1 < count) {
        if (Date.now() > until) throw new Error(`no ${JSON.stringify(text)} on the terminal; it shows: ${JSON.stringify(shown)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await waitFor('kvc silent> ');
      child.stdin.write('get 1\r');
      await waitFor('get 1');
      await new Promise((r) => setTimeout(r, 300)); // in flight: the coordinator never answers
      child.stdin.write('\x03');
      await waitFor('cancelled (Ctrl-C) before silent answered (the request may still run)');
      await waitFor('kvc silent> ', 2);
      child.stdin.write('level one\r');
      await waitFor('level ONE');
      child.stdin.write('\x04');
      expect(await exited).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
