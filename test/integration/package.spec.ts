// ringkv as a dependency: `npm pack` of this repo, installed into a fresh project from the tarball
// (from npm's cache when it has the dependencies), and the README's library example run there
// against a real cluster. The example is read from the README, so the two cannot drift apart.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Cluster, repoRoot, type RunResult } from './harness.js';

const installMs = 120_000;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')}: no exit within ${installMs} ms\n${stderr}`)); }, installMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The js block after the README's library-example marker. */
function readmeExample(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const m = /<!-- library-example:[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (m === null) throw new Error('README.md: no library-example block');
  return m[1]!;
}

describe('integration: the package, installed into another project', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  let dir: string;

  before(async function () {
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'ringkv-consumer-'));
    cluster = await Cluster.start();
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("installs from npm pack, and the README's example runs against the cluster through `import { KvClient } from 'ringkv'`", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false' };
    delete env.NODE_OPTIONS; // mocha's tsx loader must not help the consumer resolve anything
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], repoRoot, env);
    expect(packed.code, packed.stderr).to.equal(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball, packed.stdout).to.be.a('string');

    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(join(app, 'example.mjs'), readmeExample());
    // A consumer written in TypeScript sees the declarations through the package's `types`.
    writeFileSync(join(app, 'typed.ts'), [
      "import { KvClient, UnavailableError, type GetResult } from 'ringkv';",
      'export async function read(c: KvClient): Promise<GetResult> { return c.get(1, \'ONE\'); }',
      'export const isUnavailable = (e: unknown): boolean => e instanceof UnavailableError;',
      '',
    ].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['typed.ts'],
    }));
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tarball!)], app, env);
    expect(installed.code, installed.stderr).to.equal(0);

    const example = await run(process.execPath, ['example.mjs'], app, { ...env, KV_CONFIG: cluster!.configPath });
    expect(example.stderr).to.equal('');
    expect(example.code).to.equal(0);
    expect(example.stdout.trimEnd().split('\n')).to.deep.equal([
      'put 17 acknowledged by a quorum, coordinator replica-1',
      'get 17 = "hello world"',
      'del 17: a get now finds nothing',
      'replica-1 sees 4 of 4 replicas up',
    ]);

    const tsc = await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app, env);
    expect(tsc.code, `${tsc.stdout}${tsc.stderr}`).to.equal(0);
  });
});
