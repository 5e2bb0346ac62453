// Operating the cluster as a user does: npm start's checks before pm2 starts anything, a second
// npm start, and `pm2 reload ecosystem.config.js` under QUORUM traffic (replicas one at a time,
// each ready before the next stops, no request failing).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { KvClient, KvError } from '../../src/client/client.js';
import type { Key } from '../../src/core/types.js';
import { Cluster, rejection, replicaNames, replicasOf, repoRoot, run, sleep, startJs, waitFor } from './harness.js';

describe('integration: operating the cluster (npm start, pm2 reload)', function () {
  this.timeout(90_000);

  describe('npm start refuses a bad nodes.toml before pm2 starts anything', () => {
    let dir: string;
    before(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-start-')); });
    after(async function () {
      this.timeout(30_000);
      // Should a case start pm2 after all (the failure this test looks for), stop what it started.
      const pm2Home = join(dir, 'pm2');
      if (existsSync(join(pm2Home, 'pm2.pid'))) {
        const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: pm2Home };
        delete env.NODE_OPTIONS;
        await run(process.execPath, [join(repoRoot, 'node_modules/pm2/bin/pm2'), 'kill'], { env, timeoutMs: 20_000 }).catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('a misspelt field, a duplicate port, RF over the node count, a TOML syntax error, a missing file: one line, exit 2, no pm2', async () => {
      const good = readFileSync(join(repoRoot, 'nodes.toml'), 'utf8');
      const cases: [string, string, RegExp][] = [
        ['typo', good.replace(/^down_after_ms/m, 'down_afer_ms'), /^typo\.toml: down_afer_ms: unknown key \(known keys: /],
        ['dup', good.replace('port = 7102', 'port = 7101'), /^dup\.toml: nodes\[1\]: expected a host:port no other node has, got 127\.0\.0\.1:7101 \(also the address of nodes\[0\]\)$/],
        ['rf5', good.replace(/^replication_factor = 3/m, 'replication_factor = 5'), /^rf5\.toml: replication_factor: expected an integer in 1\.\.4 \(at most the number of nodes\), got 5$/],
        ['syntax', good.replace(/^replication_factor = 3/m, 'replication_factor = '), /^syntax\.toml: line \d+, column \d+: invalid TOML: /],
      ];
      const pm2Home = join(dir, 'pm2');
      for (const [name, text, line] of [...cases, ['missing', null, /^missing\.toml: cannot read the cluster config: no such file$/] as const]) {
        const path = join(dir, `${name}.toml`);
        if (text !== null) writeFileSync(path, text);
        const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: pm2Home, KV_CONFIG: path };
        delete env.NODE_OPTIONS;
        const r = await run(process.execPath, [startJs], { env, timeoutMs: 20_000 });
        expect(r.code, name).to.equal(2);
        expect(r.stdout, name).to.equal('');
        expect(r.stderr.split('\n')[0]!.replace(`${dir}/`, ''), name).to.match(line);
        expect(r.stderr, name).to.not.match(/malformated|\n\s+at /);
      }
      expect(existsSync(join(pm2Home, 'pm2.pid')), 'a pm2 daemon was started').to.equal(false);
    });
  });

  describe('on a running cluster', () => {
    let cluster: Cluster;
    before(async function () {
      this.timeout(40_000);
      cluster = await Cluster.start({ metricsPort: true });
    });
    after(async function () {
      this.timeout(30_000);
      await cluster?.teardown();
    });

    it('pm2 start ecosystem.config.js itself refuses a bad nodes.toml with the loader\'s line, not a stack trace', async () => {
      const bad = join(cluster.dir, 'bad.toml');
      writeFileSync(bad, readFileSync(cluster.configPath, 'utf8').replace('replication_factor = 3', 'replication_factor = 5'));
      const r = await cluster.pm2Run(['start', 'ecosystem.config.js'], { KV_CONFIG: bad });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include(`${bad}: replication_factor: expected an integer in 1..4 (at most the number of nodes), got 5\n`);
      expect(`${r.stdout}${r.stderr}`).to.not.match(/malformated|\n\s+at /);
    });

    it("kvc for scripts: `npm run -s kvc` prints only kvc's JSON, and kvc finds KV_CONFIG's cluster from any directory", async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, KV_CONFIG: cluster.configPath, npm_config_update_notifier: 'false' };
      delete env.NODE_OPTIONS;
      const put = await run('npm', ['run', '-s', 'kvc', '--', 'put', '17', 'hello world', '--json'], { env, timeoutMs: 20_000, cwd: repoRoot });
      expect(put.code, put.stderr).to.equal(0);
      expect(JSON.parse(put.stdout)).to.include({ ok: true, key: 17, coordinator: 'replica-1' });
      const elsewhere = await run(process.execPath, [join(repoRoot, 'dist/cli/kvc.js'), '--json'], { env, timeoutMs: 20_000, cwd: tmpdir(), stdin: 'get 17\nget 300\n' });
      const lines = elsewhere.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).to.have.length(2);
      expect(lines[0]).to.include({ ok: true, key: 17, value: 'hello world' });
      expect(lines[1]).to.include({ ok: false, error: 'InvalidRequest' });
      expect(elsewhere.code).to.equal(2);
    });

    it('a second npm start says the cluster runs and restarts nothing', async () => {
      const before = await cluster.processes();
      const r = await cluster.startScript();
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^ringkv is already running under pm2: replica-1 online, replica-2 online, replica-3 online, replica-4 online\. Nothing restarted\./);
      const after = await cluster.processes();
      expect(after.map((p) => [p.name, p.pid])).to.deep.equal(before.map((p) => [p.name, p.pid]));
    });

    it('pm2 reload ecosystem.config.js restarts one replica at a time while QUORUM traffic sees no error', async () => {
      const before = await cluster.processes();
      const client = await cluster.client('replica-1');
      const any = await KvClient.open({ configPath: cluster.configPath, coordinator: 'any' });
      const keys: Key[] = [5, 70, 140, 200, 33, 100, 170, 230];
      for (const k of keys) expect(replicaNames.some((n) => replicasOf(k).includes(n))).to.equal(true);
      const errors: string[] = [];
      const lastPut = new Map<Key, string>();
      let ops = 0;
      let running = true;
      const traffic = (async () => {
        for (let i = 0; running; i++) {
          const key = keys[i % keys.length]!;
          const value = `v${i}`;
          try {
            await any.put(key, value, 'QUORUM');
            lastPut.set(key, value);
            const got = await any.get(key, 'QUORUM');
            if (got.value !== value) errors.push(`get ${key} at QUORUM after put ${value}: ${got.value}`);
            ops += 2;
          } catch (e) {
            errors.push(e instanceof KvError ? `${e.kind}: ${e.message}` : String(e));
          }
        }
      })();
      // At most one replica is down at any moment of the reload.
      let downAtOnceMax = 0;
      const watching = (async () => {
        while (running) {
          const answers = await Promise.all(replicaNames.map((n) => client.status(n).then(() => true, () => false)));
          downAtOnceMax = Math.max(downAtOnceMax, answers.filter((up) => !up).length);
          await sleep(20);
        }
      })();
      try {
        await sleep(300);
        const reload = await cluster.pm2Run(['reload', 'ecosystem.config.js']);
        expect(reload.code, reload.stderr).to.equal(0);
        await sleep(300);
      } finally {
        running = false;
        await traffic;
        await watching;
        await any.close();
      }
      expect(errors, errors.slice(0, 5).join('\n')).to.deep.equal([]);
      expect(ops).to.be.greaterThan(20);
      expect(downAtOnceMax).to.be.at.most(1);
      const after = await cluster.processes();
      for (const p of after) {
        const old = before.find((b) => b.name === p.name)!;
        expect(p.pid, `${p.name} restarted`).to.not.equal(old.pid);
        expect(p.status).to.equal('online');
      }
      await cluster.waitUntilServing();
      for (const [key, value] of lastPut) expect((await client.get(key, 'QUORUM')).value, `key ${key}`).to.equal(value);
    });

    it('each replica reports its figures to pm2 (pm2 jlist), and replica-1 as Prometheus text on its metrics_port', async () => {
      const c = await cluster.client('replica-2');
      await cluster.stop('replica-4');
      try {
        await waitFor('replica-2 to see replica-4 DOWN', async () => !(await cluster.sees('replica-2', 'replica-4')), 5_000);
        // Keys 192..255 live on replica-4, 1, 2: QUORUM succeeds and leaves hints for replica-4; ALL is refused.
        for (let k = 192; k < 202; k++) await c.put(k, `m${k}`, 'QUORUM');
        for (let k = 192; k < 202; k++) await c.get(k, 'QUORUM');
        expect((await rejection(c.put(192, 'x', 'ALL'))).name).to.equal('UnavailableError');
        const m = await waitFor('replica-2\'s figures in pm2 jlist', async () => {
          const r2 = (await cluster.pm2Metrics())['replica-2'];
          return r2 !== undefined && Number(r2['Unavailable answers']) >= 1 && Number(r2['hints pending']) >= 10 ? r2 : false;
        }, 10_000, 250);
        expect(Number(m['put req/s'])).to.be.greaterThan(0);
        expect(Number(m['get req/s'])).to.be.greaterThan(0);
        expect(Number(m['coordinator p99'])).to.be.greaterThan(0);
        expect(m['Timeout answers']).to.equal(0);
        expect(m['peers up']).to.equal(3);
        expect(Number(m['log size'])).to.be.greaterThan(0);

        const text = await (await fetch(`http://127.0.0.1:${cluster.metricsPort}/metrics`)).text();
        expect(text).to.match(/^ringkv_peers_up\{node="replica-1"\} 3$/m);
        expect(text).to.match(/^ringkv_client_requests_total\{kind="status",node="replica-1"\} [1-9]\d*$/m);
      } finally {
        await cluster.start('replica-4');
        await cluster.waitUntilServing();
      }
    });
  });
});

