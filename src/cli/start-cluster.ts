#!/usr/bin/env node
// `npm start`: checks nodes.toml, then starts the replicas under pm2 (ecosystem.config.js) and says
// whether each one serves. A cluster already running is left alone unless --restart is given, which
// reloads it one replica at a time. Exit status: 0 serving, 1 a replica did not start, 2 bad config.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../io/config.js';
import { LocalReplicasError, localReplicas } from '../io/local-replicas.js';
import { count } from '../core/text.js';
import { addressOf, type ClusterConfig, type NodeSpec } from '../core/types.js';

const exitOk = 0;
const exitNotServing = 1;
const exitConfigError = 2;
/** Lines of a replica's error log shown when it did not start. */
const errorLogLinesShown = 5;

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pm2Bin = join(packageRoot, 'node_modules/pm2/bin/pm2');

interface Pm2App { name: string; status: string; restarts: number; errorLog: string | undefined }

function pm2(args: string[], opts: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {}): { code: number; stdout: string } {
  const r = spawnSync(process.execPath, [pm2Bin, ...args], {
    cwd: packageRoot, env: opts.env ?? process.env, encoding: 'utf8',
    stdio: ['ignore', opts.quiet === true ? 'pipe' : 'inherit', 'inherit'],
  });
  if (r.error !== undefined) throw r.error;
  return { code: r.status ?? exitNotServing, stdout: r.stdout ?? '' };
}

/** The apps pm2 runs, as `pm2 jlist` reports them (the JSON is its last line; a daemon banner may come first). */
function listApps(): Pm2App[] {
  const { code, stdout } = pm2(['jlist'], { quiet: true });
  const json = stdout.split('\n').findLast((line) => line.startsWith('['));
  if (code !== 0 || json === undefined) throw new Error(`pm2 jlist failed (exit ${code}): ${stdout.trim()}`);
  const list = JSON.parse(json) as { name: string; pm2_env: { status: string; restart_time: number; pm_err_log_path?: string } }[];
  return list.map((p) => ({ name: p.name, status: p.pm2_env.status, restarts: p.pm2_env.restart_time, errorLog: p.pm2_env.pm_err_log_path }));
}

function lastLines(path: string | undefined, n: number): string[] {
  if (path === undefined) return [];
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

function ours(config: ClusterConfig, apps: Pm2App[]): Pm2App[] {
  const names = new Set(config.nodes.map((n) => n.name));
  return apps.filter((a) => names.has(a.name));
}

function main(): number {
  const restart = process.argv.slice(2).includes('--restart');
  const configPath = resolve(packageRoot, process.env.KV_CONFIG ?? 'nodes.toml');
  let config: ClusterConfig;
  try {
    config = loadConfig(configPath);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return exitConfigError;
  }
  // Only the replicas that live on this machine (or KV_NODES): the ecosystem file starts the same ones.
  let here: NodeSpec[];
  try {
    const names = new Set(localReplicas(config.nodes, configPath));
    here = config.nodes.filter((n) => names.has(n.name));
  } catch (e) {
    if (!(e instanceof LocalReplicasError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return exitConfigError;
  }

  const running = ours(config, listApps());
  if (running.length > 0 && !restart) {
    console.log(`ringkv is already running under pm2: ${running.map((a) => `${a.name} ${a.status}`).join(', ')}. Nothing restarted.`);
    console.log('  npm run reload      restart the replicas one at a time (or npm start -- --restart)');
    console.log('  npm stop            remove them from pm2');
    return exitOk;
  }
  if (running.length > 0) {
    // One at a time, each ready before the next stops (see ecosystem.config.js).
    const { code } = pm2(['reload', 'ecosystem.config.js'], { env: { ...process.env, PM2_CONCURRENT_ACTIONS: '1' } });
    if (code !== 0) return code;
  } else {
    const { code } = pm2(['start', 'ecosystem.config.js']);
    if (code !== 0) return code;
  }

  const apps = ours(config, listApps());
  const failed = here.filter((n) => {
    const app = apps.find((a) => a.name === n.name);
    return app === undefined || app.status !== 'online' || (!restart && app.restarts > 0);
  });
  if (failed.length > 0) {
    for (const n of failed) {
      const app = apps.find((a) => a.name === n.name);
      process.stderr.write(`${n.name} did not start (pm2 status ${app?.status ?? 'missing'}); the end of ${app?.errorLog ?? 'its error log'}:\n`);
      for (const line of lastLines(app?.errorLog, errorLogLinesShown)) process.stderr.write(`  ${line}\n`);
    }
    process.stderr.write('Fix the cause, then `npm stop` and `npm start` (npx pm2 logs shows everything).\n');
    return exitNotServing;
  }
  const others = config.nodes.length - here.length;
  console.log(`ringkv: ${count(here.length, 'replica')} serving here (${here.map((n) => `${n.name} ${addressOf(n)}`).join(', ')})` +
    `${others > 0 ? `; ${others} more in ${configPath} run on other machines` : ''}. Try: npm run -s kvc`);
  return exitOk;
}

process.exitCode = main();
