// The ringkv cluster under test: the one already running (nodes.toml, the caller's pm2), or with
// --start a temporary one of its own: nodes.toml copied with other ports and its data dir (keyring and admin credential inside)
// in a temp dir, under its own PM2_HOME, killed and removed at the end whatever happens.
import type { PartitionerName } from '../../src/core/keyspace.js';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvClient } from '../../src/client/client.js';
import { loadConfig } from '../../src/io/config.js';
import type { ClusterConfig, Key, Level } from '../../src/core/types.js';
import { onCleanup } from './cleanup.js';
import type { Target } from './driver.js';
import type { WatchedProcess } from './proc.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pm2Script = join(repoRoot, 'node_modules', 'pm2', 'bin', 'pm2');
const readyTimeoutMs = 30_000;
const readyPollMs = 100;
/** Short deadline for probes (status, local) so a replica that is down is found out quickly. */
export const probeTimeoutMs = 300;

export class Cluster {
  private constructor(
    readonly configPath: string,
    readonly config: ClusterConfig,
    /** PM2_HOME of the pm2 that runs the replicas; undefined: the caller's environment decides. */
    readonly pm2Home: string | undefined,
    readonly temporary: boolean,
  ) {}

  /** The cluster already running; its replicas must answer status. */
  static async existing(configPath: string): Promise<Cluster> {
    const c = new Cluster(configPath, loadConfig(configPath), process.env.PM2_HOME, false);
    await c.waitServing(5_000);
    return c;
  }

  /** Builds, writes a temp nodes.toml from `fromConfigPath` with ports portBase+1.., starts it under a temp PM2_HOME. */
  static async startTemporary(fromConfigPath: string, tempDir: string, portBase: number, log: (line: string) => void, opts: { build?: boolean; partitioner?: PartitionerName } = {}): Promise<Cluster> {
    if (opts.build ?? true) {
      log('npm run build');
      await run('npm', ['run', 'build', '--silent'], { cwd: repoRoot });
    }
    const configPath = join(tempDir, 'nodes.toml');
    const text = rewriteConfig(readFileSync(fromConfigPath, 'utf8'), tempDir, portBase);
    writeFileSync(configPath, opts.partitioner === undefined ? text : withPartitioner(text, opts.partitioner));
    const config = loadConfig(configPath);
    const pm2Home = join(tempDir, 'pm2');
    const cluster = new Cluster(configPath, config, pm2Home, true);
    // Registered before the start, so a start interrupted half way is still undone.
    onCleanup({
      what: `pm2 kill (PM2_HOME=${pm2Home})`,
      run: () => cluster.pm2(['kill']).then(() => undefined),
      runSync: () => { cluster.pm2Sync(['kill']); },
    });
    log(`starting ${config.nodes.length} replicas on ports ${config.nodes.map((n) => n.port).join(', ')} (PM2_HOME=${pm2Home})`);
    await cluster.pm2(['start', join(repoRoot, 'ecosystem.config.js')]);
    await cluster.waitServing(readyTimeoutMs);
    return cluster;
  }

  get names(): string[] {
    return this.config.nodes.map((n) => n.name);
  }

  pm2(args: string[]): Promise<string> {
    return run(process.execPath, [pm2Script, ...args], { cwd: repoRoot, env: this.pm2Env() });
  }

  pm2Sync(args: string[]): void {
    // Only at exit, when nothing asynchronous runs any more.
    spawnSync(process.execPath, [pm2Script, ...args], { cwd: repoRoot, env: this.pm2Env(), stdio: 'ignore', timeout: 20_000 });
  }

  /** pid of each replica, from `pm2 jlist`; empty when pm2 does not run them (then no CPU/RSS figures). */
  async replicaPids(): Promise<WatchedProcess[]> {
    let text: string;
    try {
      text = await this.pm2(['jlist']);
    } catch {
      return [];
    }
    const start = text.indexOf('[');
    if (start < 0) return [];
    let apps: { name?: string; pid?: number; pm2_env?: { status?: string } }[];
    try {
      apps = JSON.parse(text.slice(start)) as typeof apps;
    } catch {
      return [];
    }
    const names = new Set(this.names);
    return apps
      .filter((a) => a.name !== undefined && names.has(a.name) && typeof a.pid === 'number' && a.pid > 0 && a.pm2_env?.status === 'online')
      .map((a) => ({ name: a.name!, pid: a.pid! }));
  }

  /** Each replica's pm2 metrics now (tx2's axm_monitor in `pm2 jlist`), name -> metric -> value; {} without pm2. */
  async replicaMetrics(): Promise<Record<string, Record<string, unknown>>> {
    try {
      const text = await this.pm2(['jlist']);
      const apps = JSON.parse(text.slice(text.indexOf('['))) as { name?: string; pm2_env?: { status?: string; axm_monitor?: Record<string, { value?: unknown }> } }[];
      const names = new Set(this.names);
      return Object.fromEntries(apps.filter((a) => a.name !== undefined && names.has(a.name) && a.pm2_env?.status === 'online')
        .map((a) => [a.name!, Object.fromEntries(Object.entries(a.pm2_env?.axm_monitor ?? {}).map(([k, v]) => [k, v.value]))]));
    } catch {
      return {};
    }
  }

  /** Opens a client bound to one coordinator (default deadline: the config's timeouts + slack). */
  client(coordinator: string, timeoutMs?: number): Promise<KvClient> {
    return KvClient.open({ configPath: this.configPath, coordinator, timeoutMs });
  }

  /** Every replica answers status, sees every peer UP and serves writes (past a restart's wait-out). */
  async waitServing(timeoutMs: number, names = this.names): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let probe: KvClient | null = null;
    let last = '';
    try {
      while (Date.now() < deadline) {
        try {
          // The first replica up writes the keyring and the admin's credential: until then the client cannot even be opened.
          probe ??= await this.client(this.names[0]!, probeTimeoutMs);
        } catch (e) {
          last = e instanceof Error ? e.message : String(e);
          await sleep(readyPollMs);
          continue;
        }
        const client = probe;
        const results = await Promise.allSettled(names.map((n) => client.status(n)));
        const problems: string[] = [];
        results.forEach((r, i) => {
          if (r.status === 'rejected') problems.push(`${names[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
          else {
            for (const p of r.value.peers) if (!p.up) problems.push(`${names[i]} sees ${p.name} DOWN`);
            if (r.value.writesServedInMs > 0) problems.push(`${names[i]} serves writes in ${r.value.writesServedInMs} ms`);
          }
        });
        if (problems.length === 0) return;
        last = problems.join('; ');
        await sleep(readyPollMs);
      }
      throw new Error(`cluster ${this.configPath} not serving within ${timeoutMs} ms: ${last}`);
    } finally {
      await probe?.close();
    }
  }

  /** Bytes of a replica's data dir (WAL segments and snapshots). */
  dataBytes(name: string): number {
    const dir = join(this.config.dataDir, name);
    try {
      return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    } catch {
      return 0;
    }
  }

  /** Lines of a replica's pm2 output log (temp clusters only). */
  logLines(name: string): string[] {
    if (this.pm2Home === undefined) return [];
    try {
      return readFileSync(join(this.pm2Home, 'logs', `${name}-out.log`), 'utf8').split('\n');
    } catch {
      return [];
    }
  }

  private pm2Env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, KV_CONFIG: this.configPath };
    if (this.pm2Home !== undefined) env.PM2_HOME = this.pm2Home;
    return env;
  }
}

/** nodes.toml with every port moved to portBase+1.. and data_dir/cookie_file inside tempDir; comments kept. */
export function rewriteConfig(text: string, tempDir: string, portBase: number): string {
  let next = portBase + 1;
  const quoted = (p: string) => JSON.stringify(p);
  return text
    .replace(/^(\s*port\s*=\s*)\d+/gm, (_, head: string) => `${head}${next++}`)
    .replace(/^(\s*data_dir\s*=\s*).*$/m, (_, head: string) => `${head}${quoted(join(tempDir, 'data'))}`)
    .replace(/^(\s*cookie_file\s*=\s*).*$/m, (_, head: string) => `${head}${quoted(join(tempDir, 'data', 'cookie'))}`);
}

/** nodes.toml with its partitioner line set (added at the top when it has none). */
export function withPartitioner(text: string, partitioner: PartitionerName): string {
  const line = `partitioner = ${JSON.stringify(partitioner)}`;
  return /^\s*partitioner\s*=/m.test(text) ? text.replace(/^\s*partitioner\s*=.*$/m, line) : `${line}\n${text}`;
}

/** Removes the temp dir at the end; registered first, so it runs last. */
export function removeAtCleanup(dir: string): void {
  onCleanup({
    what: `remove ${dir}`,
    run: async () => rmSync(dir, { recursive: true, force: true }),
    runSync: () => rmSync(dir, { recursive: true, force: true }),
  });
}

/** ringkv through KvClient: one client (one UDP socket, many requests in flight) per lane. */
export class RingkvTarget implements Target {
  readonly name = 'ringkv';

  private constructor(
    private readonly cluster: Cluster,
    private readonly clients: KvClient[],
    readonly lanes: readonly string[],
    private readonly readLevel: Level,
    private readonly writeLevel: Level,
    private readonly extraProcesses: WatchedProcess[],
  ) {}

  static async open(cluster: Cluster, coordinators: string[], clientsPerCoordinator: number, readLevel: Level, writeLevel: Level, extraProcesses: WatchedProcess[] = []): Promise<RingkvTarget> {
    const lanes = Array.from({ length: clientsPerCoordinator }, () => coordinators).flat();
    const clients = await Promise.all(lanes.map((c) => cluster.client(c)));
    for (const c of clients) {
      c.checkLevel(readLevel);
      c.checkLevel(writeLevel);
    }
    return new RingkvTarget(cluster, clients, lanes, readLevel, writeLevel, extraProcesses);
  }

  async processes(): Promise<WatchedProcess[]> {
    const extra = new Set(this.extraProcesses.map((p) => p.name));
    return [...(await this.cluster.replicaPids()).filter((p) => !extra.has(p.name)), ...this.extraProcesses]
      .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  }

  read(lane: number, key: Key): Promise<unknown> {
    return this.clients[lane]!.get(key, this.readLevel);
  }

  write(lane: number, key: Key, value: string): Promise<unknown> {
    return this.clients[lane]!.put(key, value, this.writeLevel);
  }

  notes(): Record<string, unknown> {
    const sum = { sent: 0, retransmitted: 0, accepted: 0, duplicates: 0, sendErrors: 0, dropped: {} as Record<string, number> };
    for (const c of this.clients) {
      const k = c.counters;
      sum.sent += k.sent;
      sum.retransmitted += k.retransmitted;
      sum.accepted += k.accepted;
      sum.duplicates += k.duplicates;
      sum.sendErrors += k.sendErrors;
      for (const [why, n] of Object.entries(k.dropped)) sum.dropped[why] = (sum.dropped[why] ?? 0) + n;
    }
    return { client: sum };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a command; resolves with its stdout, rejects with its stderr. */
export function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${[command, ...args].join(' ')} failed: ${err.message}\n${stderr || stdout}`.trim()));
      else resolvePromise(stdout);
    });
  });
}
